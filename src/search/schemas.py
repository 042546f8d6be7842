"""Response shapes of ``GET /v1/search`` and ``GET /v1/search/suggest`` (API.md). Coordinates are WGS84 degrees,
distances metres, highlight offsets Unicode code points of the NFC text."""

from datetime import datetime

import msgspec

from src.guide.schemas import CommuneRef, Location


class HighlightOut(msgspec.Struct):
    """What the hit matched on. ``field``: ``name``, ``alias`` or ``former_name``; ``text``: that field's NFC text;
    ``spans``: ``[start, end)`` code-point offsets of the matched whole words in ``text``, sorted; ``marked``:
    ``text`` HTML-escaped with each span inside ``<em>...</em>`` (safe to insert as HTML)."""

    field: str
    text: str
    spans: list[list[int]]
    marked: str


class SearchHitOut(msgspec.Struct, kw_only=True):
    """One hit. ``id``: a destination's slug or a commune's 5-digit code (``type`` says which: ``destination`` or
    ``commune``); ``name`` in the response locale along its fallback chain, ``name_locale`` the locale it came
    from; ``kind``: the destination kind, or ``ward``/``commune`` for a commune; ``commune``: the 2025 commune it
    lies in (a commune: itself), ``null`` when unknown; ``distance_m``: great-circle metres from the query point,
    present only when ``lat``/``lon`` were given; ``highlight``: ``null`` when nothing was typed (a browse)."""

    id: str
    type: str
    name: str
    name_locale: str
    kind: str
    commune: CommuneRef | None
    location: Location
    distance_m: int | msgspec.UnsetType = msgspec.UNSET
    highlight: HighlightOut | None


class SearchPage(msgspec.Struct):
    """A page of hits. ``facets``: for each facet asked for (``type``, ``kind``, ``commune``), value -> number of
    matching documents (over every match, not only this page); ``estimated_total``: how many documents match (exact
    on the embedded engine, Meilisearch's estimate otherwise); ``offset``/``limit``: this page;
    ``processing_ms``: server time spent on the search, milliseconds."""

    hits: list[SearchHitOut]
    facets: dict[str, dict[str, int]]
    estimated_total: int
    offset: int
    limit: int
    processing_ms: float


class SuggestPage(msgspec.Struct):
    """Type-ahead suggestions (the same hit shape, best first, at most 10) and the server time, milliseconds."""

    hits: list[SearchHitOut]
    processing_ms: float


class ZeroResultQuery(msgspec.Struct):
    """A normalised query that found nothing: how many searches asked it, and the last time (UTC)."""

    query: str
    searches: int
    last_searched_at: datetime


class ZeroResultReport(msgspec.Struct):
    """``GET /v1/board/search/zero-results``: queries that found nothing since ``since`` (UTC), most asked first."""

    since: datetime
    items: list[ZeroResultQuery]


__all__ = ["HighlightOut", "SearchHitOut", "SearchPage", "SuggestPage", "ZeroResultQuery", "ZeroResultReport"]
