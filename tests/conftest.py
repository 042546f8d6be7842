"""Test fixtures: a real database built by the migrations and holding the real catalogue, and the app over it.

Every test that uses ``client`` runs once per backend: SQLite (always) and PostgreSQL + Redis when
``TEST_DATABASE_URL`` / ``TEST_REDIS_URL`` are set (CI sets both). Requests go through httpx's ``ASGITransport``
in the test's own event loop (Litestar's TestClient would serialise them in another thread).
"""

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from src.app import create_app
from src.guide.importer import apply_catalogue, load_catalogue
from src.kernel.config import Settings
from src.kernel.db import create_engine, unit_of_work
from src.kernel.jobs import JobRegistry, PendingJob
from src.kernel.jobs import bind as bind_jobs
from src.migrations import upgrade

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]


async def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema, so the migrations build it from nothing."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def scratch_postgres_url(name: str) -> str:
    """The URL of a database beside ``TEST_DATABASE_URL`` on the same server, created when missing.

    Its name is ``name`` prefixed with the test database's own name, so that suites run against different test
    databases of one server (parallel checkouts) never share a scratch database.
    """
    base = make_url(TEST_DATABASE_URL)
    name = f"{base.database}_{name}"
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


async def migrated_database(backend: str, folder: Path, *, scratch: str | None = None) -> str:
    """A database URL of ``backend`` whose schema was built by running the Alembic migrations.

    ``scratch`` names a separate PostgreSQL database, for tests that must not touch the shared one.
    """
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'test.sqlite3'}"
    else:
        url = await scratch_postgres_url(scratch) if scratch else TEST_DATABASE_URL
        await reset_postgres(url)
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def catalogue_dir() -> Path:
    return Settings().catalogue_dir


@pytest.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue_dir: Path) -> str:
    """A migrated database of ``backend`` holding the shipped catalogue."""
    return await catalogue_database(backend, tmp_path_factory.mktemp(backend), catalogue_dir)


async def catalogue_database(backend: str, folder: Path, catalogue_dir: Path, scratch: str | None = None) -> str:
    """A migrated database of ``backend`` holding the shipped catalogue; ``scratch`` names a PostgreSQL database of
    its own (for tests that edit the catalogue)."""
    url = await migrated_database(backend, folder, scratch=scratch)
    engine = create_engine(url)
    try:
        async with unit_of_work(engine) as session:
            await apply_catalogue(session, load_catalogue(catalogue_dir))
    finally:
        await engine.dispose()
    return url


@pytest.fixture(scope="session")
async def settings(backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    redis_url = TEST_REDIS_URL if backend == "postgresql" else ""
    # The shared app serves hundreds of requests a minute from one address: its rate limits are off. The limits
    # themselves are tested on apps of their own (tests/kernel/test_security.py, tests/test_rate_limit_processes.py).
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=tmp_path_factory.mktemp("data"),
        rate_limit_public="off",
        rate_limit_auth="off",
    )


class RecordedJobs:
    """The job backend of the shared test app, whose lifespan never runs (no worker, no periodic jobs racing the
    tests): jobs committed by its requests are kept in ``sent`` for tests to look at, not run. Tests of the jobs
    themselves use apps of their own with their lifespan (tests/search/test_jobs.py, tests/kernel/test_jobs.py)."""

    def __init__(self, registry: JobRegistry) -> None:
        self.registry = registry
        self.sent: list[PendingJob] = []

    async def send(self, jobs: Iterable[PendingJob]) -> None:
        self.sent.extend(jobs)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    application = create_app(settings)
    recorder = RecordedJobs(application.state.jobs.registry)
    application.state.recorded_jobs = recorder
    bind_jobs(application.state.engine, recorder)
    yield application
    for hook in application.on_shutdown:
        await hook(application)  # type: ignore[call-arg,misc]


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(**settings: str) -> dict[str, str]:
    """The environment for a ``laocai`` subprocess: this one without any ``LAOCAI_*``, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
    env.update({f"LAOCAI_{name.upper()}": value for name, value in settings.items()})
    return env


def stop_process(process: subprocess.Popen[bytes], seconds: float = 15) -> None:
    """SIGTERM ``process`` and wait up to ``seconds`` for it, then kill it."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_ready(base: str, process: subprocess.Popen[bytes], seconds: float) -> httpx.Response | None:
    """Poll ``{base}/health/ready`` until it answers 200, the process exits, or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    ready = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            ready = httpx.get(f"{base}/health/ready", timeout=2)
            if ready.status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return ready
