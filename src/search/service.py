"""The rules of ``GET /v1/search`` and ``GET /v1/search/suggest``: validate what the client sent into a typed
:class:`~src.search.port.SearchQuery`, ask the engine, render hits in the negotiated locale, log the search.

Validation (API.md; every refusal is a 422 problem naming the field):
- ``q``: at most ``MAX_QUERY_CHARS`` (200) characters once NFC-normalised; empty is a browse (filters only).
- ``kind``: repeatable and/or comma-separated; each a destination kind (``src.guide.models.DestinationKind``) or
  ``ward``/``commune`` (a commune's unit type). ``type``: ``destination``/``commune``, the same way. An empty value
  (``kind=``, ``kind=village,``) is refused rather than read as "no constraint".
- ``commune``: a 5-digit 2025 code that exists (a pre-2025 code is refused with its successor named).
- ``lat``+``lon`` go together; ``radius_km`` needs them; ``sort=distance`` needs them.
- ``facets``: comma list of ``type``, ``kind``, ``commune``.
- ``offset + limit <= 1000`` (``MAX_HITS``).

Values are data, never syntax: they reach the engine as sets of strings in a ``SearchQuery``, and each adapter
builds its own query from them, so ``AND``, quotes or ``_geoRadius(...)`` in ``q`` are only words to look for.
"""

import dataclasses
import html
import math
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from weakref import WeakKeyDictionary

import msgspec

