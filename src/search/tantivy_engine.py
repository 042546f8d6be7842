"""The embedded search engine: a tantivy index under ``<data_dir>/search`` (the PyPI ``tantivy`` package, 0.27).

Layout and processes
    The index lives in ``<directory>/index-<settings_version>``: a schema change gets a new folder, so a process
    running older code never opens an index it cannot read. tantivy allows one ``IndexWriter`` per folder (a lock
    file, STACK-NOTES); every write here takes the writer, commits and releases it at once, under a process lock, and
    waits (up to ``WRITER_WAIT_SECONDS``) while another process holds it. Several server processes share the folder:
    readers use tantivy's ``OnCommit`` reload policy (it watches ``meta.json``), and each query also checks the
    file's modification time at most every ``reload_seconds``, so a commit by another process is seen within about
    a second. A full rebuild deletes every document and adds the new ones in **one commit**: readers see the old
    index until that commit, then the new one, never a half.

Analysis (same rules as Meilisearch, from ``src/search/text.py``)
    Text is normalised in Python first (NFKC, marks stripped, ``đ`` -> ``d``, case-folded) and then passes the
    registered analyzer ``laocai_fold`` (simple tokenizer, lowercase, ASCII folding), so the index and the queries
    meet on the same terms whatever Unicode form arrives. Word fields hold every name's words plus their joined forms
    (``sa pa`` -> ``sapa``). CJK runs go to a field analysed by ``laocai_cjk`` (character 1- and 2-grams): tantivy
    has no Chinese or Korean word splitter.

Queries
    Each query word must match (exact term, a fuzzy term within its typo budget, or a prefix for the last word) in a
    name, alias or former-name field; the whole query written together (``fan si pan`` -> ``fansipan``) is an
    alternative. Filters are term-set queries on raw fast fields; a radius is pre-filtered with float range queries
    on ``lat``/``lon`` (tantivy has no geo type) and then checked exactly with the haversine distance. Facet counts
    come from ``Searcher.aggregate`` (terms aggregations over fast fields). The candidates are then re-ranked by the
    shared ranker (``src/search/ranking.py``) so ties never depend on segment layout.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy

from src.guide.geo import circle_box, distances_m
from src.search.documents import from_record, to_record
from src.search.port import (
    MAX_HITS,
    EngineUnavailable,
    Facet,
    Progress,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from src.search.ranking import rank, to_hits
from src.search.text import Analysed, analyse, analyse_query, cjk_query_grams, joined_forms, typo_budget

logger = logging.getLogger("laocai.search.tantivy")

#: Bump when the schema or the analysis changes: a new index folder is then built.
SCHEMA_VERSION = "3"
WRITER_HEAP_BYTES = 50_000_000
WRITER_WAIT_SECONDS = 30.0
#: Candidates re-ranked per query: enough for the first pages; deeper pages re-rank up to ``MAX_HITS``.
POOL = 200
#: With a radius, every candidate inside the circle's box is checked exactly, up to this many.
GEO_CAP = 20_000
#: Half the Earth's circumference (metres, mean radius): a circle this wide holds every point.
HALF_CIRCUMFERENCE_M = 20_015_087.0
DOC_CACHE_SIZE = 100_000
FINGERPRINT_FILE = "laocai-fingerprint.json"
_FACET_FIELDS = {Facet.TYPE: "type", Facet.KIND: "kind", Facet.COMMUNE: "commune"}
#: Boosts per field: a name outweighs an alias, an alias a former name; an exact term outweighs a fuzzy one.
_FIELD_BOOSTS = (("name_words", 4.0), ("alias_words", 2.5), ("former_words", 1.0))


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("key", stored=False, tokenizer_name="raw", index_option="basic")
    for name in ("type", "kind", "commune"):
        builder.add_text_field(name, stored=False, fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("browse", stored=False, fast=True, tokenizer_name="raw", index_option="basic")
    for name, _boost in _FIELD_BOOSTS:
        builder.add_text_field(name, stored=False, tokenizer_name="laocai_fold", index_option="freq")
    builder.add_text_field("cjk", stored=False, tokenizer_name="laocai_cjk", index_option="freq")
    builder.add_float_field("lat", stored=False, indexed=True, fast=True)
    builder.add_float_field("lon", stored=False, indexed=True, fast=True)
    builder.add_float_field("importance", stored=False, indexed=False, fast=True)
    builder.add_unsigned_field("rev", stored=False, indexed=False, fast=True)
    builder.add_bytes_field("record", stored=True, indexed=False)
    return builder.build()


def _register_analyzers(index: tantivy.Index) -> None:
    fold = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )
    index.register_tokenizer("laocai_fold", fold)
    index.register_tokenizer("laocai_cjk", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.ngram(1, 2, False)).build())


def _count(result: tantivy.SearchResult) -> int:
    """The match count of a search run with ``count=True`` (the stubs do not declare the attribute)."""
    return int(getattr(result, "count", 0) or 0)


def browse_key(document: SearchDocument) -> str:
    """The order of a browse without words: importance (highest first), then key, as one sortable string."""
    return f"{10000 - round(document.importance * 10000):05d}|{document.key}"


def _words(texts: Iterable[str]) -> tuple[list[str], list[str]]:
    """(words with their joined forms, CJK runs) of some field values."""
    words: list[str] = []
    cjk: list[str] = []
    for text in texts:
        analysed = analyse(text)
        words.extend(analysed.words)
        words.extend(joined_forms(analysed.words))
        cjk.extend(analysed.cjk)
    return words, cjk


def _tantivy_document(document: SearchDocument) -> tuple[tantivy.Document, int]:
    record = json.dumps(to_record(document), ensure_ascii=False, sort_keys=True).encode()
    rev = int.from_bytes(hashlib.blake2b(record, digest_size=8).digest(), "big")
    name_words, name_cjk = _words(document.names.values())
    alias_words, alias_cjk = _words(document.aliases)
    former_words, former_cjk = _words(document.former_names)
    doc = tantivy.Document()
    doc.add_text("key", document.key)
    doc.add_text("type", document.type)
    doc.add_text("kind", document.kind)
    if document.commune_code:
        doc.add_text("commune", document.commune_code)
    doc.add_text("browse", browse_key(document))
    doc.add_text("name_words", " ".join(name_words))
    doc.add_text("alias_words", " ".join(alias_words))
    doc.add_text("former_words", " ".join(former_words))
    for run in (*name_cjk, *alias_cjk, *former_cjk):
        doc.add_text("cjk", run)
    doc.add_float("lat", document.lat)
    doc.add_float("lon", document.lon)
    doc.add_float("importance", document.importance)
    doc.add_unsigned("rev", rev)
    doc.add_bytes("record", record)
    return doc, rev


class TantivyEngine:
    """The :class:`~src.search.port.SearchEngine` on an embedded tantivy index in ``directory``.

    Raises :class:`EngineUnavailable` when the folder cannot be opened or written (permissions, disk, lock held
    longer than ``WRITER_WAIT_SECONDS``).
    """

    name = "tantivy"
    settings_version = f"tantivy-{SCHEMA_VERSION}"

    def __init__(self, directory: Path, *, reload_seconds: float = 1.0) -> None:
        self.directory = directory
        self.path = directory / f"index-{SCHEMA_VERSION}"
        self.reload_seconds = reload_seconds
        self._schema = _schema()
        self._index: tantivy.Index | None = None
        self._open_lock = threading.Lock()
        self._write_lock = asyncio.Lock()
        self._checked_at = 0.0
        self._meta_mtime = 0.0
        self._generation = 0
        self._built = False
        self._docs: OrderedDict[int, SearchDocument] = OrderedDict()

    # ------------------------------------------------------------------------------------------------ opening

    def _open(self) -> tantivy.Index:
        if self._index is not None:
            return self._index
        with self._open_lock:
            if self._index is None:
                try:
                    self.path.mkdir(parents=True, exist_ok=True)
                    index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
                    _register_analyzers(index)
                    index.config_reader(reload_policy="OnCommit")
                except (OSError, ValueError) as error:
                    raise EngineUnavailable(f"search index at {self.path} cannot be opened: {error}") from error
                self._index = index
                self._meta_mtime = self._mtime()
                self._built = (self.path / FINGERPRINT_FILE).exists()
        return self._index

    def _mtime(self) -> float:
        try:
            return (self.path / "meta.json").stat().st_mtime
        except OSError:
            return 0.0

    def _maybe_reload(self) -> tantivy.Index:
        """Reload the reader when ``meta.json`` changed (another process committed), at most every
        ``reload_seconds``."""
        index = self._open()
        now = time.monotonic()
        if now - self._checked_at >= self.reload_seconds:
            self._checked_at = now
            self._built = (self.path / FINGERPRINT_FILE).exists()
            mtime = self._mtime()
            if mtime != self._meta_mtime:
                self._meta_mtime = mtime
                self._generation += 1
                with contextlib.suppress(ValueError):
                    index.reload()
        return index

    def generation(self) -> int | None:
        """A number that changes whenever this process's reader moves to a newer commit (ours or another
        process's): the key of cached results (``src/search/cache.py``); ``None`` while the index cannot be opened
        (the search itself then answers with ``EngineUnavailable``)."""
        try:
            self._maybe_reload()
        except EngineUnavailable:
            return None
        return self._generation

    def _searcher(self) -> tantivy.Searcher:
        index = self._maybe_reload()
        if not self._built:
            raise EngineUnavailable(f"the search index at {self.path} has not been built yet (laocai reindex)")
        try:
            return index.searcher()
        except ValueError as error:
            raise EngineUnavailable(f"search index at {self.path} cannot be read: {error}") from error

    # ------------------------------------------------------------------------------------------------ queries

    def _word_clause(self, word: str, *, last: bool) -> tantivy.Query:
        schema = self._schema
        budget = typo_budget(word)
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for field, boost in _FIELD_BOOSTS:
            clauses.append(
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boost_query(tantivy.Query.term_query(schema, field, word), boost * 2),
                )
            )
            if budget:
                fuzzy = tantivy.Query.fuzzy_term_query(
                    schema, field, word, distance=budget, transposition_cost_one=True
                )
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(fuzzy, boost)))
            if last:
                prefix = tantivy.Query.fuzzy_term_query(
                    schema, field, word, distance=budget, transposition_cost_one=True, prefix=True
                )
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(prefix, boost)))
        return tantivy.Query.boolean_query(clauses)

    def _text_query(self, analysed: Analysed) -> tantivy.Query | None:
        if analysed.empty:
            return None
        schema = self._schema
        must: list[tuple[tantivy.Occur, tantivy.Query]] = []
        last = len(analysed.words) - 1
        for i, word in enumerate(analysed.words):
            must.append((tantivy.Occur.Must, self._word_clause(word, last=i == last and not analysed.cjk)))
        for run in analysed.cjk:
            grams = cjk_query_grams(run)
            run_query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tantivy.Query.term_query(schema, "cjk", gram)) for gram in grams]
            )
            must.append((tantivy.Occur.Must, run_query))
        words_query = tantivy.Query.boolean_query(must)
        if len(analysed.words) < 2 or analysed.cjk:
            return words_query
        # "fan si pan" -> "fansipan": the whole query written together is an alternative.
        together = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(schema, field, analysed.compact))
                for field, _boost in _FIELD_BOOSTS
            ]
        )
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, words_query), (tantivy.Occur.Should, together)])

    def _filters(self, query: SearchQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        schema = self._schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for field, values in (("type", query.types), ("kind", query.kinds), ("commune", query.communes)):
            if values:
                clauses.append((tantivy.Occur.Must, tantivy.Query.term_set_query(schema, field, sorted(values))))
        return clauses

    def _geo_box(self, query: SearchQuery, radius_m: float) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        assert query.near is not None
        box = circle_box(query.near.lat, query.near.lon, radius_m)
        schema, float_type = self._schema, tantivy.FieldType.Float
        return [
            (tantivy.Occur.Must, tantivy.Query.range_query(schema, "lat", float_type, box.min_lat, box.max_lat)),
            (tantivy.Occur.Must, tantivy.Query.range_query(schema, "lon", float_type, box.min_lon, box.max_lon)),
        ]

    @staticmethod
    def _combine(text: tantivy.Query | None, clauses: list[tuple[tantivy.Occur, tantivy.Query]]) -> tantivy.Query:
        if text is None and not clauses:
            return tantivy.Query.all_query()
        if text is None:
            return tantivy.Query.boolean_query(clauses)
        if not clauses:
            return text
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, text), *clauses])

    def _documents(self, searcher: tantivy.Searcher, addresses: Sequence[tantivy.DocAddress]) -> list[SearchDocument]:
        """The documents at ``addresses``, from a content-addressed cache (``rev`` fast field) or the doc store."""
        revs = [None if rev is None else int(rev) for rev in searcher.fast_field_values("rev", list(addresses))]
        out: list[SearchDocument] = []
        cache = self._docs
        for address, rev in zip(addresses, revs, strict=True):
            document = cache.get(rev) if rev is not None else None
            if document is None:
                stored = searcher.doc(address)
                document = from_record(json.loads(bytes(stored["record"][0])))
                if rev is not None:
                    cache[rev] = document
                    if len(cache) > DOC_CACHE_SIZE:
                        cache.popitem(last=False)
            out.append(document)
        return out

    def _facets(
        self, searcher: tantivy.Searcher, query: tantivy.Query, facets: frozenset[str]
    ) -> dict[str, dict[str, int]]:
        if not facets:
            return {}
        aggregations = {
            facet: {"terms": {"field": _FACET_FIELDS[Facet(facet)], "size": 1000}} for facet in sorted(facets)
        }
        result = searcher.aggregate(query, aggregations)
        return {
            facet: {bucket["key"]: int(bucket["doc_count"]) for bucket in result[facet]["buckets"]}
            for facet in sorted(facets)
        }

    @staticmethod
    def _pool(
        searcher: tantivy.Searcher, query: tantivy.Query, pool: int
    ) -> tuple[tantivy.SearchResult, list[tantivy.DocAddress]]:
        """The ``pool`` best candidates by engine score, extended by every candidate tied with the last one: which
        of several equal scores tantivy keeps depends on segment layout, so the cut never falls inside a tie."""
        limit = pool + 32
        while True:
            found = searcher.search(query, limit=limit, weight_by_field="importance")
            hits = found.hits
            if len(hits) <= pool:
                return found, [address for _score, address in hits]
            boundary = hits[pool - 1][0]
            end = pool
            while end < len(hits) and hits[end][0] == boundary:
                end += 1
            if end < len(hits) or limit >= GEO_CAP:
                return found, [address for _score, address in hits[:end]]
            limit *= 2

    def _search(self, query: SearchQuery) -> SearchResult:
        searcher = self._searcher()
        analysed = analyse_query(query.text)
        text = self._text_query(analysed)
        filters = self._filters(query)
        needed = query.offset + query.limit
        if query.near is not None and (query.radius_m is not None or query.sort == "distance"):
            return self._geo_search(searcher, query, analysed, text, filters, needed)
        combined = self._combine(text, filters)
        facets = self._facets(searcher, combined, query.facets)
        pool = POOL if needed <= POOL else MAX_HITS
        if text is None:
            found = searcher.search(combined, limit=pool, order_by_field="browse", order=tantivy.Order.Asc)
            addresses = [address for _key, address in found.hits]
        else:
            found, addresses = self._pool(searcher, combined, pool)
        documents = self._documents(searcher, addresses)
        distances: list[float | None]
        if query.near is not None:
            distances = list(distances_m(query.near.lat, query.near.lon, ((d.lat, d.lon) for d in documents)))
        else:
            distances = [None] * len(documents)
        ranked = rank(zip(documents, distances, strict=True), analysed, locale=query.locale)
        page = ranked[query.offset : needed]
        return SearchResult(to_hits(page, analysed), _count(found), facets)

    def _geo_search(
        self,
        searcher: tantivy.Searcher,
        query: SearchQuery,
        analysed: Analysed,
        text: tantivy.Query | None,
        filters: list[tuple[tantivy.Occur, tantivy.Query]],
        needed: int,
    ) -> SearchResult:
        """A radius and/or a distance sort: candidates from a lat/lon box, exact distances, then the order."""
        assert query.near is not None
        base = self._combine(text, filters)
        if query.radius_m is not None:
            inside = self._within(searcher, query, text, filters, query.radius_m)
        else:
            # A distance sort without a radius: widen the circle until it holds the page (or every match). The
            # box count is only a cheap lower bound: the box's corners lie outside the circle, so the circle's own
            # count decides.
            wanted = min(_count(searcher.search(base, limit=1, count=True)), needed)
            radius = 2_000.0
            while True:
                whole_earth = radius >= HALF_CIRCUMFERENCE_M
                box = self._combine(text, filters + self._geo_box(query, radius))
                if whole_earth or _count(searcher.search(box, limit=1, count=True)) >= wanted:
                    inside = self._within(searcher, query, text, filters, radius)
                    if whole_earth or len(inside) >= wanted:
                        break
                radius *= 2
        if query.radius_m is None:
            # Without a radius only the page's order needs the box; totals and facets cover every match.
            estimated_total = _count(searcher.search(base, limit=1, count=True))
            facets = self._facets(searcher, base, query.facets)
        else:
            estimated_total = len(inside)
            facets = {}
            for facet in sorted(query.facets):
                counts: dict[str, int] = {}
                for document, _distance in inside:
                    value = {"type": document.type, "kind": document.kind, "commune": document.commune_code}[facet]
                    if value is not None:
                        counts[value] = counts.get(value, 0) + 1
                facets[facet] = counts
        ranked = rank(inside, analysed, locale=query.locale, by_distance=query.sort == "distance")
        return SearchResult(to_hits(ranked[query.offset : needed], analysed), estimated_total, facets)

    def _within(
        self,
        searcher: tantivy.Searcher,
        query: SearchQuery,
        text: tantivy.Query | None,
        filters: list[tuple[tantivy.Occur, tantivy.Query]],
        radius_m: float,
    ) -> list[tuple[SearchDocument, float]]:
        """Every match within ``radius_m`` of the query point, with its exact distance (box pre-filter first)."""
        assert query.near is not None
        found = searcher.search(self._combine(text, filters + self._geo_box(query, radius_m)), limit=GEO_CAP)
        documents = self._documents(searcher, [address for _score, address in found.hits])
        distances = distances_m(query.near.lat, query.near.lon, ((d.lat, d.lon) for d in documents))
        return [(d, m) for d, m in zip(documents, distances, strict=True) if m <= radius_m]

    def _suggest(self, prefix: str, limit: int, locale: str) -> list[SearchHit]:
        analysed = analyse_query(prefix)
        text = self._text_query(analysed)
        if text is None:
            return []
        searcher = self._searcher()
        _found, addresses = self._pool(searcher, text, POOL)
        documents = self._documents(searcher, addresses)
        ranked = rank(((d, None) for d in documents), analysed, locale=locale)
        return to_hits(ranked[:limit], analysed)

    async def search(self, query: SearchQuery) -> SearchResult:
        """Ranked hits, exact count and facet counts for ``query`` (see the module docstring); ``EngineUnavailable``
        when the index cannot be opened, is not built, or tantivy refuses the query."""
        try:
            return self._search(query)
        except EngineUnavailable:
            raise
        except (OSError, ValueError) as error:
            raise EngineUnavailable(f"search failed: {error}") from error

    async def suggest(self, prefix: str, limit: int, locale: str) -> list[SearchHit]:
        """At most ``limit`` documents matching ``prefix`` (last word as a prefix), re-ranked for ``locale``."""
        try:
            return self._suggest(prefix, limit, locale)
        except EngineUnavailable:
            raise
        except (OSError, ValueError) as error:
            raise EngineUnavailable(f"suggest failed: {error}") from error

    # ------------------------------------------------------------------------------------------------- writes

    def _writer(self) -> tantivy.IndexWriter:
        index = self._open()
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        while True:
            try:
                return index.writer(WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as error:  # LockBusy: another process writes now
                if time.monotonic() > deadline:
                    raise EngineUnavailable(f"search index writer busy for {WRITER_WAIT_SECONDS} s: {error}") from error
                time.sleep(0.05)

    def _write(
        self,
        documents: Sequence[SearchDocument],
        deletes: Sequence[str],
        *,
        replace_all: bool,
        progress: Progress | None,
    ) -> None:
        writer = self._writer()
        try:
            if replace_all:
                writer.delete_all_documents()
            for key in deletes:
                writer.delete_documents_by_term("key", key)
            total = len(documents)
            for done, document in enumerate(documents, start=1):
                if not replace_all:
                    writer.delete_documents_by_term("key", document.key)
                doc, _rev = _tantivy_document(document)
                writer.add_document(doc)
                if progress is not None and (done % 500 == 0 or done == total):
                    progress(done, total)
            writer.commit()
            writer.wait_merging_threads()
        except (OSError, ValueError) as error:
            with contextlib.suppress(Exception):
                writer.rollback()
            raise EngineUnavailable(f"search index write failed: {error}") from error
        finally:
            del writer
        index = self._open()
        index.reload()
        self._meta_mtime = self._mtime()
        self._generation += 1

    async def _run_write(
        self,
        documents: Sequence[SearchDocument],
        deletes: Sequence[str],
        *,
        replace_all: bool,
        progress: Progress | None = None,
    ) -> None:
        async with self._write_lock:
            await asyncio.to_thread(self._write, documents, deletes, replace_all=replace_all, progress=progress)

    async def rebuild(self, documents: Sequence[SearchDocument], progress: Progress | None = None) -> None:
        """Replace every document in one commit (readers see the old index until then), then mark the index built
        with no fingerprint yet (the caller stores it). ``EngineUnavailable`` when the writer cannot be taken."""
        await self._run_write(list(documents), [], replace_all=True, progress=progress)
        await asyncio.to_thread(self._write_state, None)  # built; the caller stores the new fingerprint

    async def upsert(self, documents: Iterable[SearchDocument]) -> None:
        """Add or replace documents by ``key`` in one commit."""
        batch = list(documents)
        if batch:
            await self._run_write(batch, [], replace_all=False)

    async def delete(self, keys: Iterable[str]) -> None:
        """Remove documents by ``key`` in one commit (unknown keys are no error)."""
        batch = list(keys)
        if batch:
            await self._run_write([], batch, replace_all=False)

    async def fingerprint(self) -> str | None:
        """The fingerprint stored beside the index (``FINGERPRINT_FILE``), ``None`` if none."""
        try:
            data = json.loads((self.path / FINGERPRINT_FILE).read_text())
        except (OSError, ValueError):
            return None
        value = data.get("fingerprint") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None

    async def set_fingerprint(self, value: str) -> None:
        """Store ``value`` beside the index, atomically (write then rename)."""
        self._open()
        self._write_state(value)

    def _write_state(self, fingerprint: str | None) -> None:
        """Write ``FINGERPRINT_FILE`` atomically. Its presence says a full rebuild has completed: until then the
        index is not served (an empty or partial index would answer wrong hits with a 200)."""
        target = self.path / FINGERPRINT_FILE
        temporary = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            temporary.write_text(json.dumps({"fingerprint": fingerprint, "at": time.time()}))
            temporary.replace(target)
        except OSError as error:
            raise EngineUnavailable(f"cannot write {target}: {error}") from error
        self._built = True

    async def ping(self) -> None:
        """Return when the index opens, is built and answers a query; ``EngineUnavailable`` otherwise."""
        searcher = self._searcher()
        try:
            searcher.search(tantivy.Query.all_query(), limit=1, count=True)
        except ValueError as error:
            raise EngineUnavailable(f"search index at {self.path} cannot be read: {error}") from error

    async def close(self) -> None:
        """Drop the index handle and the document cache (the next call opens the index again)."""
        self._index = None
        self._docs.clear()


__all__ = ["SCHEMA_VERSION", "TantivyEngine", "browse_key"]
