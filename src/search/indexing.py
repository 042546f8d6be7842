"""Keeping the index a faithful projection of the catalogue (ARCHITECTURE.md example 8): full rebuilds, the
staleness check, and the incremental sync of changed rows. Used by ``laocai reindex``, by ``laocai serve`` at start,
and by the jobs in ``src/search/jobs.py``.

Staleness: after a full rebuild the engine stores ``documents.fingerprint(all documents, settings_version)``
beside the index. An index whose stored fingerprint differs from the one of the current database (or that has
none) is stale. An incremental sync does *not* store a fingerprint: it cannot prove that every earlier change
reached the index (a job lost with its process), so the periodic convergence job rebuilds once after changes, and
the index is then proven fresh again.
"""

import asyncio
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncEngine

from src.search.documents import fingerprint
from src.search.port import DocumentType, Progress, SearchDocument, SearchEngine
from src.search.repository import all_documents, documents_for

logger = logging.getLogger("laocai.search.indexing")

_SYNC_LOCKS: "WeakKeyDictionary[SearchEngine, asyncio.Lock]" = WeakKeyDictionary()


@dataclass(frozen=True)
class RebuildReport:
    """What a full rebuild did: documents indexed (of which destinations, communes and properties), seconds taken
    (loading the catalogue included), and the fingerprint stored."""

    documents: int
    destinations: int
    communes: int
    seconds: float
    fingerprint: str
    properties: int = 0


async def load_documents(database: AsyncEngine) -> list[SearchDocument]:
    """Every search document of the current database (one read transaction)."""
    async with database.connect() as connection:
        return await all_documents(connection)


async def rebuild(database: AsyncEngine, engine: SearchEngine, progress: Progress | None = None) -> RebuildReport:
    """Replace the whole index with the current catalogue (built aside and swapped in by the engine) and store its
    fingerprint. Raises ``EngineUnavailable`` when the engine cannot be written."""
    started = time.perf_counter()
    documents = await load_documents(database)
    return await _rebuild_with(engine, documents, progress, started)


async def _rebuild_with(
    engine: SearchEngine, documents: list[SearchDocument], progress: Progress | None, started: float
) -> RebuildReport:
    value = fingerprint(documents, engine.settings_version)
    await engine.rebuild(documents, progress)
    await engine.set_fingerprint(value)
    return RebuildReport(
        documents=len(documents),
        destinations=sum(1 for d in documents if d.type == DocumentType.DESTINATION),
        communes=sum(1 for d in documents if d.type == DocumentType.COMMUNE),
        properties=sum(1 for d in documents if d.type == DocumentType.PROPERTY),
        seconds=round(time.perf_counter() - started, 3),
        fingerprint=value,
    )


async def ensure_fresh(
    database: AsyncEngine, engine: SearchEngine, progress: Progress | None = None
) -> RebuildReport | None:
    """Rebuild the index when it is missing or stale (see the module docstring); ``None`` when it was fresh.
    Raises ``EngineUnavailable`` when the engine cannot be read or written."""
    started = time.perf_counter()
    documents = await load_documents(database)
    if await engine.fingerprint() == fingerprint(documents, engine.settings_version):
        return None
    return await _rebuild_with(engine, documents, progress, started)


async def sync(
    database: AsyncEngine,
    engine: SearchEngine,
    *,
    slugs: Collection[str],
    commune_codes: Collection[str],
    property_ids: Collection[str] = (),
    content: Collection[tuple[str, str]] = (),
) -> tuple[int, int]:
    """Bring the documents of these destinations, communes, properties and published guide items ((kind, slug)
    pairs) to their current database state:
    upsert those that exist, delete those that no longer do. Idempotent (running it twice, or late, writes the
    same state); within one process syncs run one at a time, so the later of two overlapping syncs writes last
    (across processes the convergence job settles any reordering). Returns (upserted, deleted); raises
    ``EngineUnavailable``."""
    lock = _SYNC_LOCKS.get(engine)
    if lock is None:
        lock = _SYNC_LOCKS[engine] = asyncio.Lock()
    async with lock:
        async with database.connect() as connection:
            documents, missing = await documents_for(connection, slugs, commune_codes, property_ids, content)
        if documents:
            await engine.upsert(documents)
        if missing:
            await engine.delete(sorted(missing))
    return len(documents), len(missing)


__all__ = ["RebuildReport", "ensure_fresh", "load_documents", "rebuild", "sync"]
