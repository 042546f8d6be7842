"""The search port: what the rest of the service asks of a search engine, in domain terms.

Two adapters implement :class:`SearchEngine`: ``src/search/tantivy_engine.py`` (embedded default, the PyPI
``tantivy`` package) and ``src/search/meili_engine.py`` (production, the official ``meilisearch`` client). Only each
adapter imports its engine. Everything an engine must agree on lives in shared code beside this port:

- ``src/search/text.py`` normalises text the same way at index and query time (NFKC, marks stripped, ``đ`` -> ``d``,
  case-folded, compact forms so ``sapa`` = ``sa pa``, CJK n-grams);
- ``src/search/ranking.py`` re-ranks an engine's candidates deterministically and marks the highlight, so both
  engines return the same order for the same index content (STACK-NOTES: tantivy's tie order depends on segments).

Clients never send filter strings: a :class:`SearchQuery` carries typed filters, and each adapter builds its own
engine syntax from them (quoted by code, never by concatenating client text).

Units: coordinates are WGS84 degrees, distances metres (great-circle, haversine on a 6,371,008.8 m sphere).
"""

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

#: API.md: ``/v1/search`` pages with ``offset``/``limit`` up to 1,000 hits in all.
MAX_HITS = 1000
#: Type-ahead answers at most this many suggestions.
MAX_SUGGESTIONS = 10
#: Query text longer than this (characters, after normalisation) is cut: place names are short, and the engines'
#: cost grows with the number of words. The API refuses raw input above ``MAX_QUERY_CHARS`` with a 422.
MAX_QUERY_WORDS = 12
MAX_QUERY_CHARS = 200


class DocumentType(StrEnum):
    """What a search document stands for: a place of the map, a commune, a lodging, or a published guide article
    or tour (``ref`` is then its slug: ``GET /v1/articles/{slug}``, ``GET /v1/tours/{slug}``)."""

    DESTINATION = "destination"
    COMMUNE = "commune"
    PROPERTY = "property"
    ARTICLE = "article"
    TOUR = "tour"


class Facet(StrEnum):
    """Fields a client may ask facet counts for (``facets=kind,commune``)."""

    TYPE = "type"
    KIND = "kind"
    COMMUNE = "commune"


