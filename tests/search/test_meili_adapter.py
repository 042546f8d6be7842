"""The Meilisearch adapter against ``FakeMeilisearchServer``: a FAKE of Meilisearch (a server we do not own).

The fake is a real HTTP server on 127.0.0.1 in a thread. It answers with the response shapes of the Meilisearch API
reference (enqueued task summaries with 202, task objects from ``GET /tasks/{uid}`` that go ``enqueued`` ->
``processing`` -> ``succeeded``/``failed``, error objects ``{message, code, type, link}``), requires JSON
``Content-Type`` on bodies and the bearer key, and records every request. It does not rank or filter like
Meilisearch: its search returns the index's documents in reverse key order (a deliberately bad ranking the adapter
must re-rank), unless a test scripts the answer. The real server runs in the contract suite when ``TEST_MEILI_URL``
is set.
"""

import asyncio
import dataclasses
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from src.guide.geo import haversine_m
from src.search.documents import from_record
from src.search.index_settings import MEILI_SETTINGS, MEILI_SETTINGS_VERSION, MeiliIndexSettings
from src.search.meili_engine import (
    POOL,
    MeiliEngine,
    MeiliRequestFailed,
    MeiliTaskFailed,
    build_filter,
    geo_point_sort,
    geo_radius,
    query_text,
    quote,
    to_meili_record,
)
from src.search.port import EngineUnavailable, GeoPoint, SearchDocument, SearchQuery
from src.search.ranking import query_matches, rank
from src.search.text import analyse_query

KEY = "fake-master-key-for-tests"


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclasses.dataclass
class FakeIndex:
    uid: str
    primary_key: str | None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    created_at: str = ""


class FakeTaskError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(code: str, message: str, kind: str = "invalid_request") -> dict[str, str]:
    return {"message": message, "code": code, "type": kind, "link": f"https://docs.meilisearch.com/errors#{code}"}


