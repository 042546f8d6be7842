"""The Alembic migrations build exactly the schema the models describe, on each backend, and downgrade cleanly."""

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import src.models  # noqa: F401  (registers every table)
from src.kernel.db import create_engine, metadata
from src.migrations import downgrade, upgrade
from tests.conftest import BACKENDS, migrated_database


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("backend_name", BACKENDS)
async def test_migrations_match_models(backend_name: str, tmp_path: Path) -> None:
    url = await migrated_database(backend_name, tmp_path, scratch="laocai_test_migrations")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        await asyncio.to_thread(downgrade, url, "base")
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await asyncio.to_thread(upgrade, url)
    finally:
        await engine.dispose()