class EngineUnavailable(RuntimeError):
    """The configured engine cannot answer now (down, timing out, index missing). The API answers 503."""


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One indexed thing, built by a pure function from database rows (``src/search/documents.py``).

    Attributes:
        key: the engine's primary key, ``<type>-<ref>`` (``destination-cat-cat``, ``commune-03006``); only ASCII
            letters, digits, ``-`` and ``_`` (Meilisearch's rule for document ids).
        type: a :class:`DocumentType` value. ref: the public id: a destination's slug, a commune's 5-digit code.
        kind: the destination kind (``village``...) or, for a commune, its unit type (``ward``/``commune``).
        commune_code: the 2025 commune the thing lies in (a commune: its own code); ``None`` when unknown.
        names: display name per locale (BCP 47: ``vi``, ``en``, ``zh-Hans``, ``fr``, ``ko``, ``zh``...).
        aliases: other current names (curated aliases, GeoNames alternate names), any script.
        former_names: names abolished by the 2025 merger (old wards and communes, districts, the former province).
        commune_names: the commune's display name per locale (for hits; not searched).
        lat, lon: WGS84 degrees. importance: 0..1, so a famous place outranks an obscure namesake.
    """

    key: str
    type: str
    ref: str
    kind: str
    commune_code: str | None
    names: dict[str, str]
    aliases: tuple[str, ...]
    former_names: tuple[str, ...]
    commune_names: dict[str, str]
    commune_unit_type: str | None
    lat: float
    lon: float
    importance: float


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 point (degrees)."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search in domain terms.

    Attributes:
        text: what the user typed (any Unicode form; normalised by the engine through ``src/search/text.py``).
            Empty text matches every document (a filtered browse).
        types, kinds, communes: each a set of allowed values (empty = no constraint); several filters combine with
            AND, values inside one filter with OR. Values are data, never syntax.
        near: the point for ``distance_m`` and ``sort="distance"``; radius_m: keep only hits within this many
            metres of ``near`` (requires ``near``).
        sort: ``"relevance"`` or ``"distance"`` (requires ``near``; ties by relevance).
        facets: which facet counts to return (over every matching document, not only the page).
        offset, limit: the page; ``offset + limit <= MAX_HITS``.
        locale: the negotiated response locale (used to prefer the highlight's field).
    """

    text: str = ""
    types: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    communes: frozenset[str] = frozenset()
    near: GeoPoint | None = None
    radius_m: float | None = None
    sort: Literal["relevance", "distance"] = "relevance"
    facets: frozenset[str] = frozenset()
    offset: int = 0
    limit: int = 20
    locale: str = "vi"

    def __post_init__(self) -> None:
        if self.offset < 0 or self.limit < 0 or self.offset + self.limit > MAX_HITS:
            raise ValueError(f"offset + limit must be within 0..{MAX_HITS}")
        if (self.radius_m is not None or self.sort == "distance") and self.near is None:
            raise ValueError("radius_m and sort='distance' need a point")


@dataclass(frozen=True, slots=True)
class Highlight:
    """The text a hit matched on, with whole-word match spans.

    Attributes:
        field: ``name``, ``alias`` or ``former_name``. text: the NFC text of that field.
        spans: ``(start, end)`` offsets in Unicode code points of ``text`` (never inside a character), sorted.
    """

    field: str
    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked hit: its document, its great-circle ``distance_m`` from the query point (else ``None``), and what
    it matched."""

    document: SearchDocument
    distance_m: float | None
    highlight: Highlight | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits, the count of every match (``estimated_total``: exact on tantivy, Meilisearch's estimate),
    and facet counts ``{facet: {value: count}}`` over every match."""

    hits: list[SearchHit]
    estimated_total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


#: ``progress(done, total)`` during a full rebuild.
Progress = Callable[[int, int], None]


class SearchEngine(Protocol):
    """What both adapters provide. Every method raises :class:`EngineUnavailable` when the engine cannot answer."""

    name: str
    #: Changes whenever the engine's schema or index settings change (part of the staleness fingerprint).
    settings_version: str

    async def search(self, query: SearchQuery) -> SearchResult:
        """Ranked hits for ``query`` (re-ranked by ``src/search/ranking.py``)."""
        ...

    async def suggest(self, prefix: str, limit: int, locale: str) -> list[SearchHit]:
        """Type-ahead: documents whose names start with (the normalised) ``prefix``, at most ``limit``."""
        ...

    async def rebuild(self, documents: Sequence[SearchDocument], progress: Progress | None = None) -> None:
        """Replace the whole index with ``documents``: built aside, then swapped in (readers never see a half)."""
        ...

    async def upsert(self, documents: Iterable[SearchDocument]) -> None:
        """Add or replace documents by ``key``."""
        ...

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove documents by ``key`` (an unknown key is no error)."""
        ...

    async def fingerprint(self) -> str | None:
        """The ``fingerprint`` stored with the last rebuild or sync (``None`` when there is no index yet)."""
        ...

    async def set_fingerprint(self, value: str) -> None:
        """Store ``value`` beside the index (used to tell a stale index from a fresh one)."""
        ...

    def generation(self) -> Hashable | None:
        """A token that changes whenever the index this process reads has changed, or ``None`` when the engine
        cannot tell cheaply (cached results then rely on their time to live)."""
        ...

    async def ping(self) -> None:
        """Return when the engine answers; raise :class:`EngineUnavailable` otherwise."""
        ...

    async def close(self) -> None:
        """Release connections and readers."""
        ...