class FakeMeilisearchServer:
    """A FAKE Meilisearch server (see the module docstring). Knobs:

    - ``polls_before_done``: a task answers ``processing`` this many times before it runs;
    - ``stall_tasks``: tasks never finish (to test wait timeouts);
    - ``fail_task_types``: task type -> (code, message): such tasks end ``failed`` with that error;
    - ``http_failure``: (status, body) answered to every request but ``/health`` (5xx tests);
    - ``search_responder``: ``(index, body) -> response`` replaces the default search answer.
    """

    def __init__(self, api_key: str | None = KEY) -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.indexes: dict[str, FakeIndex] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self._actions: dict[int, Callable[[], dict[str, Any] | None]] = {}
        self._polls: dict[int, int] = {}
        self.polls_before_done = 1
        self.stall_tasks = False
        self.fail_task_types: dict[str, tuple[str, str]] = {}
        self.http_failure: tuple[int, dict[str, Any]] | None = None
        self.search_responder: Callable[[FakeIndex, dict[str, Any]], dict[str, Any]] | None = None
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-meilisearch", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def calls(self, method: str | None = None, pattern: str = "") -> list[Recorded]:
        return [
            r for r in self.requests if (method is None or r.method == method) and re.fullmatch(pattern or ".*", r.path)
        ]

    # -------------------------------------------------------------------------------------------- tasks

    def _enqueue(self, kind: str, index_uid: str | None, action: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        uid = len(self.tasks)
        enqueued_at = _now()
        self.tasks[uid] = {
            "uid": uid,
            "batchUid": None,
            "indexUid": index_uid,
            "status": "enqueued",
            "type": kind,
            "canceledBy": None,
            "details": {},
            "error": None,
            "duration": None,
            "enqueuedAt": enqueued_at,
            "startedAt": None,
            "finishedAt": None,
        }
        self._actions[uid] = action
        self._polls[uid] = 0
        return {"taskUid": uid, "indexUid": index_uid, "status": "enqueued", "type": kind, "enqueuedAt": enqueued_at}

    def _run_task(self, uid: int) -> None:
        task = self.tasks[uid]
        if task["status"] not in ("enqueued", "processing"):
            return
        task["startedAt"] = _now()
        try:
            if task["type"] in self.fail_task_types:
                raise FakeTaskError(*self.fail_task_types[task["type"]])
            details = self._actions[uid]()
            task["status"] = "succeeded"
            task["details"] = details or {}
        except FakeTaskError as error:
            task["status"] = "failed"
            task["error"] = _error(error.code, error.message)
        task["finishedAt"] = _now()
        task["duration"] = "PT0.001S"

    def _poll(self, uid: int) -> dict[str, Any]:
        task = self.tasks[uid]
        self._polls[uid] += 1
        if task["status"] in ("enqueued", "processing"):
            if self.stall_tasks or self._polls[uid] <= self.polls_before_done:
                task["status"] = "processing"
            else:
                for earlier in sorted(t for t in self.tasks if t <= uid):  # Meilisearch runs tasks in order
                    self._run_task(earlier)
        return dict(task)

    # -------------------------------------------------------------------------------------------- routes

    def _index(self, uid: str) -> FakeIndex:
        if uid not in self.indexes:
            raise FakeTaskError("index_not_found", f"Index `{uid}` not found.")
        return self.indexes[uid]

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["health"] and method == "GET":
            return 200, {"status": "available"}
        if self.http_failure is not None:
            return self.http_failure
        if parts[:1] == ["tasks"] and len(parts) == 2 and method == "GET":
            uid = int(parts[1])
            if uid not in self.tasks:
                return 404, _error("task_not_found", f"Task `{uid}` not found.")
            return 200, self._poll(uid)
        if parts == ["indexes"] and method == "POST":
            uid, primary_key = body["uid"], body.get("primaryKey")

            def create() -> dict[str, Any]:
                if uid in self.indexes:
                    raise FakeTaskError("index_already_exists", f"Index `{uid}` already exists.")
                self.indexes[uid] = FakeIndex(uid, primary_key, created_at=_now())
                return {"primaryKey": primary_key}

            return 202, self._enqueue("indexCreation", uid, create)
        if parts == ["swap-indexes"] and method == "POST":

            def swap() -> dict[str, Any]:
                for pair in body:
                    a, b = pair["indexes"]
                    first, second = self._index(a), self._index(b)
                    first.uid, second.uid = b, a
                    self.indexes[a], self.indexes[b] = second, first
                return {"swaps": body}

            return 202, self._enqueue("indexSwap", None, swap)
        if parts[:1] != ["indexes"] or len(parts) < 2:
            return 404, _error("not_found", "not found")
        uid = parts[1]
        rest = parts[2:]
        if not rest and method == "GET":
            if uid not in self.indexes:
                return 404, _error("index_not_found", f"Index `{uid}` not found.")
            index = self.indexes[uid]
            return 200, {
                "uid": uid,
                "primaryKey": index.primary_key,
                "createdAt": index.created_at,
                "updatedAt": _now(),
            }
        if not rest and method == "DELETE":
            return 202, self._enqueue("indexDeletion", uid, lambda: self._delete_index(uid))
        if rest == ["settings"] and method == "PATCH":
            return 202, self._enqueue("settingsUpdate", uid, lambda: self._index(uid).settings.update(body))
        if rest == ["documents"] and method == "POST":
            return 202, self._enqueue("documentAdditionOrUpdate", uid, lambda: self._add(uid, body, query))
        if rest == ["documents", "delete-batch"] and method == "POST":
            return 202, self._enqueue("documentDeletion", uid, lambda: self._delete_documents(uid, body))
        if rest[:1] == ["documents"] and len(rest) == 2 and method == "GET":
            if uid not in self.indexes:
                return 404, _error("index_not_found", f"Index `{uid}` not found.")
            document = self.indexes[uid].documents.get(rest[1])
            if document is None:
                return 404, _error("document_not_found", f"Document `{rest[1]}` not found.")
            return 200, document
        if rest == ["search"] and method == "POST":
            if uid not in self.indexes:
                return 404, _error("index_not_found", f"Index `{uid}` not found.")
            index = self.indexes[uid]
            if self.search_responder is not None:
                return 200, self.search_responder(index, body)
            return 200, self._default_search(index, body)
        return 404, _error("not_found", f"no route {method} {path}")

    def _delete_index(self, uid: str) -> dict[str, Any]:
        self._index(uid)
        del self.indexes[uid]
        return {"deletedDocuments": 0}

    def _add(self, uid: str, documents: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
        if uid not in self.indexes:  # Meilisearch creates the index on the fly (what the adapter must avoid)
            self.indexes[uid] = FakeIndex(uid, query.get("primaryKey", [None])[0], created_at=_now())
        index = self.indexes[uid]
        key = index.primary_key or "id"
        for document in documents:
            if key not in document:
                raise FakeTaskError("missing_document_id", f"Document doesn't have a `{key}` attribute.")
            index.documents[str(document[key])] = document
        return {"receivedDocuments": len(documents), "indexedDocuments": len(documents)}

    def _delete_documents(self, uid: str, ids: list[str]) -> dict[str, Any]:
        index = self._index(uid)
        deleted = sum(1 for i in ids if index.documents.pop(str(i), None) is not None)
        return {"providedIds": len(ids), "deletedDocuments": deleted}

    @staticmethod
    def _default_search(index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
        documents = [index.documents[k] for k in sorted(index.documents, reverse=True)]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 20))
        retrieve = body.get("attributesToRetrieve")
        page = [{k: v for k, v in d.items() if retrieve is None or k in retrieve} for d in documents[offset:][:limit]]
        response: dict[str, Any] = {
            "hits": page,
            "query": body.get("q", ""),
            "processingTimeMs": 1,
            "limit": limit,
            "offset": offset,
            "estimatedTotalHits": len(documents),
        }
        if body.get("facets"):
            distribution: dict[str, dict[str, int]] = {}
            for facet in body["facets"]:
                counts: dict[str, int] = {}
                for document in documents:
                    if document.get(facet) is not None:
                        counts[str(document[facet])] = counts.get(str(document[facet]), 0) + 1
                distribution[facet] = counts
            response["facetDistribution"] = distribution
            response["facetStats"] = {}
        return response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                body: Any = None
                status: int
                answer: Any
                if raw and raw != b"null":
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw
                with fake.lock:
                    fake.requests.append(Recorded(self.command, split.path, parse_qs(split.query), body, headers))
                    if fake.api_key and split.path != "/health":
                        auth = headers.get("authorization", "")
                        if not auth:
                            status, answer = 401, _error("missing_authorization_header", "missing key", "auth")
                        elif auth != f"Bearer {fake.api_key}":
                            status, answer = 403, _error("invalid_api_key", "The provided API key is invalid.", "auth")
                        else:
                            status, answer = fake._checked_route(self.command, split.path, split.query, raw, headers)
                    else:
                        status, answer = fake._checked_route(self.command, split.path, split.query, raw, headers)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve  # noqa: N815 (http.server's names)

        return Handler

    def _checked_route(
        self, method: str, path: str, query: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if method in ("POST", "PATCH", "PUT") and raw and headers.get("content-type") != "application/json":
            return 415, _error("invalid_content_type", "The Content-Type header is missing or not application/json.")
        body = json.loads(raw) if raw else None
        try:
            return self._route(method, path, parse_qs(query), body)
        except FakeTaskError as error:
            return 404, _error(error.code, error.message)


@pytest.fixture
def fake() -> Iterator[FakeMeilisearchServer]:
    server = FakeMeilisearchServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def engine_for(fake: FakeMeilisearchServer, timeout: float = 5.0, **kwargs: Any) -> MeiliEngine:
    return MeiliEngine(fake.url, KEY, "laocai_x", timeout, **kwargs)


def doc(
    ref: str,
    name: str,
    *,
    kind: str = "village",
    commune: str | None = "03006",
    lat: float = 22.336,
    lon: float = 103.843,
    importance: float = 0.2,
    aliases: tuple[str, ...] = (),
    doc_type: str = "destination",
    names: dict[str, str] | None = None,
) -> SearchDocument:
    return SearchDocument(
        key=f"{doc_type}-{ref}",
        type=doc_type,
        ref=ref,
        kind=kind,
        commune_code=commune,
        names=names or {"vi": name},
        aliases=aliases,
        former_names=(),
        commune_names={"vi": "Phường Sa Pa"} if commune else {},
        commune_unit_type="ward" if commune else None,
        lat=lat,
        lon=lon,
        importance=importance,
    )


DOCS = [
    doc("sa-pa", "Sa Pa", kind="town", importance=0.9, names={"vi": "Sa Pa", "zh-Hans": "沙坝", "ko": "사파"}),
    doc("sapa-market", "Chợ Sa Pa", kind="market", importance=0.5, lat=22.3362, lon=103.8420),
    doc("cat-cat", "Bản Cát Cát", importance=0.6, lat=22.3290, lon=103.8330, aliases=("Cat Cat village",)),
    doc("ta-van", "Tả Van", lat=22.2980, lon=103.8950, commune="03010"),
    doc("bac-ha", "Bắc Hà", kind="town", importance=0.8, lat=22.539, lon=104.293, commune="02839"),
]


# -------------------------------------------------------------------------------------------- settings


def test_settings_are_one_versioned_object() -> None:
    body = MEILI_SETTINGS.body()
    assert body["searchableAttributes"][:2] == ["names.vi", "names.en"]
    assert body["searchableAttributes"].index("aliases") < body["searchableAttributes"].index("former_names")
    assert {"forms", "cjk_chars"} <= set(body["searchableAttributes"])
    assert set(body["filterableAttributes"]) == {"type", "kind", "commune_code", "_geo"}
    assert set(body["sortableAttributes"]) == {"_geo", "importance", "key"}
    assert body["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": 5, "twoTypos": 9}
    assert body["pagination"]["maxTotalHits"] >= 1000
    assert body["faceting"]["maxValuesPerFacet"] >= 200
    locales = {loc for rule in body["localizedAttributes"] for loc in rule["locales"]}
    assert {"vie", "eng", "cmn", "fra", "kor"} <= locales
    assert all(set(rule) == {"attributePatterns", "locales"} for rule in body["localizedAttributes"])
    assert body["rankingRules"][0] == "sort"
    assert "importance:desc" in body["rankingRules"]
    # A fresh body each time: editing one cannot edit the shared settings.
    body["searchableAttributes"].clear()
    assert MEILI_SETTINGS.body()["searchableAttributes"]
    # The version is a hash of the body: any change changes it.
    assert f"meilisearch-{MEILI_SETTINGS.version()}" == MEILI_SETTINGS_VERSION
    assert MeiliIndexSettings().version() == MEILI_SETTINGS.version()
    assert dataclasses.replace(MEILI_SETTINGS, one_typo=4).version() != MEILI_SETTINGS.version()
    assert dataclasses.replace(MEILI_SETTINGS, max_values_per_facet=300).version() != MEILI_SETTINGS.version()
    assert MeiliEngine.settings_version == MEILI_SETTINGS_VERSION


def test_records_carry_the_shared_analysis() -> None:
    record = to_meili_record(DOCS[0])
    assert record["id"] == record["key"] == "destination-sa-pa"
    assert record["_geo"] == {"lat": 22.336, "lng": 103.843}
    assert "sapa" in record["forms"]
    assert "sa pa" in record["forms"]
    assert record["cjk_chars"] == ["沙", "坝", "사", "파"]
    other = to_meili_record(doc("x", "X", names={"vi": "Đền Mẫu", "ru": "Храм"}))
    assert "den mau" in other["forms"]
    assert "denmau" in other["forms"]
    assert other["other_names"] == ["Храм"]
    assert query_text("Sa Pả 沙坝") == "sa pa 沙 坝"
    assert query_text('"sa pa" -market') == "sa pa market"  # no phrase or negative-search operators reach q
    assert query_text("a b c d e f g h i j k l m n") == "a b c d e f g h i j k l"


# -------------------------------------------------------------------------------------------- filters

#: A model of Meilisearch's value parser (crates/filter-parser/src/value.rs): ``quoted_by`` finds the closing quote
#: (a backslash skips the next character), replaces ``\"`` by ``"`` when an escaped quote was seen, and then
#: ``unescaper::unescape`` reads the remaining backslash escapes. The model accepts only ``\\`` there and fails on
#: any other escape, so a builder that leaves one fails these tests.


def _parse_quoted(text: str, i: int) -> tuple[str, int]:
    assert text[i] == '"', text[i:]
    i += 1
    start, escaped = i, False
    while text[i] != '"':
        if text[i] == "\\":
            i += 1
            escaped |= text[i] == '"'
        i += 1
    fragment = text[start:i]
    if escaped:
        fragment = fragment.replace('\\"', '"')
    out, j = [], 0
    while j < len(fragment):
        if fragment[j] == "\\":
            assert fragment[j + 1] == "\\", f"unexpected escape in {fragment!r}"
            out.append("\\")
            j += 2
        else:
            out.append(fragment[j])
            j += 1
    return "".join(out), i + 1


def parse_in_clause(clause: str) -> tuple[str, list[str]]:
    match = re.match(r"([a-z_]+) IN \[", clause)
    assert match, clause
    values, i = [], match.end()
    while True:
        value, i = _parse_quoted(clause, i)
        values.append(value)
        if clause[i : i + 2] == ", ":
            i += 2
            continue
        assert clause[i:] == "]", clause[i:]
        return match.group(1), values


HOSTILE = [
    '"',
    '\\"',
    "\\",
    "\\\\",
    '\\\\"',
    'village" OR kind = "hotel',
    "village OR kind = hotel",
    "AND",
    "OR",
    "TO",
    "NOT",
    "1 TO 5",
    "_geoRadius(22.3, 103.8, 100000)",
    "_geoBoundingBox([1, 2], [3, 4])",
    '"] OR type IN ["commune',
    "'",
    "\\'",
    "\\n",
    "\\u{41}",
    "\n\t\r",
    "\x00",
    "",
    " ",
    "[",
    "]",
    ",",
    "(",
    "é" * 50,
    "老街",
    "🏔️",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_stays_one_string_literal(value: str) -> None:
    clauses = build_filter(SearchQuery(kinds=frozenset({value})))
    assert clauses is not None
    assert len(clauses) == 1
    assert parse_in_clause(clauses[0]) == ("kind", [value])


def test_generated_values_round_trip_through_the_grammar() -> None:
    alphabet = ['"', "\\", "'", " ", "[", "]", ",", "(", ")", "=", "!", "<", ">", "a", "Z", "0", "\n", "đ", "沙"]
    words = ["AND", "OR", "TO", "NOT", "IN", "EXISTS", "_geoRadius(1, 2, 3)", "_geoPoint(1,2)", "\\u0041", "\\x41"]
    rng = random.Random(6)
    for _ in range(3000):
        parts = [rng.choice(alphabet) if rng.random() < 0.7 else rng.choice(words) for _ in range(rng.randint(0, 12))]
        values = {"".join(parts) for _ in range(1)} | {"".join(rng.sample(parts, len(parts)))}
        query = SearchQuery(types=frozenset(values), kinds=frozenset({"village"}), communes=frozenset(values))
        clauses = build_filter(query)
        assert clauses is not None
        assert len(clauses) == 3
        parsed = dict(parse_in_clause(clause) for clause in clauses)
        assert parsed == {"type": sorted(values), "kind": ["village"], "commune_code": sorted(values)}


def test_values_that_cannot_be_sent_match_nothing_instead_of_everything() -> None:
    assert build_filter(SearchQuery(kinds=frozenset({"\ud800"}))) is None
    clauses = build_filter(SearchQuery(kinds=frozenset({"\ud800", "village"})))
    assert clauses == ['kind IN ["village"]']
    assert build_filter(SearchQuery()) == []


def test_geo_expressions_are_formatted_by_code() -> None:
    point = GeoPoint(22.33641, 103.84378)
    assert geo_radius(point, 3000) == "_geoRadius(22.3364100, 103.8437800, 3000.000)"
    assert geo_radius(GeoPoint(1e-12, -0.0), 1e-9) == "_geoRadius(0.0000000, 0.0000000, 0.000)"
    assert geo_point_sort(point) == "_geoPoint(22.3364100, 103.8437800):asc"
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="radius must be"):
            geo_radius(point, bad)
    with pytest.raises(ValueError, match="not a WGS84 point"):
        geo_radius(GeoPoint(91, 0), 10)
    clauses = build_filter(SearchQuery(near=point, radius_m=1000))
    assert clauses == ["_geoRadius(22.3364100, 103.8437800, 1002.000)"]  # 0.1 % + 1 m wider; exact in Python
    assert build_filter(SearchQuery(near=point, radius_m=1000), radius_slack=False) == [geo_radius(point, 1000)]


def test_quote_escapes_exactly_backslashes_and_quotes() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert quote("AND _geoRadius(1, 2, 3)") == '"AND _geoRadius(1, 2, 3)"'
    assert quote("\\n") == '"\\\\n"'  # a backslash then n, never a newline


# -------------------------------------------------------------------------------------------- rebuild


async def test_first_rebuild_builds_aside_and_swaps(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake, batch_size=2)
    seen: list[tuple[int, int]] = []
    await engine.rebuild(DOCS, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
    creations = fake.calls("POST", "/indexes")
    new_uid = creations[0].body["uid"]
    assert re.fullmatch(r"laocai_x_\d{20}", new_uid)
    assert creations[0].body == {"uid": new_uid, "primaryKey": "id"}
    assert creations[1].body == {"uid": "laocai_x", "primaryKey": "id"}  # first run: an empty target to swap
    (settings,) = fake.calls("PATCH", f"/indexes/{new_uid}/settings")
    assert settings.body == MEILI_SETTINGS.body()
    additions = fake.calls("POST", f"/indexes/{new_uid}/documents")
    assert [len(a.body) for a in additions] == [2, 2, 1]
    assert all(a.query == {} for a in additions)  # no primaryKey: documents never create an index
    assert additions[0].body[0] == to_meili_record(DOCS[0])
    (swap,) = fake.calls("POST", "/swap-indexes")
    assert swap.body == [{"indexes": ["laocai_x", new_uid]}]
    assert fake.calls("DELETE", f"/indexes/{new_uid}")
    order = [(r.method, r.path) for r in fake.requests if r.method != "GET"]
    assert order.index(("POST", "/swap-indexes")) > max(
        i for i, call in enumerate(order) if call == ("POST", f"/indexes/{new_uid}/documents")
    )
    assert set(fake.indexes) == {"laocai_x"}
    assert set(fake.indexes["laocai_x"].documents) == {d.key for d in DOCS}
    assert fake.indexes["laocai_x"].settings == MEILI_SETTINGS.body()
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in fake.requests)


async def test_second_rebuild_replaces_the_content_and_leaves_no_index_behind(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    await engine.rebuild(DOCS[:2])
    assert set(fake.indexes) == {"laocai_x"}
    assert set(fake.indexes["laocai_x"].documents) == {d.key for d in DOCS[:2]}
    assert [r.body["uid"] for r in fake.calls("POST", "/indexes")].count("laocai_x") == 1


async def test_a_failed_task_raises_its_error_and_leaves_the_live_index_alone(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    fake.fail_task_types["documentAdditionOrUpdate"] = ("invalid_document_geo_field", "The `_geo` field is invalid.")
    with pytest.raises(MeiliTaskFailed) as caught:
        await engine.rebuild(DOCS[:1])
    assert caught.value.code == "invalid_document_geo_field"
    assert "The `_geo` field is invalid." in str(caught.value)
    assert isinstance(caught.value, EngineUnavailable)
    assert not fake.calls("POST", "/swap-indexes")[1:]
    fake.fail_task_types.clear()
    await asyncio.sleep(0)
    deadline = time.monotonic() + 5
    while len(fake.indexes) > 1 and time.monotonic() < deadline:  # the cleanup deletion runs when polled/processed
        with fake.lock:
            for uid in list(fake.tasks):
                fake._run_task(uid)
        await asyncio.sleep(0.01)
    assert set(fake.indexes) == {"laocai_x"}
    assert set(fake.indexes["laocai_x"].documents) == {d.key for d in DOCS}


async def test_a_task_that_never_finishes_times_out(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake, timeout=0.3)
    await engine.rebuild(DOCS)
    fake.stall_tasks = True
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=re.escape("not finished after 0.3 s")):
        await engine.upsert(DOCS[:1])
    assert time.monotonic() - started < 3


# -------------------------------------------------------------------------------------------- failures


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_engine_unavailable() -> None:
    engine = MeiliEngine(f"http://127.0.0.1:{_closed_port()}", None, "laocai_x", 1.0)
    with pytest.raises(EngineUnavailable, match="cannot be reached"):
        await engine.ping()
    with pytest.raises(EngineUnavailable):
        await engine.search(SearchQuery(text="sa pa"))
    with pytest.raises(EngineUnavailable):
        await engine.rebuild(DOCS)
    with pytest.raises(EngineUnavailable):
        await engine.fingerprint()


async def test_server_errors_and_refused_keys_are_engine_unavailable(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    fake.http_failure = (503, _error("internal", "overloaded", "internal"))
    with pytest.raises(EngineUnavailable, match="503"):
        await engine.search(SearchQuery(text="sa pa"))
    fake.http_failure = None
    wrong = MeiliEngine(fake.url, "not-the-key", "laocai_x", 5.0)
    with pytest.raises(MeiliRequestFailed) as caught:
        await wrong.search(SearchQuery(text="sa pa"))
    assert caught.value.status == 403
    assert caught.value.code == "invalid_api_key"
    missing = MeiliEngine(fake.url, KEY, "no_such_index", 5.0)
    with pytest.raises(MeiliRequestFailed) as missing_error:
        await missing.search(SearchQuery(text="sa pa"))
    assert missing_error.value.code == "index_not_found"


async def test_a_slow_server_times_out(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake, timeout=0.2)
    await engine.rebuild(DOCS)

    def slow(index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(1.0)
        return {"hits": []}

    fake.search_responder = slow
    with pytest.raises(EngineUnavailable, match="timed out"):
        await engine.search(SearchQuery(text="sa pa"))


def test_constructor_refuses_what_would_break_requests() -> None:
    for uid in ("", "a/b", "a b", "x" * 351, "../laocai"):
        with pytest.raises(ValueError, match="index_uid"):
            MeiliEngine("http://127.0.0.1:7700", None, uid, 5.0)
    with pytest.raises(ValueError, match="timeout"):
        MeiliEngine("http://127.0.0.1:7700", None, "laocai", 0)
    with pytest.raises(ValueError, match="timeout"):
        MeiliEngine("http://127.0.0.1:7700", None, "laocai", float("nan"))


async def test_ping_reads_health(fake: FakeMeilisearchServer) -> None:
    await engine_for(fake).ping()
    assert fake.calls("GET", "/health")


# -------------------------------------------------------------------------------------------- searches


async def test_search_request_shape(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    near = GeoPoint(22.33641, 103.84378)
    await engine.search(
        SearchQuery(
            text="Sa Pả 沙坝",
            kinds=frozenset({'town" OR kind = "x', "market"}),
            communes=frozenset({"03006"}),
            near=near,
            radius_m=2500,
            sort="distance",
            facets=frozenset({"kind", "commune"}),
            limit=10,
        )
    )
    (search,) = fake.calls("POST", "/indexes/laocai_x/search")
    assert search.headers["content-type"] == "application/json"
    assert search.body["q"] == "sa pa 沙 坝"
    assert search.body["filter"] == [
        'kind IN ["market", "town\\" OR kind = \\"x"]',
        'commune_code IN ["03006"]',
        "_geoRadius(22.3364100, 103.8437800, 2503.500)",
    ]
    assert search.body["sort"] == ["_geoPoint(22.3364100, 103.8437800):asc"]
    assert search.body["facets"] == ["commune_code", "kind"]
    assert search.body["limit"] == POOL
    assert search.body["offset"] == 0
    assert search.body["matchingStrategy"] == "all"
    assert search.body["locales"] == ["cmn"]
    assert "forms" not in search.body["attributesToRetrieve"]
    await engine.search(SearchQuery(offset=900, limit=100))
    browse = fake.calls("POST", "/indexes/laocai_x/search")[-1]
    assert browse.body["q"] == ""
    assert browse.body["limit"] == 1000
    assert browse.body["sort"] == ["importance:desc", "key:asc"]
    assert "filter" not in browse.body
    assert "locales" not in browse.body


async def test_hits_are_re_ranked_and_counted(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    result = await engine.search(SearchQuery(text="sa pa", facets=frozenset({"kind", "commune", "type"})))
    # The fake answered every document in reverse key order: the shared ranker orders them, and the documents in
    # which it finds no query word at all are no hits.
    expected = [s for s in rank(((d, None) for d in DOCS), analyse_query("sa pa"), locale="vi") if s.field]
    assert [h.document.key for h in result.hits] == [s.document.key for s in expected]
    assert [h.document.ref for h in result.hits] == ["sa-pa", "sapa-market"]
    assert result.hits[0].document == DOCS[0]
    highlight = result.hits[0].highlight
    assert highlight is not None
    assert highlight.spans == ((0, 2), (3, 5))
    assert result.estimated_total == 2  # the pool held every match: counted exactly
    assert result.facets == {
        "commune": {"03006": 2},
        "kind": {"market": 1, "town": 1},
        "type": {"destination": 2},
    }
    browse = await engine.search(SearchQuery(facets=frozenset({"kind"})))
    assert [h.document.ref for h in browse.hits] == ["sa-pa", "bac-ha", "cat-cat", "sapa-market", "ta-van"]
    assert browse.estimated_total == 5
    assert browse.facets == {"kind": {"market": 1, "town": 2, "village": 2}}


async def test_a_full_pool_without_a_real_match_is_no_match(fake: FakeMeilisearchServer) -> None:
    # Meilisearch falls back to a placeholder search when its tokeniser keeps no word of the query.
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    record = to_meili_record(DOCS[4])

    def placeholder(index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
        hits = [{**record, "key": f"destination-b{i:03d}", "ref": f"b{i:03d}"} for i in range(body["limit"])]
        return {"hits": hits, "estimatedTotalHits": 2800, "facetDistribution": {"kind": {"town": 2800}}}

    fake.search_responder = placeholder
    result = await engine.search(SearchQuery(text="zzzzqqq", facets=frozenset({"kind"})))
    assert result.hits == []
    assert result.estimated_total == 0
    assert result.facets == {"kind": {}}


async def test_distance_and_exact_radius(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    near = GeoPoint(22.33641, 103.84378)
    result = await engine.search(SearchQuery(near=near, radius_m=1500, sort="distance", facets=frozenset({"kind"})))
    inside = sorted(
        (haversine_m(near.lat, near.lon, d.lat, d.lon), d.key)
        for d in DOCS
        if haversine_m(near.lat, near.lon, d.lat, d.lon) <= 1500
    )
    assert [h.document.key for h in result.hits] == [key for _m, key in inside]
    assert [h.distance_m for h in result.hits] == pytest.approx([m for m, _key in inside])
    assert result.estimated_total == len(inside) == 3
    assert result.facets == {"kind": {"market": 1, "town": 1, "village": 1}}


async def test_cjk_runs_need_their_bigrams(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    assert [h.document.ref for h in (await engine.search(SearchQuery(text="沙坝"))).hits] == ["sa-pa"]
    assert (await engine.search(SearchQuery(text="坝沙"))).hits == []  # both characters, not the bigram
    assert [h.document.ref for h in (await engine.search(SearchQuery(text="사파"))).hits] == ["sa-pa"]
    assert fake.calls("POST", "/indexes/laocai_x/search")[-1].body["locales"] == ["kor"]


async def test_a_full_pool_uses_meilisearch_totals_and_facets(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    record = dict(to_meili_record(DOCS[2]).items())

    def full(index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
        hits = [{**record, "key": f"destination-v{i:03d}", "ref": f"v{i:03d}"} for i in range(body["limit"])]
        return {
            "hits": hits,
            "estimatedTotalHits": 4321,
            "facetDistribution": {"kind": {"village": 4000, "hotel": 321}},
            "limit": body["limit"],
            "offset": 0,
            "processingTimeMs": 3,
            "query": body["q"],
        }

    fake.search_responder = full
    result = await engine.search(SearchQuery(text="cat", facets=frozenset({"kind"}), limit=5))
    assert result.estimated_total == 4321
    assert result.facets == {"kind": {"hotel": 321, "village": 4000}}
    assert [h.document.ref for h in result.hits] == ["v000", "v001", "v002", "v003", "v004"]


async def test_queries_that_cannot_match_are_not_sent(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    before = len(fake.calls("POST", "/indexes/laocai_x/search"))
    result = await engine.search(SearchQuery(text="a" * 10_000, facets=frozenset({"kind"})))
    assert result.hits == []
    assert result.estimated_total == 0
    assert result.facets == {"kind": {}}
    assert (await engine.search(SearchQuery(kinds=frozenset({"\udc00"})))).hits == []
    assert len(fake.calls("POST", "/indexes/laocai_x/search")) == before


async def test_suggest_is_a_capped_prefix_search(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    hits = await engine.suggest("sa p", 50, "vi")
    assert hits[0].document.ref == "sa-pa"
    assert len(hits) <= 10
    assert fake.calls("POST", "/indexes/laocai_x/search")[-1].body["q"] == "sa p"
    assert await engine.suggest("  ", 5, "vi") == []
    assert await engine.suggest("sa", 0, "vi") == []


async def test_concurrent_calls_keep_their_headers(fake: FakeMeilisearchServer) -> None:
    # The client rewrites one headers dict per request: shared across threads, a POST could lose its Content-Type
    # (the fake then answers 415, as Meilisearch does).
    engine = engine_for(fake)
    await engine.rebuild(DOCS)
    for _round in range(5):  # GETs (no Content-Type) interleaved with POSTs (JSON)
        answers = await asyncio.gather(
            *(engine.search(SearchQuery(text="sa pa")) if i % 2 else engine.fingerprint() for i in range(40))
        )
        assert all(a is None if i % 2 == 0 else a.hits[0].document.ref == "sa-pa" for i, a in enumerate(answers))
    posts = [r for r in fake.requests if r.method == "POST"]
    assert posts
    assert all(r.headers.get("content-type") == "application/json" for r in posts)


# -------------------------------------------------------------------------------------------- writes


async def test_upsert_delete_and_their_requests(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    with pytest.raises(MeiliRequestFailed) as caught:
        await engine.upsert(DOCS[:1])  # no index yet: never let documents create one without settings
    assert caught.value.code == "index_not_found"
    assert not fake.calls("POST", "/indexes/laocai_x/documents")
    assert "laocai_x" not in fake.indexes
    await engine.rebuild(DOCS)
    renamed = dataclasses.replace(DOCS[2], names={"vi": "Bản Cát Cát Zyxwv"})
    await engine.upsert([renamed])
    (upsert,) = fake.calls("POST", "/indexes/laocai_x/documents")
    assert upsert.body == [to_meili_record(renamed)]
    assert fake.indexes["laocai_x"].documents[renamed.key]["names"] == {"vi": "Bản Cát Cát Zyxwv"}
    await engine.delete([renamed.key, "destination-no-such-thing", renamed.key])
    (deletion,) = fake.calls("POST", "/indexes/laocai_x/documents/delete-batch")
    assert deletion.body == [renamed.key, "destination-no-such-thing"]
    assert renamed.key not in fake.indexes["laocai_x"].documents
    await engine.upsert([])
    await engine.delete([])
    assert len(fake.calls("POST", "/indexes/laocai_x/documents")) == 1


async def test_fingerprint_lives_in_a_meta_index(fake: FakeMeilisearchServer) -> None:
    engine = engine_for(fake)
    assert await engine.fingerprint() is None
    await engine.rebuild(DOCS)
    assert await engine.fingerprint() is None
    await engine.set_fingerprint("abc123")
    assert await engine.fingerprint() == "abc123"
    assert fake.indexes["laocai_x_meta"].primary_key == "id"
    stored = fake.indexes["laocai_x_meta"].documents["fingerprint"]
    assert stored["value"] == "abc123"
    assert stored["settings_version"] == MEILI_SETTINGS_VERSION
    await engine.set_fingerprint("def456")
    assert await engine.fingerprint() == "def456"
    await engine.rebuild(DOCS[:1])  # a rebuild leaves the stored value to its caller
    assert await engine.fingerprint() == "def456"
    await engine.drop()
    assert await engine.fingerprint() is None
    assert fake.indexes == {}
    await engine.drop()  # nothing left to drop: no error
    await engine.close()


# -------------------------------------------------------------------------------------------- catalogue scale

_GEO_RADIUS = re.compile(r"_geoRadius\(([-\d.]+), ([-\d.]+), ([\d.]+)\)")
_GEO_POINT = re.compile(r"_geoPoint\(([-\d.]+), ([-\d.]+)\):asc")


def idealised_search(index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
    """A FAKE search answer that is not Meilisearch's matching: the shared brute-force rule
    (``ranking.query_matches``), the adapter's own filter strings read back through the grammar model above,
    ``_geoPoint`` and importance sorts, exact facet counts and totals. With it the adapter's post-processing (pool
    sizes, totals and facets of full and partial pools, radius, distance order, paging) runs on the whole
    catalogue; the real server's matching is the contract suite's business (``TEST_MEILI_URL``)."""
    analysed = analyse_query(body.get("q", ""))
    kept: list[tuple[dict[str, Any], SearchDocument]] = []
    for record in index.documents.values():
        document = from_record(record)
        ok = query_matches(document, analysed)
        for clause in body.get("filter") or []:
            geo = _GEO_RADIUS.fullmatch(clause)
            if geo:
                ok = ok and haversine_m(float(geo[1]), float(geo[2]), document.lat, document.lon) <= float(geo[3])
            else:
                attribute, values = parse_in_clause(clause)
                ok = ok and record.get(attribute) in values
        if ok:
            kept.append((record, document))
    sort = body.get("sort") or []
    point = _GEO_POINT.fullmatch(sort[0]) if sort else None
    if point:
        lat, lon = float(point[1]), float(point[2])
        kept.sort(key=lambda rd: (haversine_m(lat, lon, rd[1].lat, rd[1].lon), rd[1].key))
    elif sort:
        kept.sort(key=lambda rd: (-rd[1].importance, rd[1].key))
    else:
        order = {s.document.key: i for i, s in enumerate(rank(((d, None) for _r, d in kept), analysed, locale="vi"))}
        kept.sort(key=lambda rd: order[rd[1].key])
    offset, limit, retrieve = body["offset"], body["limit"], body["attributesToRetrieve"]
    response: dict[str, Any] = {
        "hits": [{k: v for k, v in r.items() if k in retrieve} for r, _d in kept[offset : offset + limit]],
        "estimatedTotalHits": len(kept),
        "offset": offset,
        "limit": limit,
        "processingTimeMs": 1,
        "query": body.get("q", ""),
    }
    if body.get("facets"):
        response["facetDistribution"] = {
            facet: dict(Counter(r[facet] for r, _d in kept if r.get(facet) is not None)) for facet in body["facets"]
        }
    return response


@pytest.fixture
async def catalogue_engine(catalogue_documents: list[SearchDocument]) -> AsyncIterator[MeiliEngine]:
    server = FakeMeilisearchServer()
    server.polls_before_done = 0
    server.search_responder = idealised_search
    server.start()
    try:
        engine = engine_for(server)
        await engine.rebuild(catalogue_documents)
        yield engine
    finally:
        server.stop()


async def test_catalogue_totals_and_facets_of_a_partial_pool(
    catalogue_engine: MeiliEngine, catalogue_counts: dict[str, dict[str, int]]
) -> None:
    result = await catalogue_engine.search(SearchQuery(facets=frozenset({"kind", "commune"}), limit=0))
    assert result.estimated_total == sum(catalogue_counts["kind"].values()) > POOL
    assert result.facets == {"kind": catalogue_counts["kind"], "commune": catalogue_counts["commune"]}
    village = await catalogue_engine.search(SearchQuery(kinds=frozenset({"village"}), facets=frozenset({"kind"})))
    assert village.estimated_total == catalogue_counts["kind"]["village"]
    assert village.facets == {"kind": {"village": catalogue_counts["kind"]["village"]}}


async def test_catalogue_distance_radius_and_deep_pages(
    catalogue_engine: MeiliEngine, catalogue_documents: list[SearchDocument]
) -> None:
    near = GeoPoint(22.33641, 103.84378)
    nearest = await catalogue_engine.search(SearchQuery(near=near, sort="distance", limit=50))
    brute = sorted(haversine_m(near.lat, near.lon, d.lat, d.lon) for d in catalogue_documents)
    assert [h.distance_m for h in nearest.hits] == pytest.approx(brute[:50], abs=0.01)
    assert nearest.estimated_total == len(catalogue_documents)
    inside = await catalogue_engine.search(SearchQuery(near=near, radius_m=3000, sort="distance", limit=1000))
    assert inside.estimated_total == len([m for m in brute if m <= 3000])
    assert [h.distance_m for h in inside.hits] == pytest.approx([m for m in brute if m <= 3000], abs=0.01)
    deep = await catalogue_engine.search(SearchQuery(offset=900, limit=100))
    assert len(deep.hits) == 100
    whole = await catalogue_engine.search(SearchQuery(text="ban", limit=60))
    halves = [await catalogue_engine.search(SearchQuery(text="ban", offset=o, limit=30)) for o in (0, 30)]
    assert [h.document.key for h in whole.hits] == [h.document.key for r in halves for h in r.hits]
    assert len(whole.hits) == 60
