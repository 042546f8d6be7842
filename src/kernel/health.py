"""Liveness and readiness probes (API.md: readiness checks the database, and Redis when configured).

Domains add their own readiness checks without the kernel importing them: the assembly (``src/app.py``) puts
``ComponentCheck`` callables in ``state.readiness_checks``. A failing *required* component makes ``/health/ready``
a 503 like the database does; a failing optional one (search: everything else keeps working without it) leaves
the answer 200 with ``status: "degraded"``, its check ``unavailable`` and its details under ``components``.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from sqlalchemy import text

from src.kernel.errors import NotReady, problem_responses


@dataclass(frozen=True)
class ComponentHealth:
    """What one component check found. ``name`` keys it in ``checks`` and ``components``; ``ok`` whether it answers;
    ``required``: whether the service is not ready without it (503) or only degraded (200); ``detail``: JSON values
    shown under ``components[name]`` (counts, names, times; never secrets or payloads)."""

    name: str
    ok: bool
    required: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


#: A readiness check of a domain: returns its ``ComponentHealth`` and should not raise (an exception, or taking
#: longer than ``CHECK_TIMEOUT_SECONDS``, counts as a failed optional component).
ComponentCheck = Callable[[], Awaitable[ComponentHealth]]
CHECK_TIMEOUT_SECONDS = 3.0


async def run_check(check: ComponentCheck) -> ComponentHealth:
    """Run one component check within ``CHECK_TIMEOUT_SECONDS``; a timeout or an error is a failed component."""
    name = str(getattr(check, "component", None) or getattr(check, "__name__", "component"))
    try:
        return await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return ComponentHealth(name=name, ok=False, detail={"error": f"no answer within {CHECK_TIMEOUT_SECONDS} s"})
    except Exception as exc:
        return ComponentHealth(name=name, ok=False, detail={"error": type(exc).__name__})


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
    """``status``: ``ready``, or ``degraded`` when an optional component (search) does not answer. ``checks`` maps
    each dependency to ``ok``, ``not configured`` or ``unavailable`` (``jobs``: ``ok``, or ``no worker`` when no
    live worker serves the Redis queue); ``destinations`` counts the catalogue; ``jobs`` details the job queue;
    ``components`` the domains' own checks by name (``search``: ``{"engine": "tantivy"|"meilisearch", "ok": ...}``).
    """

    status: str
    checks: dict[str, str]
    destinations: int
    jobs: JobsHealth
    components: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


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
        the last run of each periodic job (counts and times only); each domain component (search). 503 when a
        required dependency does not answer; 200 with ``status: "degraded"`` when only an optional one (search)
        does not."""
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
        components: dict[str, dict[str, Any]] = {}
        status = "ready"
        extra: Sequence[ComponentCheck] = state.get("readiness_checks") or ()
        for result in await asyncio.gather(*(run_check(check) for check in extra)):
            if not result.ok and result.required:
                raise NotReady(f"{result.name}: {result.detail.get('error', 'unavailable')}")
            checks[result.name] = "ok" if result.ok else "unavailable"
            components[result.name] = {**result.detail, "ok": result.ok}
            if not result.ok:
                status = "degraded"
        return Readiness(status=status, checks=checks, destinations=int(count), jobs=jobs, components=components)
