"""The production search engine: a Meilisearch server, through the official ``meilisearch`` client (0.43, sync).

Calls
    The client is synchronous (``requests``, no session); every call runs in a worker thread (``asyncio.to_thread``)
    with a client made for that call (a few plain objects, no connection): a client's ``HttpRequests`` sets or
    removes ``Content-Type`` in its one headers dict on every request, so a client shared by threads could send a
    POST without it while another thread's GET goes through the same client. Every HTTP call has
    the timeout ``timeout_seconds``; every task wait (``GET /tasks/{uid}`` polled every 50 ms) gives up after the same
    time. A connection error, a timeout, a 5xx, a refused key or a missing index raise
    :class:`~src.search.port.EngineUnavailable`; a task that ends ``failed`` or ``canceled`` raises
    :class:`MeiliTaskFailed` (an ``EngineUnavailable``) with the task's error code and message; any other answer
    Meilisearch refuses raises :class:`MeiliRequestFailed` (also an ``EngineUnavailable``: the API answers 503).

Records (``to_meili_record``)
    ``documents.to_record(doc)`` plus ``id`` (the primary key, a copy of ``key``), ``_geo`` (``{"lat", "lng"}``,
    Meilisearch's geo field), ``other_names`` (names in locales the settings do not list), ``forms`` (every name,
    alias and former name through ``src.search.text.normalise``, with its compact and joined forms: ``Sa Pa`` ->
    ``sa pa``, ``sapa``) and ``cjk_chars`` (each Han/Hangul/kana character of those texts). Settings:
    ``src/search/index_settings.py``.

Searches
    The query text is sent normalised, with each CJK character as a word of its own (so Meilisearch's Chinese and
    Korean segmenters cannot cut the query differently from a document); documents are then kept only when they hold
    every character bigram of each CJK run of the query, the rule tantivy applies. Filters are built by code from the
    typed ``SearchQuery`` (:func:`build_filter`), every value a quoted string literal. A candidate pool (200, or 1,000
    for pages beyond the 200th hit) is fetched with ``matchingStrategy: "all"`` (every query word must match), sorted
    by ``_geoPoint`` for a distance sort and by importance then key for a browse without words; a radius is sent
    0.1 % + 1 m wider than asked and applied exactly in Python with ``src.guide.geo.distances_m``. The pool is
    re-ranked by ``src.search.ranking.rank``; a candidate in which the shared ranker finds none of the query's words
    is dropped (Meilisearch's own word splitting and n-grams, or its placeholder fallback when its tokeniser keeps
    no word of the query, are not hits), and the rest is paged. When the pool holds every match, ``estimated_total``
    and the facet counts are counted exactly over the kept candidates; otherwise they are Meilisearch's
    ``estimatedTotalHits`` and ``facetDistribution`` (and a full pool without one kept candidate means no match).

Rebuilds
    ``rebuild`` creates ``<uid>_<UTC timestamp>``, applies the settings, adds the documents in batches (waiting for
    each task), creates an empty ``<uid>`` on the first run, swaps the two (``POST /swap-indexes``, atomic for
    readers) and deletes the old content. On any failure before the swap succeeded, the deletion of the new index is
    enqueued and the error raised: ``<uid>`` keeps its content. (A swap that only timed out still runs before that
    deletion, since Meilisearch runs tasks in order: ``<uid>`` then holds the new content, and the caller, told of
    the error, rebuilds again.)

Fingerprint
    Stored as the document ``{"id": "fingerprint", "value": ...}`` of a one-document index ``<uid>_meta``: it lives on
    the server beside the index (every process of the API sees the same value) and survives restarts and rebuilds.
    ``fingerprint()`` answers ``None`` when ``<uid>`` does not exist, whatever the meta index says.
"""

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import meilisearch
import pydantic
from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError, MeilisearchTimeoutError
from meilisearch.models.task import Task, TaskInfo