from src.booking.models import PropertyKind
from src.guide import repository as guide_repository
from src.guide.models import DestinationKind
from src.guide.schemas import CommuneRef, Location
from src.guide.service import MAX_RADIUS_KM
from src.kernel.db import ReadPath, utcnow
from src.kernel.errors import InvalidParameter
from src.kernel.i18n import pick
from src.search import repository as search_repository
from src.search.cache import ResultCache
from src.search.errors import SearchUnavailable
from src.search.log import LoggedSearch, SearchLogWriter
from src.search.port import (
    MAX_HITS,
    MAX_QUERY_CHARS,
    MAX_SUGGESTIONS,
    DocumentType,
    EngineUnavailable,
    Facet,
    GeoPoint,
    Highlight,
    SearchEngine,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from src.search.schemas import (
    HighlightOut,
    SearchHitOut,
    SearchPage,
    SuggestPage,
    ZeroResultQuery,
    ZeroResultReport,
)
from src.search.text import analyse_query

#: Every ``kind`` a client may filter on: destination kinds, and the unit types of communes.
COMMUNE_KINDS = ("ward", "commune")
ALLOWED_KINDS: tuple[str, ...] = (
    *sorted(k.value for k in DestinationKind),
    *COMMUNE_KINDS,
    *sorted(k.value for k in PropertyKind),
)
ALLOWED_TYPES: tuple[str, ...] = tuple(t.value for t in DocumentType)
ALLOWED_FACETS: tuple[str, ...] = tuple(f.value for f in Facet)
#: Decimals of a query point kept in the search log (2 decimals: about 1 km).
LOGGED_POINT_DECIMALS = 2


@dataclass(frozen=True)
class SearchParams:
    """What a client sent to ``GET /v1/search``, as parsed by the controller (lists not split yet)."""

    q: str = ""
    kinds: Sequence[str] = ()
    types: Sequence[str] = ()
    commune: str | None = None
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    sort: Literal["relevance", "distance"] = "relevance"
    facets: Sequence[str] = ()
    offset: int = 0
    limit: int = 20


def _invalid(name: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{name}: {message}", errors=[{"field": name, "source": "query", "message": message}])


def split_values(values: Iterable[str] | None) -> list[str]:
    """Repeated and comma-separated values as one list, trimmed, empties dropped, first occurrence kept:
    ``["village,peak", " lake", "peak"]`` -> ``["village", "peak", "lake"]``."""
    out: list[str] = []
    for value in values or ():
        for part in value.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _checked(name: str, values: Iterable[str] | None, allowed: Sequence[str]) -> frozenset[str]:
    values = list(values or ())
    if any(not part.strip() for value in values for part in value.split(",")):
        raise _invalid(name, "empty value (leave the parameter out for no constraint)")
    parts = split_values(values)
    unknown = [v for v in parts if v not in allowed]
    if unknown:
        shown = ", ".join(repr(v[:40]) for v in unknown[:5])
        raise InvalidParameter(
            f"{name}: unknown value {shown}; allowed: {', '.join(allowed)}",
            errors=[{"field": name, "source": "query", "message": "unknown value", "allowed": list(allowed)}],
        )
    return frozenset(parts)


def check_text(q: str, name: str = "q") -> str:
    """``q`` in NFC; ``InvalidParameter`` (422) when longer than ``MAX_QUERY_CHARS`` code points."""
    text = unicodedata.normalize("NFC", q)
    if len(text) > MAX_QUERY_CHARS:
        raise _invalid(name, f"at most {MAX_QUERY_CHARS} characters (got {len(text)})")
    return text


def marked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` HTML-escaped, each ``(start, end)`` code-point span wrapped in ``<em>...</em>``."""
    out: list[str] = []
    position = 0
    for start, end in spans:
        if start < position:  # overlapping spans: never produced by the ranker, never nested here
            continue
        out.append(html.escape(text[position:start]))
        out.append("<em>" + html.escape(text[start:end]) + "</em>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def _highlight(highlight: Highlight | None) -> HighlightOut | None:
    if highlight is None:
        return None
    spans = [(start, end) for start, end in highlight.spans]
    return HighlightOut(
        field=highlight.field,
        text=highlight.text,
        spans=[[start, end] for start, end in spans],
        marked=marked(highlight.text, spans),
    )


def render_hit(hit: SearchHit, locale: str, *, with_distance: bool) -> SearchHitOut:
    """The public form of one hit in ``locale`` (names along its fallback chain: requested -> ``en`` -> ``vi``)."""
    document = hit.document
    picked = pick(document.names, locale)
    if picked is None:  # a document always has a vi name; other keys only if the data lacks it
        first = next(iter(document.names.items()), ("", "vi"))
        name, name_locale = first[1], first[0]
    else:
        name, name_locale = picked
    commune = None
    if document.commune_code is not None and document.commune_names:
        commune_name = pick(document.commune_names, locale) or (document.commune_code, "vi")
        commune = CommuneRef(
            code=document.commune_code,
            name=commune_name[0],
            name_locale=commune_name[1],
            unit_type=document.commune_unit_type or "",
        )
    distance: int | msgspec.UnsetType = msgspec.UNSET
    if with_distance and hit.distance_m is not None:
        distance = math.floor(hit.distance_m + 0.5)
    return SearchHitOut(
        id=document.ref,
        type=document.type,
        name=name,
        name_locale=name_locale,
        kind=document.kind,
        commune=commune,
        location=Location(lat=document.lat, lon=document.lon),
        distance_m=distance,
        highlight=_highlight(hit.highlight),
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class SearchService:
    """Search and type-ahead over the configured engine, rendered in one negotiated ``locale``.

    ``read_path`` is used only to check a ``commune`` filter against the catalogue; ``log`` records each search
    (``None``: not logged).
    """

    def __init__(
        self,
        engine: SearchEngine,
        locale: str,
        *,
        read_path: ReadPath | None = None,
        log: SearchLogWriter | None = None,
        cache: ResultCache[Any] | None = None,
    ) -> None:
        self.engine = engine
        self.locale = locale
        self.read_path = read_path
        self.log = log
        self.cache = cache if cache is not None and cache.enabled else None

    async def query_of(self, params: SearchParams) -> SearchQuery:
        """The typed query for ``params``; ``InvalidParameter`` (422) for anything the module docstring refuses."""
        text = check_text(params.q)
        kinds = _checked("kind", params.kinds, ALLOWED_KINDS)
        types = _checked("type", params.types, ALLOWED_TYPES)
        facets = _checked("facets", params.facets, ALLOWED_FACETS)
        near = None
        if (params.lat is None) != (params.lon is None):
            raise _invalid("lon" if params.lon is None else "lat", "lat and lon go together")
        if params.lat is not None and params.lon is not None:
            if not (math.isfinite(params.lat) and math.isfinite(params.lon)):
                raise _invalid("lat", "lat and lon must be finite numbers")
            near = GeoPoint(lat=params.lat, lon=params.lon)
        radius_m = None
        if params.radius_km is not None:
            if near is None:
                raise _invalid("radius_km", "radius_km needs lat and lon")
            if not (math.isfinite(params.radius_km) and 0 < params.radius_km <= MAX_RADIUS_KM):
                raise _invalid("radius_km", f"radius_km must lie in (0, {MAX_RADIUS_KM:g}]")
            radius_m = params.radius_km * 1000.0
        if params.sort == "distance" and near is None:
            raise _invalid("sort", "sort=distance needs lat and lon")
        if params.offset < 0 or params.limit < 1 or params.offset + params.limit > MAX_HITS:
            raise _invalid("offset", f"offset + limit must not exceed {MAX_HITS}")
        communes: frozenset[str] = frozenset()
        if params.commune is not None:
            await self._require_commune(params.commune)
            communes = frozenset({params.commune})
        return SearchQuery(
            text=text,
            types=types,
            kinds=kinds,
            communes=communes,
            near=near,
            radius_m=radius_m,
            sort=params.sort,
            facets=facets,
            offset=params.offset,
            limit=params.limit,
            locale=self.locale,
        )

    async def search(self, params: SearchParams) -> SearchPage:
        """A page of hits for ``params``. Raises ``InvalidParameter`` (422) and ``SearchUnavailable`` (503).

        A repeated query is answered from the process's result cache (``src/search/cache.py``) while the index
        has not changed and the entry is younger than ``LAOCAI_SEARCH_CACHE_SECONDS``; it is logged all the same."""
        started = time.perf_counter()
        query = await self.query_of(params)
        key = ("search", query, self.engine.generation()) if self.cache is not None else None
        cached: tuple[SearchPage, int] | None = self.cache.get(key) if self.cache is not None else None
        if cached is not None:
            page, total = cached
        else:
            try:
                result = await self.engine.search(query)
                result = await self._fewer_words(query, result)
            except EngineUnavailable as exc:
                raise SearchUnavailable(
                    f"the {self.engine.name} search engine cannot answer now; retry shortly"
                ) from exc
            with_distance = query.near is not None
            total = result.estimated_total
            page = SearchPage(
                hits=[render_hit(hit, self.locale, with_distance=with_distance) for hit in result.hits],
                facets={name: dict(counts) for name, counts in result.facets.items() if name in query.facets},
                estimated_total=total,
                offset=query.offset,
                limit=query.limit,
                processing_ms=0.0,
            )
            if self.cache is not None:
                self.cache.put(key, (page, total))
        elapsed = _elapsed_ms(started)
        if self.log is not None:
            self.log.record(
                LoggedSearch.of(
                    query.text,
                    locale=self.locale,
                    filters=logged_filters(query),
                    hits=total,
                    processing_ms=elapsed,
                    engine=self.engine.name,
                )
            )
        return msgspec.structs.replace(page, processing_ms=elapsed)

    async def _fewer_words(self, query: SearchQuery, result: SearchResult) -> SearchResult:
        """When every word must match and nothing does, drop words from the end, up to ``MAX_DROPPED_WORDS``
        ("fansipan summit" -> "fansipan"), as Meilisearch's ``matchingStrategy: "last"`` does; the same on both
        engines because it happens here. The highlight shows which words matched."""
        analysed = analyse_query(query.text)
        if analysed.cjk:  # CJK runs are matched by n-grams, not words: nothing to drop
            return result
        words = list(analysed.words)
        dropped = 0
        while result.estimated_total == 0 and len(words) > 1 and dropped < MAX_DROPPED_WORDS:
            words.pop()
            dropped += 1
            result = await self.engine.search(dataclasses.replace(query, text=" ".join(words)))
        return result

    async def suggest(self, q: str, limit: int) -> SuggestPage:
        """Up to ``limit`` (≤ ``MAX_SUGGESTIONS``) documents whose names start with ``q``; nothing for an empty
        prefix. Raises ``InvalidParameter`` (422) and ``SearchUnavailable`` (503). Suggestions are not logged
        (one per keystroke: the board's log would count prefixes, not searches)."""
        started = time.perf_counter()
        text = check_text(q)
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise _invalid("limit", f"limit must lie in 1..{MAX_SUGGESTIONS}")
        if not text.strip():
            return SuggestPage(hits=[], processing_ms=_elapsed_ms(started))
        key = ("suggest", text, limit, self.locale, self.engine.generation()) if self.cache is not None else None
        hits: list[SearchHitOut] | None = self.cache.get(key) if self.cache is not None else None
        if hits is None:
            try:
                found = await self.engine.suggest(text, limit, self.locale)
            except EngineUnavailable as exc:
                raise SearchUnavailable(
                    f"the {self.engine.name} search engine cannot answer now; retry shortly"
                ) from exc
            hits = [render_hit(hit, self.locale, with_distance=False) for hit in found[:limit]]
            if self.cache is not None:
                self.cache.put(key, hits)
        return SuggestPage(hits=hits, processing_ms=_elapsed_ms(started))

    async def _require_commune(self, code: str) -> None:
        """``InvalidParameter`` (422) unless ``code`` is a 2025 commune of the catalogue (the known codes are read
        once a minute per process: the 99 units change only with a new import)."""
        if self.read_path is None:
            return
        known = _KNOWN_COMMUNES.get(self.read_path)
        if known is not None and known[0] > time.monotonic() and code in known[1]:
            return
        async with self.read_path.connect() as reader:
            if await guide_repository.commune_names(reader, [code]):
                codes = await search_repository.commune_codes(reader)
                _KNOWN_COMMUNES[self.read_path] = (time.monotonic() + KNOWN_COMMUNES_SECONDS, codes)
                return
            former = await guide_repository.former_unit(reader, code)
        hint = f" ({code} is a pre-2025 code, now part of {former.commune_code})" if former else ""
        raise _invalid("commune", f"{code} is not a 2025 commune code{hint}")


#: A search whose words match nothing together is retried with at most this many words dropped from the end.
MAX_DROPPED_WORDS = 3
#: How long a process trusts its list of 2025 commune codes (a code unknown to it is always checked again).
KNOWN_COMMUNES_SECONDS = 60.0
_KNOWN_COMMUNES: "WeakKeyDictionary[ReadPath, tuple[float, frozenset[str]]]" = WeakKeyDictionary()

#: Default window of the zero-result report, and the most rows it returns.
ZERO_RESULTS_DAYS = 30
MAX_REPORT_ROWS = 500


async def zero_results(read_path: ReadPath, since: datetime | None, limit: int) -> ZeroResultReport:
    """The board's report of queries that found nothing since ``since`` (default: the last 30 days), from the
    search log. ``InvalidParameter`` (422) for a ``since`` without a UTC offset (RFC 3339 needs one)."""
    if since is None:
        since = utcnow() - timedelta(days=ZERO_RESULTS_DAYS)
    elif since.utcoffset() is None:
        raise _invalid("since", "since needs a UTC offset, e.g. 2026-12-01T00:00:00Z (RFC 3339)")
    since = since.astimezone(UTC)
    async with read_path.connect() as reader:
        rows = await search_repository.zero_result_queries(reader, since=since, limit=limit)
    items = [ZeroResultQuery(query=q, searches=n, last_searched_at=at) for q, n, at in rows]
    return ZeroResultReport(since=since, items=items)


def logged_filters(query: SearchQuery) -> dict[str, Any]:
    """The filters of ``query`` as the search log keeps them: sorted value lists, the point rounded to
    ``LOGGED_POINT_DECIMALS`` decimals (no more precise location is stored), radius in km."""
    filters: dict[str, Any] = {}
    if query.types:
        filters["types"] = sorted(query.types)
    if query.kinds:
        filters["kinds"] = sorted(query.kinds)
    if query.communes:
        filters["communes"] = sorted(query.communes)
    if query.near is not None:
        filters["near"] = {
            "lat": round(query.near.lat, LOGGED_POINT_DECIMALS),
            "lon": round(query.near.lon, LOGGED_POINT_DECIMALS),
        }
    if query.radius_m is not None:
        filters["radius_km"] = round(query.radius_m / 1000.0, 3)
    if query.sort != "relevance":
        filters["sort"] = query.sort
    if query.facets:
        filters["facets"] = sorted(query.facets)
    if query.offset:
        filters["offset"] = query.offset
    filters["limit"] = query.limit
    return filters


__all__ = [
    "ALLOWED_FACETS",
    "ALLOWED_KINDS",
    "ALLOWED_TYPES",
    "SearchParams",
    "SearchService",
    "check_text",
    "logged_filters",
    "marked",
    "render_hit",
    "split_values",
    "zero_results",
]
