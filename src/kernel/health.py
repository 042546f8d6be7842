"""Liveness and readiness probes (API.md: readiness checks the database, and Redis when configured)."""

from typing import Any

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from sqlalchemy import text

from src.kernel.errors import NotReady, problem_responses


class Liveness(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    """``checks`` maps each dependency to ``ok`` or ``not configured``; ``destinations`` counts the catalogue."""

    status: str
    checks: dict[str, str]
    destinations: int


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
        """The database answers and holds the catalogue; Redis answers when configured. 503 otherwise."""
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
        return Readiness(status="ready", checks=checks, destinations=int(count))