from src.guide.geo import distances_m
from src.search.documents import from_record, to_record
from src.search.index_settings import MEILI_SETTINGS, MEILI_SETTINGS_VERSION, PRIMARY_KEY, SERVED_NAME_LOCALES
from src.search.port import (
    MAX_HITS,
    MAX_QUERY_WORDS,
    MAX_SUGGESTIONS,
    EngineUnavailable,
    Facet,
    GeoPoint,
    Progress,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from src.search.ranking import rank, to_hits
from src.search.text import (
    Analysed,
    analyse,
    analyse_query,
    cjk_grams,
    cjk_query_grams,
    is_cjk,
    joined_forms,
    normalise,
)

logger = logging.getLogger("laocai.search.meilisearch")

T = TypeVar("T")

#: Candidates re-ranked per query (the lead's rule): 200, or ``MAX_HITS`` when the page reaches past the 200th.
POOL = 200
#: Documents per ``POST /indexes/{uid}/documents`` during a rebuild or an upsert.
BATCH_SIZE = 1000
TASK_POLL_MS = 50
#: Meilisearch ignores words longer than this many bytes (milli's ``MAX_WORD_LENGTH``); no place name has one, so a
#: query holding such a word matches nothing (sending it could leave Meilisearch a query without words: everything).
MAX_WORD_BYTES = 250
#: ``_geoRadius`` is sent this much wider (relative, then metres) and the exact radius applied in Python, so a
#: point on the edge is never lost to a different Earth radius or rounding on the server.
RADIUS_SLACK_RELATIVE = 1e-3
RADIUS_SLACK_M = 1.0
FINGERPRINT_DOCUMENT = "fingerprint"

#: Facet name (``port.Facet``) -> record attribute.
FACET_ATTRIBUTES: Mapping[str, str] = {Facet.TYPE: "type", Facet.KIND: "kind", Facet.COMMUNE: "commune_code"}
#: What a search hit must carry to be turned back into a ``SearchDocument`` (not the adapter's own fields).
RETRIEVED_ATTRIBUTES = (
    "key",
    "type",
    "ref",
    "kind",
    "commune_code",
    "names",
    "aliases",
    "former_names",
    "commune_names",
    "commune_unit_type",
    "lat",
    "lon",
    "importance",
)
#: Meilisearch's index uid alphabet (the uid is also part of request paths); 400 bytes at most, minus our suffixes.
_INDEX_UID = re.compile(r"[A-Za-z0-9_-]{1,350}")
_LOCALE_OF_SCRIPT = (("\u1100", "\u11ff", "kor"), ("\u3130", "\u318f", "kor"), ("\uac00", "\ud7af", "kor"))


class MeiliRequestFailed(EngineUnavailable):
    """Meilisearch refused a request (HTTP ``status``, Meilisearch error ``code`` such as ``index_not_found``)."""

    def __init__(self, message: str, *, status: int | None, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class MeiliTaskFailed(EngineUnavailable):
    """A Meilisearch task ended ``failed`` or ``canceled``; ``code`` and ``message`` are the task's ``error``."""

    def __init__(self, task: Task) -> None:
        error = task.error or {}
        self.task_uid = task.uid
        self.task_type = task.type
        self.status = task.status
        self.code: str | None = error.get("code")
        self.error_message: str | None = error.get("message")
        super().__init__(
            f"Meilisearch task {task.uid} ({task.type}) {task.status}: {self.code or 'no code'}: "
            f"{self.error_message or 'no message'}"
        )


# ---------------------------------------------------------------------------------------------------- filters


def quote(value: str) -> str:
    """``value`` as a double-quoted Meilisearch filter string literal.

    The filter grammar (Meilisearch's ``filter-parser``, v1.4+): inside ``"..."`` a backslash escapes the next
    character, ``\\"`` is a quote and ``\\\\`` a backslash; nothing else is special (``AND``, ``OR``, ``TO``, brackets,
    ``_geoRadius(...)`` are plain text there). So every backslash is doubled and every quote escaped, and the literal
    always ends at the closing quote added here. Raises ``ValueError`` for text that is not valid Unicode (a lone
    surrogate cannot travel in the JSON body).
    """
    value.encode("utf-8")  # raises UnicodeEncodeError (a ValueError) for lone surrogates
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: float, digits: int) -> str:
    """A finite float in fixed-point notation (no exponent: the geo grammar reads plain decimals)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = f"{value:.{digits}f}"
    return text if not text.startswith("-") or float(text) != 0 else text[1:]


def geo_radius(point: GeoPoint, radius_m: float) -> str:
    """``_geoRadius(lat, lng, metres)``, numbers formatted by code (degrees to 7 decimals, about 1 cm)."""
    if not (-90.0 <= point.lat <= 90.0 and -180.0 <= point.lon <= 180.0):
        raise ValueError(f"not a WGS84 point: {point}")
    if not (math.isfinite(radius_m) and radius_m >= 0):
        raise ValueError(f"radius must be a finite number of metres >= 0, not {radius_m!r}")
    return f"_geoRadius({_number(point.lat, 7)}, {_number(point.lon, 7)}, {_number(radius_m, 3)})"


def geo_point_sort(point: GeoPoint) -> str:
    """``_geoPoint(lat, lng):asc``: nearest first."""
    return f"_geoPoint({_number(point.lat, 7)}, {_number(point.lon, 7)}):asc"


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_filter(query: SearchQuery, *, radius_slack: bool = True) -> list[str] | None:
    """The Meilisearch ``filter`` (an array: its strings combine with AND) for the typed filters of ``query``.

    Each value set becomes ``attribute IN ["v1", "v2"]`` (values sorted, each through :func:`quote`); a radius
    becomes :func:`geo_radius` (widened by ``RADIUS_SLACK_*`` unless ``radius_slack`` is false). Attribute names come
    from code, never from the query. Returns ``None`` when the filters can match nothing: a value that is not valid
    Unicode names no document, and a set left empty by dropping it must not turn into "no constraint".
    """
    clauses: list[str] = []
    for attribute, values in (("type", query.types), ("kind", query.kinds), ("commune_code", query.communes)):
        if not values:
            continue
        usable = sorted(value for value in values if _encodable(value))
        if not usable:
            return None
        clauses.append(f"{attribute} IN [{', '.join(quote(value) for value in usable)}]")
    if query.radius_m is not None and query.near is not None:
        radius = query.radius_m
        if radius_slack:
            radius = radius * (1 + RADIUS_SLACK_RELATIVE) + RADIUS_SLACK_M
        clauses.append(geo_radius(query.near, radius))
    return clauses


# ---------------------------------------------------------------------------------------------------- records


def to_meili_record(document: SearchDocument) -> dict[str, Any]:
    """The JSON document stored in Meilisearch for ``document`` (see the module docstring)."""
    record = to_record(document)
    texts = [*document.names.values(), *document.aliases, *document.former_names]
    forms: list[str] = []
    chars: list[str] = []
    for text in texts:
        analysed = analyse(text)
        normal = normalise(text)
        candidates = [normal, analysed.compact, *joined_forms(analysed.words)]
        forms.extend(form for form in candidates if form and form not in forms)
        for run in analysed.cjk:
            chars.extend(char for char in run if char not in chars)
    record[PRIMARY_KEY] = document.key
    record["_geo"] = {"lat": document.lat, "lng": document.lon}
    record["other_names"] = [name for locale, name in document.names.items() if locale not in SERVED_NAME_LOCALES]
    record["forms"] = forms
    record["cjk_chars"] = chars
    return record


def query_text(text: str) -> str:
    """What Meilisearch receives as ``q``: the normalised text, each CJK character a word of its own, at most
    ``MAX_QUERY_WORDS`` words (Meilisearch itself reads only the first ten).

    Normalisation leaves letters, digits and single spaces only, so Meilisearch's query operators (``"..."``
    phrase search, ``-word`` negative search) can never be typed into a search: ``'"sa pa" -market'`` is sent as
    ``sa pa market``."""
    normal = normalise(text)
    spaced = "".join(f" {char} " if is_cjk(char) else char for char in normal)
    return " ".join(spaced.split()[:MAX_QUERY_WORDS])


def _query_locales(text: str) -> list[str]:
    """Meilisearch ``locales`` for the query's CJK characters: ``cmn`` for Han and kana, ``kor`` for Hangul."""
    locales: list[str] = []
    for char in text:
        if not is_cjk(char):
            continue
        locale = next((loc for low, high, loc in _LOCALE_OF_SCRIPT if low <= char <= high), "cmn")
        if locale not in locales:
            locales.append(locale)
    return sorted(locales)


