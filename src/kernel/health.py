"""Liveness and readiness probes (API.md: readiness checks the database, and Redis when configured)."""

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from sqlalchemy import text

from src.kernel.errors import NotReady, problem_responses


class Liveness(msgspec.Struct):
    status: str


class PeriodicJobHealth(msgspec.Struct):
    """One periodic job: ``scope`` (``global``: once per period across processes; ``process``: in each server
    process), when its last run ended (UTC, ``null`` before the first), ``last_status`` (``running``, ``ok``,
    ``failed`` or ``null``) and ``failures`` (failed runs so far)."""

    scope: str
    last_run_at: datetime | None
    last_status: str | None
    failures: int


class JobsHealth(msgspec.Struct):
    """Background jobs, counts and times only: ``backend`` (``in-process`` or ``redis``); ``queued`` jobs waiting
    (retries waiting for their delay included on the in-process runner); ``active`` running; ``failed`` jobs that
    exhausted their retries (since this process started on the in-process runner; summed over live workers on
    Redis); ``workers`` live workers; ``periodic`` per job name."""

    backend: str
    queued: int
    active: int
    failed: int
    workers: int
    periodic: dict[str, PeriodicJobHealth]


class Readiness(msgspec.Struct):
    """``checks`` maps each dependency to ``ok`` or ``not configured`` (``jobs``: ``ok``, or ``no worker`` when no
    live worker serves the Redis queue); ``destinations`` counts the catalogue; ``jobs`` details the job queue."""

    status: str
    checks: dict[str, str]
    destinations: int
    jobs: JobsHealth


class HealthController(Controller):
    path = "/health"
    tags = ["ops"]
    include_in_schema = True

    @get("/live", responses=problem_responses(rate_limited=False), security=[])
    async def live(self) -> Liveness:
        """The process is up and serving HTTP."""
        return Liveness(status="live")

    @get("/ready", responses=problem_responses(503, rate_limited=False), security=[])
    async def ready(self, state: State) -> Readiness:
        """The database answers and holds the catalogue; Redis answers when configured; job queue depth, failures and
        the last run of each periodic job (counts and times only). 503 when a dependency does not answer."""
        checks: dict[str, str] = {}
        try:
            async with state.read_engine.connect() as connection:
                count = (await connection.execute(text("SELECT count(*) FROM destination"))).scalar_one()
            checks["database"] = "ok"
        except Exception as exc:
            raise NotReady(f"database: {type(exc).__name__}") from exc
        if count == 0:
            raise NotReady("the catalogue is not imported yet")
        redis: Any = state.redis
        if redis is None:
            checks["redis"] = "not configured"
        else:
            try:
                await redis.ping()
            except Exception as exc:
                raise NotReady(f"redis: {type(exc).__name__}") from exc
            checks["redis"] = "ok"
        try:
            report = await state.jobs.report()
        except Exception as exc:
            raise NotReady(f"jobs: {type(exc).__name__}") from exc
        checks["jobs"] = "ok" if report["workers"] else "no worker"
        periodic = {name: PeriodicJobHealth(**values) for name, values in report.pop("periodic").items()}
        jobs = JobsHealth(
            backend=report["backend"],
            queued=report["queued"],
            active=report["active"],
            failed=report["failed"],
            workers=report["workers"],
            periodic=periodic,
        )
        return Readiness(status="ready", checks=checks, destinations=int(count), jobs=jobs)
