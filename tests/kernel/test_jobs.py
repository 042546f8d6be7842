"""Background jobs (``src/kernel/jobs.py``): sent only after commit, retried with backoff, periodic jobs once per
period across processes, and at-least-once delivery through a real worker process killed mid-job on real Redis."""

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.kernel.db import create_engine, unit_of_work
from src.kernel.jobs import (
    InProcessRunner,
    Job,
    JobContext,
    JobRegistry,
    JobSystem,
    PeriodicJob,
    RetryPolicy,
    SaqBackend,
    bind,
    claim_period,
    enqueue,
)
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, cli_env, free_port, migrated_database, wait_until_ready
from tests.kernel.jobs_worker import QUICK_EFFECT, SLOW_EFFECT, create_tables

needs_redis = pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="needs TEST_DATABASE_URL and TEST_REDIS_URL"
)


class Recorder:
    """Test-only job handlers that record their calls in memory."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures_left = 0

    async def record(self, ctx: JobContext, **kwargs: Any) -> None:
        self.calls.append({"attempt": ctx.attempt, **kwargs})
        if self.failures_left > 0:
            self.failures_left -= 1
            raise RuntimeError("planned failure")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def runner(engine: AsyncEngine) -> AsyncIterator[tuple[InProcessRunner, Recorder]]:
    recorder = Recorder()
    registry = JobRegistry()
    registry.add(Job("tests.record", recorder.record, RetryPolicy(retries=3, backoff_seconds=0.05, timeout_seconds=2)))
    runner = InProcessRunner(registry, engine, concurrency=2)
    await runner.start()
    bind(engine, runner)
    try:
        yield runner, recorder
    finally:
        bind(engine, None)
        await runner.stop(1)


async def test_a_job_enqueued_in_a_unit_of_work_that_rolls_back_never_runs(
    engine: AsyncEngine, runner: tuple[InProcessRunner, Recorder]
) -> None:
    run, recorder = runner
    with pytest.raises(RuntimeError, match="the request failed"):  # noqa: PT012  (the block is the unit of work)
        async with unit_of_work(engine) as session:
            await (await session.connection()).execute(text("SELECT 1"))
            enqueue(session, "tests.record", n=1)
            raise RuntimeError("the request failed")
    async with unit_of_work(engine) as session:
        enqueue(session, "tests.record", n=2)
        async with session.begin_nested() as savepoint:
            enqueue(session, "tests.record", n=3)  # inside a savepoint that is rolled back: dropped
            await savepoint.rollback()
        assert recorder.calls == []  # nothing is sent before the commit
    await run.drain(5)
    assert recorder.calls == [{"attempt": 1, "n": 2}]


async def test_a_write_failing_after_the_enqueue_sends_nothing(
    engine: AsyncEngine, runner: tuple[InProcessRunner, Recorder]
) -> None:
    run, recorder = runner
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):  # noqa: PT012
        async with unit_of_work(engine) as session:
            enqueue(session, "tests.record", n=1)
            connection = await session.connection()
            insert = text("INSERT INTO periodic_job (name, last_period, failures) VALUES ('dup', 0, 0)")
            await connection.execute(insert)
            await connection.execute(insert)
    await run.drain(5)
    assert recorder.calls == []


async def test_failed_attempts_are_retried_with_backoff_until_the_policy_gives_up(
    engine: AsyncEngine, runner: tuple[InProcessRunner, Recorder]
) -> None:
    run, recorder = runner
    recorder.failures_left = 2
    async with unit_of_work(engine) as session:
        enqueue(session, "tests.record", n=1)
    await run.drain(5)
    assert [c["attempt"] for c in recorder.calls] == [1, 2, 3]
    assert (run.completed, run.failed, run.retried) == (1, 0, 2)
    recorder.calls.clear()
    recorder.failures_left = 5
    async with unit_of_work(engine) as session:
        enqueue(session, "tests.record", n=2)
    await run.drain(5)
    assert [c["attempt"] for c in recorder.calls] == [1, 2, 3]  # retries=3 attempts in total, then failed
    assert run.failed == 1


async def test_an_attempt_past_its_timeout_is_cancelled_and_retried(engine: AsyncEngine) -> None:
    attempts: list[int] = []

    async def slow(ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.sleep(30)

    registry = JobRegistry()
    registry.add(Job("tests.slow", slow, RetryPolicy(retries=2, backoff_seconds=0, timeout_seconds=1)))
    run = InProcessRunner(registry, engine, concurrency=1)
    await run.start()
    try:
        await run.send([_pending("tests.slow")])
        await run.drain(5)
    finally:
        await run.stop(1)
    assert attempts == [1, 2]
    assert (run.completed, run.failed) == (1, 0)


async def test_enqueue_without_a_backend_or_of_an_unknown_job_is_an_error(
    engine: AsyncEngine, runner: tuple[InProcessRunner, Recorder]
) -> None:
    other = create_engine(str(engine.url))
    try:
        async with unit_of_work(other) as session:
            with pytest.raises(RuntimeError, match="no job backend"):
                enqueue(session, "tests.record")
    finally:
        await other.dispose()
    run, recorder = runner
    with pytest.raises(LookupError):
        await run.send([_pending("tests.nobody")])
    async with unit_of_work(engine) as session:
        with pytest.raises(LookupError, match="unknown job"):
            enqueue(session, "tests.nobody")
        with pytest.raises(TypeError):
            enqueue(session, "tests.record", when=object())
    await run.drain(5)
    assert recorder.calls == []


async def test_concurrent_claims_of_a_period_have_exactly_one_winner(database_url: str) -> None:
    # Four engines stand for four processes; each period is claimed by all of them at once.
    engines = [create_engine(database_url) for _ in range(4)]
    name = f"tests.claim.{uuid.uuid4().hex[:8]}"
    try:
        for period in (1_000, 1_060, 1_120):
            wins = await asyncio.gather(*(claim_period(e, name, period) for e in engines))
            assert sum(wins) == 1, wins
        assert not await claim_period(engines[0], name, 1_060)  # an older period never wins again
    finally:
        for e in engines:
            await e.dispose()


async def test_a_periodic_job_on_two_in_process_systems_runs_once_per_period(database_url: str) -> None:
    # Two job systems on one database, as two `laocai serve` processes on the embedded runner would have.
    runs: list[tuple[int | None, int]] = []

    def handler_for(system: int) -> Any:
        async def tick(ctx: JobContext) -> None:
            runs.append((ctx.period, system))

        return tick

    name = f"tests.tick.{uuid.uuid4().hex[:8]}"
    engines = [create_engine(database_url) for _ in range(2)]
    systems = []
    for index, e in enumerate(engines):
        registry = JobRegistry()
        registry.add_periodic(PeriodicJob(name, handler_for(index), cron="* * * * * *"))
        systems.append(JobSystem(registry, e, process_periodic=False))
    try:
        for system in systems:
            await system.start()
        await asyncio.sleep(3.6)
        report = await systems[0].report()
    finally:
        for system in systems:
            await system.stop()
        for e in engines:
            await e.dispose()
    periods = [period for period, _ in runs]
    assert len(periods) >= 2, runs
    assert len(periods) == len(set(periods)), runs
    assert report["periodic"][name]["last_status"] == "ok"
    assert report["periodic"][name]["last_run_at"] is not None


def _pending(name: str) -> Any:
    from src.kernel.jobs import PendingJob

    return PendingJob(name, {}, None, None)


@needs_redis
async def test_on_redis_a_job_is_queued_only_when_its_unit_of_work_commits(tmp_path: Path) -> None:
    url = await migrated_database("postgresql", tmp_path, scratch="jobs_saq")
    engine = create_engine(url)
    registry = JobRegistry()
    registry.add(SLOW_EFFECT)
    backend = SaqBackend(registry, TEST_REDIS_URL, f"test-{uuid.uuid4().hex[:8]}")
    await backend.connect()
    bind(engine, backend)
    try:
        with pytest.raises(RuntimeError, match="rolled back"):  # noqa: PT012
            async with unit_of_work(engine) as session:
                enqueue(session, SLOW_EFFECT, dedup_key="rolled-back", token="a")
                raise RuntimeError("rolled back")
        assert (await backend.counts())["queued"] == 0
        async with unit_of_work(engine) as session:
            enqueue(session, SLOW_EFFECT, dedup_key="committed", token="b")
        assert (await backend.counts())["queued"] == 1
        job = await backend.queue.job("committed")
        assert job is not None
        assert (job.function, job.kwargs, job.retries, job.timeout) == ("tests.slow_effect", {"token": "b"}, 3, 4)
    finally:
        bind(engine, None)
        await _drop_queue(backend.queue.name)
        await backend.disconnect()
        await engine.dispose()


async def _drop_queue(name: str) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(match=f"saq:{name}:*")]
        keys += [k async for k in redis.scan_iter(match=f"saq:job:{name}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def _start_worker(env: dict[str, str], log: Path, *arguments: str) -> subprocess.Popen[bytes]:
    """``laocai worker`` (or the command in ``arguments``) with the test jobs registered, output to ``log``."""
    command = [sys.executable, "-m", "tests.kernel.jobs_worker", *(arguments or ("worker",))]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def _rows(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(sql))).all())


async def _wait_for(engine: AsyncEngine, sql: str, count: int, seconds: float) -> list[Any]:
    deadline = time.monotonic() + seconds
    rows = await _rows(engine, sql)
    while len(rows) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        rows = await _rows(engine, sql)
    return rows


async def _wait_for_log(log: Path, needle: str, count: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text_so_far = await asyncio.to_thread(lambda: log.read_text(errors="replace") if log.exists() else "")
        if text_so_far.count(needle) >= count:
            return True
        await asyncio.sleep(0.1)
    return False


@needs_redis
async def test_a_worker_killed_mid_job_loses_nothing_and_the_effect_happens_once(tmp_path: Path) -> None:
    # A real `laocai worker` on real Redis takes the job, signals that it started, and is SIGKILLed while the job
    # sleeps. A new worker's sweep finds the job abandoned once past its 4 s timeout and runs it again.
    url = await migrated_database("postgresql", tmp_path, scratch="jobs_kill")
    engine = create_engine(url)
    await create_tables(engine)
    queue = f"test-kill-{uuid.uuid4().hex[:8]}"
    env = cli_env(database_url=url, redis_url=TEST_REDIS_URL, jobs_queue=queue, jobs_sweep_seconds="1")
    log = tmp_path / "worker.log"
    registry = JobRegistry()
    registry.add(SLOW_EFFECT)
    backend = SaqBackend(registry, TEST_REDIS_URL, queue)
    await backend.connect()
    bind(engine, backend)
    first = _start_worker(env, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        # Enqueue once the worker is up: SAQ's sweep treats a job it finds in the active list whose status is not
        # yet "active" (the few ms between dequeue and update) as abandoned; at a worker's start both run at once.
        assert await _wait_for_log(log, "Worker starting", 1, 30), log.read_text(errors="replace")
        await asyncio.sleep(1.2)
        async with unit_of_work(engine) as session:
            enqueue(session, SLOW_EFFECT, token="order-1")
        started = await _wait_for(engine, "SELECT attempt, pid FROM job_attempt", 1, 30)
        assert started, log.read_text(errors="replace")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=5)
        assert await _rows(engine, "SELECT key FROM job_effect") == []
        second = _start_worker(env, log)
        effect = await _wait_for(engine, "SELECT key, pid FROM job_effect", 1, 30)
        await asyncio.sleep(1.5)  # room for a duplicate run, if there were one
        effect = await _rows(engine, "SELECT key, pid FROM job_effect")
        attempts = await _rows(engine, "SELECT attempt, pid FROM job_attempt ORDER BY attempt")
    finally:
        for process in (first, second):
            if process is not None:
                _stop(process)
        bind(engine, None)
        await _drop_queue(queue)
        await backend.disconnect()
        await engine.dispose()
    output = log.read_text(errors="replace")
    assert [row[0] for row in effect] == ["order-1"], output
    assert effect[0][1] == second.pid
    assert [a for a, _ in attempts][:2] == [1, 2], attempts  # it ran again after the kill...
    assert attempts[0][1] == first.pid
    assert attempts[1][1] == second.pid
    assert len(effect) == 1  # ...and its effect happened once


@needs_redis
async def test_a_periodic_job_with_two_worker_processes_runs_once_per_period(tmp_path: Path) -> None:
    url = await migrated_database("postgresql", tmp_path, scratch="jobs_tick")
    engine = create_engine(url)
    await create_tables(engine)
    queue = f"test-tick-{uuid.uuid4().hex[:8]}"
    env = cli_env(database_url=url, redis_url=TEST_REDIS_URL, jobs_queue=queue)
    env["TEST_JOBS_TICK"] = "1"  # every second
    log = tmp_path / "workers.log"
    workers = [_start_worker(env, log) for _ in range(2)]
    try:
        runs = await _wait_for(engine, "SELECT period, pid FROM periodic_run", 4, 40)
        runs = await _rows(engine, "SELECT period, pid FROM periodic_run")
    finally:
        for process in workers:
            _stop(process)
        await _drop_queue(queue)
        await engine.dispose()
    output = log.read_text(errors="replace")
    periods = [period for period, _ in runs]
    assert len(periods) >= 4, output
    assert len(periods) == len(set(periods)), runs  # once per period, although two schedulers fire every period
    assert max(periods) - min(periods) >= len(periods) - 1  # distinct seconds: each run knows its own period
    assert output.count("worker ready") == 2, output


async def test_readiness_shows_queue_depth_failures_and_periodic_runs(client: httpx.AsyncClient, app: Any) -> None:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    jobs = body["jobs"]
    on_redis = app.state.redis is not None
    assert jobs["backend"] == ("redis" if on_redis else "in-process")
    # The test app runs no worker on Redis (LAOCAI_WORKER_IN_PROCESS unset): readiness says so.
    assert body["checks"]["jobs"] == ("no worker" if on_redis else "ok")
    assert set(jobs) == {"backend", "queued", "active", "failed", "workers", "periodic"}
    assert all(isinstance(jobs[k], int) for k in ("queued", "active", "failed", "workers"))
    sweep = jobs["periodic"]["kernel.sweep_response_cache"]
    assert sweep == {"scope": "process", "last_run_at": None, "last_status": None, "failures": 0}


async def test_the_response_cache_sweep_drops_expired_entries_of_the_in_process_store(engine: AsyncEngine) -> None:
    from litestar.stores.memory import MemoryStore

    from src.kernel.caching import RESPONSE_CACHE_STORE, SWEEP_RESPONSE_CACHE, FailOpenStore, build_stores

    stores = build_stores(None)
    store = stores.get(RESPONSE_CACHE_STORE)
    assert isinstance(store, FailOpenStore)
    inner = store.inner
    assert isinstance(inner, MemoryStore)
    await store.set("old", b"x", expires_in=1)
    await store.set("new", b"y", expires_in=60)
    await asyncio.sleep(1.1)
    ctx = JobContext(engine=engine, name=SWEEP_RESPONSE_CACHE.name, attempt=1, resources={"stores": stores})
    await SWEEP_RESPONSE_CACHE.handler(ctx)
    assert set(inner._store) == {"new"}  # swept without reading the key again
    assert SWEEP_RESPONSE_CACHE.scope == "process"


async def test_a_process_periodic_job_runs_in_every_process_each_period(database_url: str) -> None:
    runs: list[tuple[int, float]] = []

    def handler_for(system: int) -> Any:
        async def sweep(ctx: JobContext) -> None:
            runs.append((system, time.time()))

        return sweep

    engines = [create_engine(database_url) for _ in range(2)]
    systems = []
    for index, e in enumerate(engines):
        registry = JobRegistry()
        registry.add_periodic(PeriodicJob("tests.local", handler_for(index), cron="* * * * * *", scope="process"))
        systems.append(JobSystem(registry, e))
    try:
        for system in systems:
            await system.start()
        await asyncio.sleep(2.6)
        report = await systems[1].report()
    finally:
        for system in systems:
            await system.stop()
        for e in engines:
            await e.dispose()
    per_system = [sum(1 for s, _ in runs if s == index) for index in range(2)]
    assert all(count >= 2 for count in per_system), runs
    assert report["periodic"]["tests.local"]["last_status"] == "ok"


def test_a_bad_cron_or_a_job_declared_twice_is_refused() -> None:
    async def handler(ctx: JobContext) -> None: ...

    with pytest.raises(ValueError, match="invalid cron"):
        PeriodicJob("tests.bad", handler, cron="every minute")
    registry = JobRegistry()
    registry.add(Job("tests.one", handler))
    with pytest.raises(ValueError, match="declared twice"):
        registry.add(Job("tests.one", handler, RetryPolicy(retries=9)))
    with pytest.raises(ValueError, match="invalid retry policy"):
        RetryPolicy(retries=0)
    assert all(0 <= RetryPolicy(backoff_seconds=2, max_backoff_seconds=5).delay(n) <= 5 for n in range(1, 10))


async def _copy_sqlite(database_url: str, target: Path) -> str:
    """A copy of the SQLite database at ``database_url`` (catalogue included) at ``target``; its URL."""
    source = database_url.removeprefix("sqlite+aiosqlite:///")

    def copy() -> None:
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)

    await asyncio.to_thread(copy)
    return f"sqlite+aiosqlite:///{target}"


@needs_redis
async def test_serve_runs_a_worker_in_process_on_redis_when_asked(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("one run is enough: the job store is Redis, the database only holds the effect")
    url = await _copy_sqlite(database_url, tmp_path / "serve.sqlite3")
    engine = create_engine(url)
    await create_tables(engine)
    queue = f"test-serve-{uuid.uuid4().hex[:8]}"
    env = cli_env(database_url=url, redis_url=TEST_REDIS_URL, jobs_queue=queue, worker_in_process="true")
    port = free_port()
    log = tmp_path / "serve.log"
    registry = JobRegistry()
    registry.add(QUICK_EFFECT)
    saq = SaqBackend(registry, TEST_REDIS_URL, queue)
    await saq.connect()
    bind(engine, saq)
    server = _start_worker(env, log, "serve", "--port", str(port))
    try:
        ready = await asyncio.to_thread(wait_until_ready, f"http://127.0.0.1:{port}", server, 60)
        assert ready is not None, log.read_text(errors="replace")
        async with unit_of_work(engine) as session:
            enqueue(session, QUICK_EFFECT, token="served")
        effect = await _wait_for(engine, "SELECT key, pid FROM job_effect", 1, 20)
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"http://127.0.0.1:{port}/health/ready")).json()
    finally:
        _stop(server)
        bind(engine, None)
        await _drop_queue(queue)
        await saq.disconnect()
        await engine.dispose()
    assert effect == [("served", server.pid)], log.read_text(errors="replace")
    assert health["checks"]["jobs"] == "ok"
    assert health["jobs"]["backend"] == "redis"
    assert health["jobs"]["workers"] >= 1


async def test_two_serve_processes_on_one_sqlite_file_run_a_periodic_job_once_per_period(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    # The embedded default: two `laocai serve` processes, each with its in-process runner and scheduler, share one
    # SQLite file; the claim in `periodic_job` lets one of them run each period.
    if backend != "sqlite":
        pytest.skip("the embedded default is SQLite (PostgreSQL is covered by the claim test and the SAQ test)")
    url = await _copy_sqlite(database_url, tmp_path / "serve.sqlite3")
    engine = create_engine(url)
    await create_tables(engine)
    env = cli_env(database_url=url, data_dir=str(tmp_path / "var"))
    env["TEST_JOBS_TICK"] = "1"  # every second
    ports = [free_port(), free_port()]
    log = tmp_path / "serve.log"
    servers = [_start_worker(env, log, "serve", "--port", str(port)) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            ready = await asyncio.to_thread(wait_until_ready, f"http://127.0.0.1:{port}", server, 60)
            assert ready is not None, log.read_text(errors="replace")
            assert ready.status_code == 200, ready.text
        runs = await _wait_for(engine, "SELECT period, pid FROM periodic_run", 3, 30)
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"http://127.0.0.1:{ports[0]}/health/ready")).json()
        runs = await _rows(engine, "SELECT period, pid FROM periodic_run")
    finally:
        for server in servers:
            _stop(server)
        await engine.dispose()
    periods = [period for period, _ in runs]
    assert len(periods) >= 3, log.read_text(errors="replace")
    assert len(periods) == len(set(periods)), runs
    assert {pid for _, pid in runs} <= {server.pid for server in servers}
    assert health["jobs"]["backend"] == "in-process"
    assert health["jobs"]["periodic"]["tests.tick"]["last_status"] in {"ok", "running"}


async def test_a_job_enqueued_in_a_request_that_fails_never_runs(
    engine: AsyncEngine, runner: tuple[InProcessRunner, Recorder]
) -> None:
    # The request's own unit of work (`provide_session`), through real ASGI requests to a test-only route.
    from litestar import Litestar, post
    from litestar.datastructures import State
    from litestar.di import NamedDependency, Provide
    from litestar.exceptions import ValidationException
    from litestar.params import FromPath
    from sqlmodel.ext.asyncio.session import AsyncSession

    from src.kernel.deps import provide_session

    @post("/orders/{n:int}", status_code=201)
    async def place_order(session: NamedDependency[AsyncSession], n: FromPath[int]) -> dict[str, int]:
        enqueue(session, "tests.record", n=n)
        if n < 0:
            raise ValidationException("refused after the enqueue")
        return {"n": n}

    app = Litestar(
        route_handlers=[place_order],
        dependencies={"session": Provide(provide_session)},
        state=State({"engine": engine, "read_engine": engine}),
    )
    run, recorder = runner
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.post("/orders/-1")).status_code == 400
        assert (await http.post("/orders/7")).status_code == 201
    await run.drain(5)
    assert recorder.calls == [{"attempt": 1, "n": 7}]
