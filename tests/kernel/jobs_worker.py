"""Test-only jobs, and the ``laocai`` command with them registered (tests run ``python -m tests.kernel.jobs_worker
worker`` as a real worker process). Their effects go to two small tables the tests create in a scratch database."""

import asyncio
import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import src.app
from src.kernel.config import Settings
from src.kernel.db import unit_of_work
from src.kernel.jobs import Job, JobContext, JobRegistry, PeriodicJob, RetryPolicy

TABLES = (
    "CREATE TABLE IF NOT EXISTS job_attempt (key VARCHAR(64) NOT NULL, attempt INTEGER NOT NULL, pid INTEGER)",
    "CREATE TABLE IF NOT EXISTS job_effect (key VARCHAR(64) PRIMARY KEY, pid INTEGER)",
    "CREATE TABLE IF NOT EXISTS periodic_run (period BIGINT NOT NULL, pid INTEGER)",
)


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for statement in ("DROP TABLE IF EXISTS job_attempt", "DROP TABLE IF EXISTS job_effect"):
            await connection.execute(text(statement))
        await connection.execute(text("DROP TABLE IF EXISTS periodic_run"))
        for statement in TABLES:
            await connection.execute(text(statement))


async def slow_effect(ctx: JobContext, *, token: str) -> None:
    """Signals each attempt (a committed ``job_attempt`` row), sleeps on the first one (the test kills the worker
    there), then applies its effect idempotently: one ``job_effect`` row per token, whatever the attempts."""
    async with unit_of_work(ctx.engine) as session:
        await (await session.connection()).execute(
            text("INSERT INTO job_attempt (key, attempt, pid) VALUES (:k, :a, :p)"),
            {"k": token, "a": ctx.attempt, "p": os.getpid()},
        )
    if ctx.attempt == 1:
        await asyncio.sleep(60)
    async with unit_of_work(ctx.engine) as session:
        await (await session.connection()).execute(
            text("INSERT INTO job_effect (key, pid) VALUES (:k, :p) ON CONFLICT (key) DO NOTHING"),
            {"k": token, "p": os.getpid()},
        )


async def quick_effect(ctx: JobContext, *, token: str) -> None:
    """The effect of ``slow_effect`` at once: one ``job_effect`` row per token, stamped with the running process."""
    async with unit_of_work(ctx.engine) as session:
        await (await session.connection()).execute(
            text("INSERT INTO job_effect (key, pid) VALUES (:k, :p) ON CONFLICT (key) DO NOTHING"),
            {"k": token, "p": os.getpid()},
        )


async def tick(ctx: JobContext) -> None:
    """A global periodic job: one ``periodic_run`` row per run, with the period it ran for."""
    async with unit_of_work(ctx.engine) as session:
        await (await session.connection()).execute(
            text("INSERT INTO periodic_run (period, pid) VALUES (:period, :p)"),
            {"period": ctx.period, "p": os.getpid()},
        )


QUICK_EFFECT = Job("tests.quick_effect", quick_effect)
SLOW_EFFECT = Job("tests.slow_effect", slow_effect, RetryPolicy(retries=3, backoff_seconds=0, timeout_seconds=4))


def register(registry: JobRegistry) -> None:
    """Adds ``SLOW_EFFECT``, and ``tests.tick`` every ``$TEST_JOBS_TICK`` seconds when that variable is set."""
    registry.add(SLOW_EFFECT)
    registry.add(QUICK_EFFECT)
    if step := os.environ.get("TEST_JOBS_TICK"):
        registry.add_periodic(PeriodicJob("tests.tick", tick, cron=f"* * * * * */{int(step)}"))


_assembled = src.app.job_registry


def job_registry(settings: Settings | None = None) -> JobRegistry:
    registry = _assembled(settings)
    register(registry)
    return registry


if __name__ == "__main__":
    src.app.job_registry = job_registry
    from src.cli import main

    main()