def _cjk_grams_of(document: SearchDocument) -> set[str]:
    grams: set[str] = set()
    for text in (*document.names.values(), *document.aliases, *document.former_names):
        for run in analyse(text).cjk:
            grams.update(cjk_grams(run))
    return grams


def _holds_cjk(document: SearchDocument, analysed: Analysed) -> bool:
    """Whether ``document`` holds every bigram of every CJK run of the query (tantivy's rule for CJK runs)."""
    grams = _cjk_grams_of(document)
    return all(all(gram in grams for gram in cjk_query_grams(run)) for run in analysed.cjk)


def _count_facets(documents: Iterable[SearchDocument], facets: Iterable[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    documents = list(documents)
    for facet in sorted(facets):
        attribute = FACET_ATTRIBUTES.get(facet)
        if attribute is None:
            continue
        counts: dict[str, int] = {}
        for document in documents:
            value = {"type": document.type, "kind": document.kind, "commune_code": document.commune_code}[attribute]
            if value is not None:
                counts[value] = counts.get(value, 0) + 1
        out[facet] = dict(sorted(counts.items()))
    return out


def _distribution(response: Mapping[str, Any], facets: Iterable[str]) -> dict[str, dict[str, int]]:
    distribution = response.get("facetDistribution") or {}
    if not isinstance(distribution, Mapping):
        raise EngineUnavailable("Meilisearch answered a facetDistribution that is not an object")
    out: dict[str, dict[str, int]] = {}
    for facet in sorted(facets):
        attribute = FACET_ATTRIBUTES.get(facet)
        if attribute is None:
            continue
        values = distribution.get(attribute) or {}
        out[facet] = {str(value): int(count) for value, count in sorted(values.items())}
    return out


# ---------------------------------------------------------------------------------------------------- engine


class MeiliEngine:
    """The :class:`~src.search.port.SearchEngine` on the Meilisearch index ``index_uid`` at ``url``.

    Args:
        url: the server (``http://127.0.0.1:7700``). api_key: a key with search, documents, indexes, tasks and
            settings rights (``None``: a server without a master key). index_uid: ``[A-Za-z0-9_-]+``; rebuilds also
            use ``<uid>_<timestamp>`` and the fingerprint ``<uid>_meta``. timeout_seconds: the HTTP timeout of one
            call and the longest wait for one task. batch_size: documents per addition request.
    """

    name = "meilisearch"
    settings_version = MEILI_SETTINGS_VERSION

    def __init__(
        self,
        url: str,
        api_key: str | None,
        index_uid: str,
        timeout_seconds: float,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if not _INDEX_UID.fullmatch(index_uid):
            raise ValueError(f"index_uid must match {_INDEX_UID.pattern}, not {index_uid!r}")
        if not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be > 0")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.url = url.rstrip("/")
        self.api_key = api_key or None
        self.index_uid = index_uid
        self.meta_uid = f"{index_uid}_meta"
        self.timeout_seconds = timeout_seconds
        self.batch_size = batch_size

    # ------------------------------------------------------------------------------------------------ plumbing

    def _client(self) -> meilisearch.Client:
        # requests takes float seconds; the client annotates the timeout as int but passes it through unchanged.
        return meilisearch.Client(self.url, self.api_key, timeout=cast(int, self.timeout_seconds))

    def _run(self, operation: Callable[[meilisearch.Client], T]) -> T:
        """Run ``operation`` with a fresh client, turning every failure into an ``EngineUnavailable``."""
        try:
            return operation(self._client())
        except EngineUnavailable:
            raise
        except MeilisearchApiError as error:
            raise _api_error(error) from error
        except MeilisearchTimeoutError as error:
            raise EngineUnavailable(f"Meilisearch at {self.url} timed out: {error.message}") from error
        except MeilisearchCommunicationError as error:
            raise EngineUnavailable(f"Meilisearch at {self.url} cannot be reached: {error.message}") from error
        except (OSError, pydantic.ValidationError) as error:  # requests' own errors are OSErrors; malformed answers
            raise EngineUnavailable(f"Meilisearch at {self.url} answered unusably: {error}") from error

    async def _call(self, operation: Callable[[meilisearch.Client], T]) -> T:
        return await asyncio.to_thread(self._run, operation)

    def _wait(self, client: meilisearch.Client, info: TaskInfo) -> Task:
        """Wait for a task (at most ``timeout_seconds``); raise :class:`MeiliTaskFailed` unless it succeeded."""
        try:
            task = client.wait_for_task(
                info.task_uid, timeout_in_ms=max(1, round(self.timeout_seconds * 1000)), interval_in_ms=TASK_POLL_MS
            )
        except MeilisearchTimeoutError as error:
            raise EngineUnavailable(
                f"Meilisearch task {info.task_uid} ({info.type}) not finished after {self.timeout_seconds} s"
            ) from error
        if task.status != "succeeded":
            raise MeiliTaskFailed(task)
        return task

    def _index_exists(self, client: meilisearch.Client, uid: str) -> bool:
        try:
            client.get_raw_index(uid)
        except MeilisearchApiError as error:
            if error.code == "index_not_found":
                return False
            raise
        return True

    def _create_index(self, client: meilisearch.Client, uid: str) -> None:
        """Create ``uid`` with our primary key; an index that already exists (a concurrent creation) is fine."""
        try:
            self._wait(client, client.create_index(uid, {"primaryKey": PRIMARY_KEY}))
        except MeiliTaskFailed as error:
            if error.code != "index_already_exists":
                raise

    def _require_index(self, client: meilisearch.Client) -> None:
        if not self._index_exists(client, self.index_uid):
            raise MeiliRequestFailed(
                f"Meilisearch index {self.index_uid!r} does not exist (run a rebuild)",
                status=404,
                code="index_not_found",
            )

    def _add(self, client: meilisearch.Client, uid: str, batch: Sequence[Mapping[str, Any]]) -> None:
        # No primaryKey parameter: every index here is created with it, and documents are never allowed to create
        # an index of their own (it would have none of our settings).
        self._wait(client, client.index(uid).add_documents(list(batch)))

    def _adder(self, uid: str, batch: Sequence[Mapping[str, Any]]) -> Callable[[meilisearch.Client], None]:
        return lambda client: self._add(client, uid, batch)

    # ------------------------------------------------------------------------------------------------ queries

    def _search_params(self, query: SearchQuery, filters: list[str], pool: int, q: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "offset": 0,
            "limit": pool,
            "attributesToRetrieve": list(RETRIEVED_ATTRIBUTES),
            "matchingStrategy": "all",
        }
        if filters:
            params["filter"] = filters
        facets = sorted(FACET_ATTRIBUTES[f] for f in query.facets if f in FACET_ATTRIBUTES)
        if facets:
            params["facets"] = facets
        if query.sort == "distance" and query.near is not None:
            params["sort"] = [geo_point_sort(query.near)]
        elif not q:
            params["sort"] = ["importance:desc", "key:asc"]
        locales = _query_locales(q)
        if locales:
            params["locales"] = locales
        return params

    async def search(self, query: SearchQuery) -> SearchResult:
        """Ranked hits for ``query`` (see the module docstring); raises ``EngineUnavailable``."""
        analysed = analyse_query(query.text)
        q = query_text(query.text)
        filters = build_filter(query)
        empty = SearchResult([], 0, {f: {} for f in sorted(query.facets) if f in FACET_ATTRIBUTES})
        if filters is None or any(len(word.encode()) > MAX_WORD_BYTES for word in q.split()):
            return empty
        needed = query.offset + query.limit
        pool = POOL if needed <= POOL else MAX_HITS
        params = self._search_params(query, filters, pool, q)
        response = await self._call(lambda client: client.index(self.index_uid).search(q, params))
        hits = response.get("hits") if isinstance(response, Mapping) else None
        if not isinstance(hits, list):
            raise EngineUnavailable("Meilisearch answered a search without a hits array")
        try:
            documents = [from_record(hit) for hit in hits]
        except (KeyError, TypeError, ValueError) as error:
            raise EngineUnavailable(f"Meilisearch answered a hit that is not one of our records: {error}") from error
        complete = len(hits) < pool
        if analysed.cjk:
            documents = [d for d in documents if _holds_cjk(d, analysed)]
        candidates: list[tuple[SearchDocument, float | None]]
        if query.near is not None:
            distances = distances_m(query.near.lat, query.near.lon, [(d.lat, d.lon) for d in documents])
            candidates = list(zip(documents, distances, strict=True))
            if query.radius_m is not None:
                radius = query.radius_m
                candidates = [(d, m) for d, m in candidates if m is not None and m <= radius]
        else:
            candidates = [(d, None) for d in documents]
        ranked = rank(candidates, analysed, locale=query.locale, by_distance=query.sort == "distance")
        if not analysed.empty:
            # Meilisearch matches more than the shared rules (split words, n-grams, its own normalisers) and falls
            # back to a placeholder search when none of the query's words survives its tokeniser: a candidate in
            # which the shared ranker finds no query word at all is not a hit (and would have no highlight).
            ranked = [scored for scored in ranked if scored.field is not None]
        if complete:
            total = len(ranked)
            facets = _count_facets((scored.document for scored in ranked), query.facets)
        elif not ranked:  # a full pool without one real match: nothing matches
            return empty
        else:
            total = int(response.get("estimatedTotalHits", response.get("totalHits", len(hits))))
            facets = _distribution(response, query.facets)
        return SearchResult(to_hits(ranked[query.offset : needed], analysed), total, facets)

    async def suggest(self, prefix: str, limit: int, locale: str) -> list[SearchHit]:
        """Type-ahead: the best ``limit`` (at most ``MAX_SUGGESTIONS``) documents for ``prefix``, its last word
        matched as a prefix (Meilisearch's rule for the last query word); empty for a prefix without words."""
        limit = max(0, min(limit, MAX_SUGGESTIONS))
        if limit == 0 or analyse_query(prefix).empty:
            return []
        result = await self.search(SearchQuery(text=prefix, limit=limit, locale=locale))
        return result.hits

    # ------------------------------------------------------------------------------------------------ writes

    async def rebuild(self, documents: Sequence[SearchDocument], progress: Progress | None = None) -> None:
        """Build ``<uid>_<UTC timestamp>`` aside and swap it in (see the module docstring)."""
        records = [to_meili_record(document) for document in documents]
        total = len(records)
        new_uid = f"{self.index_uid}_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        if progress is not None:
            progress(0, total)
        try:
            await self._call(
                lambda client: self._wait(client, client.create_index(new_uid, {"primaryKey": PRIMARY_KEY}))
            )
            body = MEILI_SETTINGS.body()
            await self._call(lambda client: self._wait(client, client.index(new_uid).update_settings(body)))
            done = 0
            for start in range(0, total, self.batch_size):
                batch = records[start : start + self.batch_size]
                await self._call(self._adder(new_uid, batch))
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            await self._call(self._ensure_target)
            swap: list[Mapping[str, list[str] | bool]] = [{"indexes": [self.index_uid, new_uid]}]
            await self._call(lambda client: self._wait(client, client.swap_indexes(swap)))
        except BaseException:
            with contextlib.suppress(Exception):
                await self._call(lambda client: client.delete_index(new_uid))
            raise
        try:  # new_uid now holds the previous content
            await self._call(lambda client: self._wait(client, client.delete_index(new_uid)))
        except EngineUnavailable as error:
            logger.warning(
                "rebuild of %s done, but the previous content (%s) was not deleted: %s", self.index_uid, new_uid, error
            )

    def _ensure_target(self, client: meilisearch.Client) -> None:
        """First run: ``<uid>`` must exist to be swapped, so create it empty."""
        if not self._index_exists(client, self.index_uid):
            self._create_index(client, self.index_uid)

    async def upsert(self, documents: Iterable[SearchDocument]) -> None:
        """Add or replace documents by key (``EngineUnavailable`` when ``<uid>`` does not exist: rebuild first)."""
        records = [to_meili_record(document) for document in documents]
        if not records:
            return
        await self._call(self._require_index)
        for start in range(0, len(records), self.batch_size):
            batch = records[start : start + self.batch_size]
            await self._call(self._adder(self.index_uid, batch))

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove documents by key (``POST /indexes/{uid}/documents/delete-batch``); unknown keys are no error."""
        ids = list(dict.fromkeys(keys))
        if not ids:
            return

        def operation(client: meilisearch.Client) -> None:
            index = client.index(self.index_uid)
            # The documented delete-batch route; the client's delete_documents(ids=...) sends the same request but
            # warns DeprecationWarning for its id list.
            answer = index.http.post(f"{index.config.paths.index}/{self.index_uid}/documents/delete-batch", ids)
            self._wait(client, TaskInfo(**answer))

        await self._call(operation)

    async def fingerprint(self) -> str | None:
        """The value stored by :meth:`set_fingerprint`, or ``None`` (no ``<uid>``, no meta index or document)."""

        def operation(client: meilisearch.Client) -> str | None:
            if not self._index_exists(client, self.index_uid):
                return None
            try:
                document = client.index(self.meta_uid).get_document(FINGERPRINT_DOCUMENT)
            except MeilisearchApiError as error:
                if error.code in ("index_not_found", "document_not_found"):
                    return None
                raise
            value = dict(document).get("value")
            return value if isinstance(value, str) else None

        return await self._call(operation)

    async def set_fingerprint(self, value: str) -> None:
        """Store ``value`` in ``<uid>_meta`` (created on first use), waiting for the task."""

        def operation(client: meilisearch.Client) -> None:
            if not self._index_exists(client, self.meta_uid):
                self._create_index(client, self.meta_uid)
            record = {
                PRIMARY_KEY: FINGERPRINT_DOCUMENT,
                "value": value,
                "index": self.index_uid,
                "settings_version": self.settings_version,
                "at": datetime.now(UTC).isoformat(),
            }
            self._add(client, self.meta_uid, [record])

        await self._call(operation)

    def generation(self) -> None:
        """Meilisearch gives no cheap sign that another process changed the index: cached results rely on their
        time to live alone (``src/search/cache.py``)."""
        return None

    async def ping(self) -> None:
        """``GET /health`` must answer ``{"status": "available"}``."""
        health = await self._call(lambda client: client.health())
        if not isinstance(health, Mapping) or health.get("status") != "available":
            raise EngineUnavailable(f"Meilisearch at {self.url} is not available: {health!r}")

    async def drop(self) -> None:
        """Delete ``<uid>`` and ``<uid>_meta`` (tests and decommissioning); missing indexes are no error."""

        def operation(client: meilisearch.Client) -> None:
            for uid in (self.index_uid, self.meta_uid):
                try:
                    self._wait(client, client.delete_index(uid))
                except (MeiliTaskFailed, MeilisearchApiError) as error:
                    if error.code != "index_not_found":
                        raise

        await self._call(operation)

    async def close(self) -> None:
        """Nothing to release: each call opens and closes its own connection (the client keeps no session)."""


def _api_error(error: MeilisearchApiError) -> EngineUnavailable:
    status = getattr(error, "status_code", None)
    code = error.code if isinstance(error.code, str) else None
    if status is not None and status >= 500:
        return EngineUnavailable(f"Meilisearch failed ({status}): {error.message}")
    return MeiliRequestFailed(
        f"Meilisearch refused the request ({status} {code}): {error.message}", status=status, code=code
    )


__all__ = [
    "FACET_ATTRIBUTES",
    "MeiliEngine",
    "MeiliRequestFailed",
    "MeiliTaskFailed",
    "build_filter",
    "geo_point_sort",
    "geo_radius",
    "query_text",
    "quote",
    "to_meili_record",
]
