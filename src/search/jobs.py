"""Jobs that keep the search index fresh (ARCHITECTURE.md rule 4: a one-shot job paired with a converging sweep).

- ``guide.catalogue_changed`` (the event ``src/guide/events.py`` declares; the guide never imports search) and
  ``search.sync_documents``: sync the named destinations and communes from the database into the index, after the
  writer's commit. Idempotent; retried with backoff while the engine is down.
- ``guide.content_changed``: sync the named published articles or tours (archived ones are removed).
- ``booking.property_changed`` (``src/booking/events.py``): sync the named properties (listed ones are upserted,
  unlisted or deleted ones removed).
- ``search.converge_index`` (global, every 5 minutes, once across all processes): rebuild the index when its stored
  fingerprint is not the current catalogue's, which catches whatever a lost or failed sync missed.

Handlers find the process's engine in ``ctx.resources["search"]`` (``src/app.py`` and ``laocai worker`` put it
there).
"""

import logging
from typing import Any

from src.booking.events import PROPERTY_CHANGED
from src.guide.events import CATALOGUE_CHANGED, CONTENT_CHANGED
from src.kernel.jobs import Job, JobContext, JobRegistry, PeriodicJob, RetryPolicy
from src.search.indexing import ensure_fresh, sync
from src.search.port import SearchEngine

logger = logging.getLogger("laocai.search.jobs")

#: Key of the engine in the job system's resources.
RESOURCE = "search"
SYNC_RETRY = RetryPolicy(retries=6, backoff_seconds=1.0, max_backoff_seconds=60.0, timeout_seconds=120)
CONVERGE_CRON = "*/5 * * * *"


def _engine(ctx: JobContext) -> SearchEngine:
    engine: Any = ctx.resources.get(RESOURCE)
    if engine is None:
        raise RuntimeError(f"job {ctx.name}: no search engine in the job resources (src/app.py, laocai worker)")
    return engine  # type: ignore[no-any-return]


async def sync_documents(
    ctx: JobContext, *, slugs: list[str] | None = None, commune_codes: list[str] | None = None
) -> None:
    """Sync these destinations (slugs) and communes (5-digit codes) into the index (``indexing.sync``)."""
    upserted, deleted = await sync(ctx.engine, _engine(ctx), slugs=slugs or [], commune_codes=commune_codes or [])
    logger.info("search sync: %d upserted, %d deleted (attempt %d)", upserted, deleted, ctx.attempt)


async def sync_properties(ctx: JobContext, *, property_ids: list[str]) -> None:
    """Sync these properties (UUID strings) into the index: booking's ``property_changed`` event."""
    upserted, deleted = await sync(ctx.engine, _engine(ctx), slugs=[], commune_codes=[], property_ids=property_ids)
    logger.info("search property sync: %d upserted, %d deleted (attempt %d)", upserted, deleted, ctx.attempt)


async def sync_content(ctx: JobContext, *, kind: str, slugs: list[str]) -> None:
    """Sync these published articles or tours into the index: the guide's ``content_changed`` event (published
    ones are upserted, archived ones removed)."""
    upserted, deleted = await sync(
        ctx.engine, _engine(ctx), slugs=[], commune_codes=[], content=[(kind, slug) for slug in slugs]
    )
    logger.info("search content sync: %d upserted, %d deleted (attempt %d)", upserted, deleted, ctx.attempt)


async def converge_index(ctx: JobContext) -> None:
    """Rebuild the index if it is not the projection of the current catalogue (``indexing.ensure_fresh``)."""
    report = await ensure_fresh(ctx.engine, _engine(ctx))
    if report is not None:
        logger.info("search index was stale: rebuilt %d documents in %.2f s", report.documents, report.seconds)


SYNC_DOCUMENTS = Job("search.sync_documents", sync_documents, SYNC_RETRY)
ON_CATALOGUE_CHANGED = Job(CATALOGUE_CHANGED, sync_documents, SYNC_RETRY)
ON_PROPERTY_CHANGED = Job(PROPERTY_CHANGED, sync_properties, SYNC_RETRY)
ON_CONTENT_CHANGED = Job(CONTENT_CHANGED, sync_content, SYNC_RETRY)
CONVERGE_INDEX = PeriodicJob(
    "search.converge_index",
    converge_index,
    cron=CONVERGE_CRON,
    retry=RetryPolicy(retries=1, timeout_seconds=600),
)


def register(registry: JobRegistry) -> None:
    """Declare the search jobs (and search's reaction to the guide's catalogue event) in ``registry``."""
    registry.add(SYNC_DOCUMENTS)
    registry.add(ON_CATALOGUE_CHANGED)
    registry.add(ON_PROPERTY_CHANGED)
    registry.add(ON_CONTENT_CHANGED)
    registry.add_periodic(CONVERGE_INDEX)


__all__ = [
    "CONVERGE_INDEX",
    "ON_CATALOGUE_CHANGED",
    "ON_CONTENT_CHANGED",
    "ON_PROPERTY_CHANGED",
    "RESOURCE",
    "SYNC_DOCUMENTS",
    "register",
]
