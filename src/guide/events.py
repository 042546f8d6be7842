"""Events the catalogue announces to downstream domains, as jobs enqueued in the writer's unit of work.

The guide never imports its readers (ARCHITECTURE.md: a downstream reaction travels as a job enqueued after
commit). It names the event here; the domain that reacts registers a job of that name (search:
``src/search/jobs.py`` keeps its index fresh), and the assembly (``src/app.py``) puts both in one registry.
"""

from collections.abc import Iterable

from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.jobs import enqueue

#: Job name of "catalogue rows changed". Keyword arguments: ``slugs`` (destination slugs) and ``commune_codes``
#: (5-digit 2025 codes), each a sorted list of what was inserted, updated or deleted.
CATALOGUE_CHANGED = "guide.catalogue_changed"


def catalogue_changed(session: AsyncSession, *, slugs: Iterable[str] = (), commune_codes: Iterable[str] = ()) -> None:
    """Announce that these destinations and communes changed in ``session``'s unit of work: the event is sent only
    once it commits (nothing on rollback). Raises ``LookupError`` when no domain registered the event (the
    assembly must register search's jobs) and ``RuntimeError`` when no job backend is bound to the session."""
    enqueue(
        session,
        CATALOGUE_CHANGED,
        slugs=sorted(set(slugs)),
        commune_codes=sorted(set(commune_codes)),
    )


#: Job name of "published articles or tours changed" (published, republished or archived). Keyword arguments:
#: ``kind`` (``article`` or ``tour``) and ``slugs`` (sorted). Search reindexes them (``src/search/jobs.py``).
CONTENT_CHANGED = "guide.content_changed"


def content_changed(session: AsyncSession, *, kind: str, slugs: Iterable[str]) -> None:
    """Announce that these published items changed in ``session``'s unit of work (sent once it commits)."""
    enqueue(session, CONTENT_CHANGED, kind=kind, slugs=sorted(set(slugs)))


__all__ = ["CATALOGUE_CHANGED", "CONTENT_CHANGED", "catalogue_changed", "content_changed"]
