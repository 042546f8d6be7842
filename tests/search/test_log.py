"""The search log (``src/search/log.py``): written in batches off the request path, bounded (drop and count), flushed
on shutdown, off with ``LAOCAI_SEARCH_LOG=false``, and holding no personal data. Real SQLite/PostgreSQL tables
built by the migrations."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.app import create_app
from src.kernel.db import create_engine, utcnow
from src.search.log import LoggedSearch, SearchLogWriter
from src.search.text import normalise
from tests.kernel.auth_support import bearer, login, make_user
from tests.search.support import app_settings, build_index, client_of, lifespan


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def entry(query: str, **overrides: Any) -> LoggedSearch:
    values: dict[str, Any] = {
        "locale": "vi",
        "filters": {"limit": 20},
        "hits": 0,
        "processing_ms": 1.5,
        "engine": "tantivy",
    }
    values.update(overrides)
    return LoggedSearch.of(query, **values)


async def rows(engine: AsyncEngine, query: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT * FROM search_log WHERE query = :q ORDER BY id"), {"q": query})
        return [dict(row._mapping) for row in result]


async def test_entries_are_written_in_batches(engine: AsyncEngine) -> None:
    word = f"batch{uuid.uuid4().hex[:8]}"
    writer = SearchLogWriter(engine, batch_size=500)
    for i in range(1200):
        writer.record(entry(word, hits=i))
    assert writer.pending == 1200
    assert await rows(engine, word) == []  # recording did no I/O
    assert await writer.flush() == 1200
    assert (writer.batches, writer.written, writer.pending) == (3, 1200, 0)
    stored = await rows(engine, word)
    assert [r["hits"] for r in stored] == list(range(1200))


async def test_the_background_writer_flushes_on_its_own_and_on_stop(engine: AsyncEngine) -> None:
    word = f"bg{uuid.uuid4().hex[:8]}"
    writer = SearchLogWriter(engine, interval_seconds=0.05)
    await writer.start()
    try:
        writer.record(entry(word))
        for _ in range(100):
            if await rows(engine, word):
                break
            await asyncio.sleep(0.05)
        assert len(await rows(engine, word)) == 1
        writer.interval_seconds = 3600  # from now on only stop() can write
        await asyncio.sleep(0.1)
        writer.record(entry(word))
        writer.record(entry(word))
    finally:
        await writer.stop()
    assert len(await rows(engine, word)) == 3
    assert writer.pending == 0


async def test_a_full_buffer_drops_and_counts(engine: AsyncEngine) -> None:
    word = f"full{uuid.uuid4().hex[:8]}"
    writer = SearchLogWriter(engine, capacity=10)
    for _ in range(15):
        writer.record(entry(word))
    assert (writer.pending, writer.dropped) == (10, 5)
    await writer.flush()
    assert len(await rows(engine, word)) == 10
    assert writer.stats() == {"enabled": True, "pending": 0, "written": 10, "dropped": 5, "failed": 0}


async def test_a_refused_batch_is_counted_not_retried_forever(tmp_path: Path) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    try:
        writer = SearchLogWriter(broken)
        writer.record(entry("lost"))
        writer.record(entry("lost"))
        assert await writer.flush() == 0
        assert (writer.failed, writer.pending, writer.written) == (2, 0, 0)
    finally:
        await broken.dispose()


async def test_disabled_log_records_nothing(engine: AsyncEngine) -> None:
    writer = SearchLogWriter(engine, enabled=False)
    writer.record(entry("anything"))
    await writer.start()
    await writer.stop()
    assert writer.stats()["pending"] == 0


def test_an_entry_keeps_only_the_normalised_query() -> None:
    logged = entry("  Đèo Ô Quy Hồ!! " + "x" * 500)
    assert logged.query.startswith("deo o quy ho x")
    assert len(logged.query) == 200
    assert logged.created_at.utcoffset() is not None


async def test_the_table_has_no_column_for_personal_data(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        columns = await connection.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("search_log")})
    assert columns == {"id", "query", "locale", "filters", "hits", "processing_ms", "engine", "created_at"}


async def test_searches_through_the_api_are_logged_without_personal_data(
    backend: str, database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    word = f"Zébuaxy{uuid.uuid4().hex[:6]}"
    app = create_app(app_settings(backend, database_url, tmp_path / "data"))
    async with lifespan(app):
        await build_index(app)
        async with client_of(app) as http:
            _user, email = await make_user(app, "tourist")
            headers = {
                **bearer((await login(http, email))["access_token"]),
                "Accept-Language": "fr",
                "X-Forwarded-For": "203.0.113.77",
            }
            params = {"q": f"  {word} Bắc Hà ", "lat": "22.336412", "lon": "103.843781", "kind": "village,market"}
            response = await http.get("/v1/search", params=params, headers=headers)
            assert response.status_code == 200
            total = response.json()["estimated_total"]
            assert (await http.get("/v1/search/suggest", params={"q": word})).status_code == 200
            assert (await http.get("/v1/search", params={"q": word, "kind": "volcano"})).status_code == 422
    # The app's shutdown flushed the buffer.
    stored = await rows(engine, normalise(f"{word} Bắc Hà"))
    assert len(stored) == 1, stored  # the suggestion and the refused request are not logged
    row = stored[0]
    assert row["locale"] == "fr"
    assert row["hits"] == total
    assert row["engine"] == "tantivy"
    filters = row["filters"] if isinstance(row["filters"], dict) else json.loads(row["filters"])
    assert filters == {"kinds": ["market", "village"], "near": {"lat": 22.34, "lon": 103.84}, "limit": 20}
    flat = repr(row)
    for secret in (word, "203.0.113", email, "22.336412", "103.843781", "Bắc"):
        assert secret not in flat


async def test_search_log_setting_turns_it_off(
    backend: str, database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    word = f"offlog{uuid.uuid4().hex[:8]}"
    app = create_app(app_settings(backend, database_url, tmp_path / "data", search_log=False))
    async with lifespan(app):
        await build_index(app)
        async with client_of(app) as http:
            assert (await http.get("/v1/search", params={"q": word})).status_code == 200
        assert app.state.search_log.stats()["enabled"] is False
    assert await rows(engine, word) == []


async def test_the_board_reads_zero_result_queries(
    backend: str, database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex[:8]
    since = utcnow()
    writer = SearchLogWriter(engine)
    for word, hits, times in ((f"nowhere{tag}", 0, 3), (f"nothing{tag}", 0, 1), (f"found{tag}", 4, 5)):
        for _ in range(times):
            writer.record(entry(word, hits=hits))
    # Found nothing only because a filter narrowed it (a far point with a radius): not a gap in the catalogue.
    writer.record(replace(entry(f"nowhere{tag}", hits=0), filters={"near": {"lat": -89.0, "lon": 0.0}, "radius_km": 5}))
    writer.record(replace(entry(f"narrowed{tag}", hits=0), filters={"kinds": ["lake"], "limit": 20}))
    old = entry(f"ancient{tag}")
    writer.record(replace(old, created_at=since - timedelta(days=40)))
    await writer.flush()
    app = create_app(app_settings(backend, database_url, tmp_path / "data"))
    async with lifespan(app), client_of(app) as http:
        _user, email = await make_user(app, "board")
        board = bearer((await login(http, email))["access_token"])
        response = await http.get(
            "/v1/board/search/zero-results", params={"since": since.isoformat(), "limit": 500}, headers=board
        )
        assert response.status_code == 200, response.text
        items = [i for i in response.json()["items"] if i["query"].endswith(tag)]
        assert [(i["query"], i["searches"]) for i in items] == [(f"nowhere{tag}", 3), (f"nothing{tag}", 1)]
        assert all(datetime.fromisoformat(i["last_searched_at"]) >= since for i in items)
        default = await http.get("/v1/board/search/zero-results", params={"limit": 500}, headers=board)
        assert f"ancient{tag}" not in [i["query"] for i in default.json()["items"]]  # older than 30 days
        naive = await http.get("/v1/board/search/zero-results", params={"since": "2026-12-01T00:00:00"}, headers=board)
        assert naive.status_code == 422
        tourist_email = (await make_user(app, "tourist"))[1]
        tourist = bearer((await login(http, tourist_email))["access_token"])
        assert (await http.get("/v1/board/search/zero-results", headers=tourist)).status_code == 403
