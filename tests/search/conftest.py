"""Engines for the search contract suite: tantivy always; Meilisearch when ``TEST_MEILI_URL`` is set.

Every engine is filled with the documents of the shipped catalogue, built from the test database by the same code
that ``laocai reindex`` runs.
"""

import importlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from src.kernel.db import create_engine
from src.search.port import SearchDocument, SearchEngine
from src.search.repository import all_documents
from tests.conftest import catalogue_database

TEST_MEILI_URL = os.environ.get("TEST_MEILI_URL", "")
TEST_MEILI_KEY = os.environ.get("TEST_MEILI_KEY") or None
#: The Meilisearch run is listed only when a server is configured; the terminal summary says when it was skipped.
ENGINES = ["tantivy", "meilisearch"] if TEST_MEILI_URL else ["tantivy"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TEST_MEILI_URL:
        terminalreporter.write_line(
            "search contract suite: Meilisearch run SKIPPED (TEST_MEILI_URL is not set); tantivy ran", yellow=True
        )


@pytest.fixture(scope="session")
async def search_database_url(backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue_dir: Path) -> str:
    """A catalogue database of the search tests' own: other suites add properties to the shared one while the
    session runs, which would change facet counts depending on the order tests run in."""
    folder = tmp_path_factory.mktemp(f"search-catalogue-{backend}")
    return await catalogue_database(backend, folder, catalogue_dir, scratch="search_catalogue")


@pytest.fixture(scope="session")
async def catalogue_documents(search_database_url: str) -> list[SearchDocument]:
    engine = create_engine(search_database_url)
    try:
        async with engine.connect() as connection:
            return await all_documents(connection)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def catalogue_counts(search_database_url: str) -> dict[str, dict[str, int]]:
    """Brute-force counts straight from the database: destinations per kind and per commune, communes per unit type."""
    engine = create_engine(search_database_url)
    try:
        async with engine.connect() as connection:
            kinds: dict[str, int] = dict(
                (await connection.execute(text("SELECT kind, count(*) FROM destination GROUP BY kind"))).all()
            )
            units = (await connection.execute(text("SELECT unit_type, count(*) FROM commune GROUP BY unit_type"))).all()
            per_commune = (
                await connection.execute(
                    text(
                        "SELECT code, (SELECT count(*) FROM destination d WHERE d.commune_code = c.code) + 1 "
                        "FROM commune c"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    for unit, count in units:
        kinds[unit] = kinds.get(unit, 0) + count
    return {"kind": {k: int(v) for k, v in kinds.items()}, "commune": {c: int(n) for c, n in per_commune}}


async def open_engine(name: str, folder: Path) -> SearchEngine:
    """A new, empty engine of kind ``name`` (``pytest.skip`` for Meilisearch without ``TEST_MEILI_URL``)."""
    if name == "tantivy":
        from src.search.tantivy_engine import TantivyEngine

        return TantivyEngine(folder / "search", reload_seconds=0.05)
    if not TEST_MEILI_URL:
        pytest.skip("Meilisearch contract run SKIPPED: TEST_MEILI_URL is not set (no server on this machine)")
    meili = importlib.import_module("src.search.meili_engine")
    engine: SearchEngine = meili.MeiliEngine(
        TEST_MEILI_URL, TEST_MEILI_KEY, f"laocai_test_{uuid.uuid4().hex[:12]}", 10.0
    )
    return engine


@pytest.fixture(scope="session", params=ENGINES)
async def search_engine(
    request: pytest.FixtureRequest,
    catalogue_documents: list[SearchDocument],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[SearchEngine]:
    """An engine holding the catalogue's documents (shared by the read-only contract tests)."""
    engine = await open_engine(str(request.param), tmp_path_factory.mktemp("engine"))
    await engine.rebuild(catalogue_documents)
    yield engine
    await engine.close()
