"""The search log's writer: searches are recorded without slowing the request.

``record`` appends one entry to a bounded in-memory buffer and returns (no I/O, no await). A background task
writes the buffer in batches (one multi-row ``INSERT`` per batch, in its own transaction) every
``interval_seconds``, or sooner once ``batch_size`` entries wait; ``stop`` flushes what is left (the server's
shutdown). When the buffer is full (the database is slow or down), new entries are dropped and counted rather than
queued without bound; a batch the database refuses is dropped and counted too (the log is statistics, not a
ledger). ``stats`` gives the counts for ``/health/ready``.

Entries carry no personal data (see ``src/search/models.py``): the caller passes the normalised query, never the raw
text, and coordinates rounded to 2 decimals.
"""

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from src.kernel.db import utcnow
from src.search.models import MAX_LOGGED_QUERY, SearchLogEntry
from src.search.text import normalise

logger = logging.getLogger("laocai.search.log")

DEFAULT_CAPACITY = 10_000
DEFAULT_BATCH_SIZE = 500
DEFAULT_INTERVAL_SECONDS = 2.0
_TABLE = SearchLogEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LoggedSearch:
    """One search to log (already stripped of personal data): see ``SearchLogEntry``."""

    query: str
    locale: str
    filters: dict[str, Any]
    hits: int
    processing_ms: float
    engine: str
    created_at: datetime

    @classmethod
    def of(
        cls, text: str, *, locale: str, filters: dict[str, Any], hits: int, processing_ms: float, engine: str
    ) -> "LoggedSearch":
        """An entry for the query ``text`` as typed: only its normalised form is kept, cut to
        ``MAX_LOGGED_QUERY`` characters; stamped now (UTC)."""
        return cls(
            query=normalise(text)[:MAX_LOGGED_QUERY],
            locale=locale,
            filters=filters,
            hits=hits,
            processing_ms=round(processing_ms, 3),
            engine=engine,
            created_at=utcnow(),
        )


class SearchLogWriter:
    """Buffers ``LoggedSearch`` entries and writes them to ``search_log`` in batches (see the module docstring).

    Args:
        engine: the write engine. enabled: ``False`` (``LAOCAI_SEARCH_LOG=false``) records nothing.
        capacity: most entries held in memory; batch_size: most rows per ``INSERT``; interval_seconds: longest an
            entry waits before its batch is written (while the writer runs).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        enabled: bool = True,
        capacity: int = DEFAULT_CAPACITY,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        if capacity < 1 or batch_size < 1 or interval_seconds <= 0:
            raise ValueError("capacity, batch_size and interval_seconds must be positive")
        self.engine = engine
        self.enabled = enabled
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval_seconds = interval_seconds
        self._buffer: deque[LoggedSearch] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None
        self._stopping = False
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.batches = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def record(self, entry: LoggedSearch) -> None:
        """Queue ``entry`` (O(1), no I/O); dropped and counted in ``dropped`` when the buffer is full."""
        if not self.enabled:
            return
        if len(self._buffer) >= self.capacity:
            self.dropped += 1
            return
        self._buffer.append(entry)
        if self._wake is not None and len(self._buffer) >= self.batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write every buffered entry now, in batches; returns how many rows were written. A batch the database
        refuses is dropped, counted in ``failed`` and logged as a warning."""
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        written = 0
        async with self._flush_lock:
            while self._buffer:
                batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
                rows = [
                    {
                        "query": e.query,
                        "locale": e.locale,
                        "filters": e.filters,
                        "hits": e.hits,
                        "processing_ms": e.processing_ms,
                        "engine": e.engine,
                        "created_at": e.created_at,
                    }
                    for e in batch
                ]
                try:
                    async with self.engine.begin() as connection:
                        await connection.execute(insert(_TABLE), rows)
                except Exception as exc:
                    self.failed += len(batch)
                    logger.warning("search log: %d entries lost: %s: %s", len(batch), type(exc).__name__, exc)
                    continue
                written += len(batch)
                self.written += len(batch)
                self.batches += 1
        return written

    async def start(self) -> None:
        """Start the background writer (once; a disabled log starts nothing)."""
        if not self.enabled or self._task is not None:
            return
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="search-log-writer")

    async def stop(self) -> None:
        """Stop the background writer after the batch it is writing (never cancelled mid-``INSERT``: that would
        lose the batch and leak its connection), then write what is left."""
        task, self._task = self._task, None
        if task is not None and self._wake is not None:
            self._stopping = True
            self._wake.set()
            await task
        self._wake = None
        self._stopping = False
        await self.flush()

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_seconds)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:  # flush already absorbs database errors; anything else must not kill the loop
                logger.exception("search log flush failed")

    def stats(self) -> dict[str, int | bool]:
        """Counts for ``/health/ready``: ``enabled``, ``pending``, ``written``, ``dropped`` (buffer full),
        ``failed`` (refused by the database)."""
        return {
            "enabled": self.enabled,
            "pending": self.pending,
            "written": self.written,
            "dropped": self.dropped,
            "failed": self.failed,
        }


__all__ = ["LoggedSearch", "SearchLogWriter"]
