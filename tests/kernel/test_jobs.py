"""Background jobs (``src/kernel/jobs.py``): sent only after commit, retried with backoff, periodic jobs once per
period across processes, and at-least-once delivery through a real worker process killed mid-job on real Redis."""

import asyncio
import os
import signal
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
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, cli_env, migrated_database
from tests.kernel.jobs_worker import SLOW_EFFECT, create_tables

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
    with pytest.raises(RuntimeError, match="the request failed"):
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
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
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
    run, _ = runner
    with pytest.raises(LookupError):
        await run.send([_pending("tests.nobody")])


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
