"""Helpers of the search API tests: an app of their own (own data dir and index, lifespan running so its jobs and
search log work), built over a real database, with the index built by the code ``laocai reindex`` runs."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from src.kernel.config import Settings
from src.search import indexing
from tests.conftest import TEST_REDIS_URL


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Run ``app``'s startup and shutdown hooks, entered and exited inside one background task (anyio's cancel
    scopes must not cross tasks: STACK-NOTES, "Testing")."""
    started = asyncio.Event()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    async def run() -> None:
        try:
            async with app.lifespan():
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    task = asyncio.create_task(run())
    await started.wait()
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        stop.set()
        await task


def app_settings(backend: str, database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a test app on ``database_url`` with its own data dir (and search index under it). On PostgreSQL
    the jobs go through Redis with a worker in the process, on a queue of their own."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "rate_limit_public": "off",
        "rate_limit_auth": "off",
        "search_reload_seconds": 0.05,
    }
    if backend == "postgresql" and TEST_REDIS_URL:
        # A short sweep period: stopping an in-process SAQ worker waits for its idle timers (up to the sweep period,
        # 60 s by default), which would add a minute to every app these tests stop.
        values.update(
            redis_url=TEST_REDIS_URL,
            worker_in_process=True,
            jobs_queue=f"search-{uuid.uuid4().hex[:8]}",
            jobs_sweep_seconds=1,
        )
    values.update(overrides)
    return Settings(**values)


async def build_index(app: Litestar) -> indexing.RebuildReport:
    """Build ``app``'s search index from its database, as ``laocai reindex`` does."""
    return await indexing.rebuild(app.state.engine, app.state.search_engine)


@contextlib.asynccontextmanager
async def client_of(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on ``app`` through ``ASGITransport`` (requests run concurrently in the test's loop)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
