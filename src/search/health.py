"""Search's readiness check, injected into ``/health/ready`` by ``src/app.py`` (the kernel imports no domain).

Search is an optional component: when the engine does not answer, readiness stays 200 with ``status: "degraded"``
and ``checks.search: "unavailable"``, because every other endpoint still works (issue 6: degradation); only
``/v1/search`` answers 503. Taking the server out of a load balancer for it would turn a search outage into a full
outage (with Meilisearch, every server would be out at once).
"""

import logging

from src.kernel.health import ComponentCheck, ComponentHealth
from src.search.log import SearchLogWriter
from src.search.port import EngineUnavailable, SearchEngine

logger = logging.getLogger("laocai.search.health")


def readiness_check(engine: SearchEngine, log: SearchLogWriter | None = None) -> ComponentCheck:
    """A check answering ``{"engine": "tantivy"|"meilisearch", "ok": ..., "indexed": ..., "log": {...}}``:
    ``indexed`` whether a full build's fingerprint is stored beside the index, ``log`` the search log's counts."""

    async def search() -> ComponentHealth:
        detail: dict[str, object] = {"engine": engine.name}
        try:
            await engine.ping()
            detail["indexed"] = await engine.fingerprint() is not None
            ok = True
        except EngineUnavailable as exc:
            logger.warning("search engine %s unavailable: %s", engine.name, exc)
            detail["error"] = "the search engine does not answer"
            ok = False
        if log is not None:
            detail["log"] = log.stats()
        return ComponentHealth(name="search", ok=ok, required=False, detail=detail)

    search.component = "search"  # type: ignore[attr-defined]
    return search


__all__ = ["readiness_check"]
