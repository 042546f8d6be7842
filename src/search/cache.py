"""A per-process cache of rendered search pages, keyed by the typed query and the index generation.

Tourist searches repeat ("sapa", "fansipan", "bac ha market"): answering a repeated query from memory spares the
engine and the re-ranker. Correctness rules:

- The key is the whole typed :class:`~src.search.port.SearchQuery` (text as typed after NFC, every filter, the
  point, the page, the locale) plus the engine's *generation* when it has one: the tantivy adapter's generation
  changes as soon as its reader sees a commit (``TantivyEngine.generation``), so an edit is never hidden behind the
  cache longer than the reader's own reload interval.
- Every entry also expires after ``ttl_seconds`` (``LAOCAI_SEARCH_CACHE_SECONDS``, default 5 s): the bound of
  staleness for an engine without a generation (Meilisearch, whose index another process may change). 0 turns the
  cache off.
- At most ``max_entries`` pages are kept (least recently used first out), so memory stays bounded whatever
  clients send.
"""

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_MAX_ENTRIES = 4096


class ResultCache(Generic[T]):
    """LRU + TTL map from a hashable key to a value. Not thread-safe: used from one event loop."""

    def __init__(self, ttl_seconds: float, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """Whether entries are kept at all (a positive TTL and size)."""
        return self.ttl_seconds > 0 and self.max_entries > 0

    def get(self, key: Hashable) -> T | None:
        """The value stored under ``key`` if it has not expired, else ``None``."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: T) -> None:
        """Store ``value`` for ``ttl_seconds``; the least recently used entry goes when full."""
        if not self.enabled:
            return
        self._entries[key] = (time.monotonic() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
