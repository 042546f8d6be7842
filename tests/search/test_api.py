"""``GET /v1/search`` and ``/v1/search/suggest`` over HTTP on the shipped catalogue, on SQLite and PostgreSQL, with the
real embedded engine: the response shape (API.md), validation (422, never 500, even for hostile text), locale
fallback, distance and facets against brute force, and 503 + ``Retry-After`` when the engine is really down."""

import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from src.app import create_app
from src.guide.geo import haversine_m
from src.kernel.config import Settings
from src.kernel.i18n import pick
from src.search.engines import build_engine
from src.search.port import SearchDocument
from src.search.service import ALLOWED_KINDS, marked
from src.search.text import normalise
from tests.conftest import free_port
from tests.search.support import app_settings, build_index, client_of, lifespan

SA_PA_TOWN = (22.33641, 103.84378)
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def search_app(
    backend: str, search_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Litestar]:
    app = create_app(app_settings(backend, search_database_url, tmp_path_factory.mktemp("search-api")))
    async with lifespan(app):
        await build_index(app)
        yield app


@pytest.fixture(scope="module")
async def http(search_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(search_app) as client:
        yield client


@pytest.fixture(scope="module")
def documents(catalogue_documents: list[SearchDocument]) -> dict[tuple[str, str], SearchDocument]:
    return {(d.type, d.ref): d for d in catalogue_documents}


async def search(http: httpx.AsyncClient, **params: object) -> dict[str, object]:
    response = await http.get("/v1/search", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


async def test_response_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/search", params={"q": "sapa", "limit": 3})
    assert response.status_code == 200
    assert response.headers["content-language"] == "vi"
    assert response.headers["cache-control"] == "public, max-age=10"  # results are fresh within seconds
    body = response.json()
    assert set(body) == {"hits", "facets", "estimated_total", "offset", "limit", "processing_ms"}
    assert (body["offset"], body["limit"], body["facets"]) == (0, 3, {})
    assert body["estimated_total"] >= len(body["hits"]) > 0
    assert body["processing_ms"] >= 0
    top = body["hits"][0]
    assert set(top) == {"id", "type", "name", "name_locale", "kind", "commune", "location", "highlight"}
    assert top["id"] == "sa-pa"
    assert (top["type"], top["kind"], top["name"], top["name_locale"]) == ("destination", "town", "Sa Pa", "vi")
    assert top["commune"] == {"code": "03006", "name": "Sa Pa", "name_locale": "vi", "unit_type": "ward"}
    assert set(top["location"]) == {"lat", "lon"}
    assert "distance_m" not in top  # only when a point was given
    highlight = top["highlight"]
    assert highlight == {
        "field": "name",
        "text": "Sa Pa",
        "spans": [[0, 2], [3, 5]],
        "marked": "<em>Sa</em> <em>Pa</em>",
    }


async def test_commune_hits_carry_their_code(http: httpx.AsyncClient) -> None:
    body = await search(http, q="Phường Ô Quý Hồ", type="commune", limit=3)
    hits = body["hits"]
    assert isinstance(hits, list)
    assert "03006" in [h["id"] for h in hits]
    commune = next(h for h in hits if h["id"] == "03006")
    assert (commune["type"], commune["kind"], commune["commune"]["code"]) == ("commune", "ward", "03006")
    assert commune["highlight"]["field"] == "former_name"


async def test_highlight_spans_are_code_points_of_the_nfc_text(http: httpx.AsyncClient) -> None:
    body = await search(http, q="bac ha", limit=5)
    for hit in body["hits"]:  # type: ignore[attr-defined]
        text, spans = hit["highlight"]["text"], hit["highlight"]["spans"]
        assert unicodedata.is_normalized("NFC", text)
        words = {normalise(text[start:end]) for start, end in spans}
        assert words & {"bac", "ha"}, (text, spans)
        assert hit["highlight"]["marked"] == marked(text, [tuple(s) for s in spans])


def test_marked_escapes_html_and_wraps_whole_spans() -> None:
    assert marked("<b>Tom & 'Jerry'</b>", [(3, 6), (9, 16)]) == (
        "&lt;b&gt;<em>Tom</em> &amp; <em>&#x27;Jerry&#x27;</em>&lt;/b&gt;"
    )
    assert marked("Bắc Hà", []) == "Bắc Hà"
    assert marked("沙坝 town", [(0, 2)]) == "<em>沙坝</em> town"


@pytest.mark.parametrize(
    ("params", "headers", "slug", "expected"),
    [
        ({"q": "sapa", "lang": "zh-Hans"}, {}, "sa-pa", ("沙坝", "zh-Hans")),
        ({"q": "sapa"}, {"Accept-Language": "ko-KR,ko;q=0.9"}, "sa-pa", ("사파", "ko")),
        ({"q": "fansipan", "lang": "fr"}, {}, "fansipan", None),  # no French name: falls back to en
        ({"q": "yen bai", "lang": "zh-TW"}, {}, "yen-bai", None),  # zh-Hans missing: the script-less zh name
        ({"q": "cat cat", "lang": "en"}, {}, "cat-cat", None),
    ],
)
async def test_names_follow_the_locale_fallback_chain(
    http: httpx.AsyncClient,
    documents: dict[tuple[str, str], SearchDocument],
    params: dict[str, str],
    headers: dict[str, str],
    slug: str,
    expected: tuple[str, str] | None,
) -> None:
    response = await http.get("/v1/search", params={**params, "limit": 10}, headers=headers)
    assert response.status_code == 200
    locale = response.headers["content-language"]
    hit = next(h for h in response.json()["hits"] if h["id"] == slug)
    wanted = pick(documents[("destination", slug)].names, locale)
    assert (hit["name"], hit["name_locale"]) == wanted
    if expected is not None:
        assert wanted == expected
    if slug == "fansipan":
        assert hit["name_locale"] == "en"
    if slug == "yen-bai":
        assert hit["name_locale"] == "zh"


async def test_nfd_query_gives_the_nfc_hits(http: httpx.AsyncClient) -> None:
    for text in ("Bắc Hà", "Đèo Ô Quy Hồ", "Cát Cát"):
        nfc = await search(http, q=unicodedata.normalize("NFC", text))
        nfd = await search(http, q=unicodedata.normalize("NFD", text))
        assert [h["id"] for h in nfc["hits"]] == [h["id"] for h in nfd["hits"]]  # type: ignore[index]
        assert nfc["estimated_total"] == nfd["estimated_total"]


async def test_distance_sort_and_radius(http: httpx.AsyncClient) -> None:
    lat, lon = SA_PA_TOWN
    body = await search(http, lat=lat, lon=lon, radius_km=5, sort="distance", limit=100)
    hits = body["hits"]
    assert isinstance(hits, list)
    assert hits
    distances = [h["distance_m"] for h in hits]
    assert all(isinstance(d, int) for d in distances)
    assert distances == sorted(distances)
    assert distances[-1] <= 5000
    for hit in hits[:10]:
        exact = haversine_m(lat, lon, hit["location"]["lat"], hit["location"]["lon"])
        assert abs(hit["distance_m"] - exact) <= 1
    # A point without a radius: every hit carries its distance, relevance order kept.
    body = await search(http, q="cat cat", lat=lat, lon=lon, limit=3)
    assert body["hits"][0]["id"] == "cat-cat"  # type: ignore[index]
    assert all("distance_m" in h for h in body["hits"])  # type: ignore[attr-defined]


async def test_facets_agree_with_a_brute_force_count(
    http: httpx.AsyncClient, catalogue_documents: list[SearchDocument]
) -> None:
    body = await search(http, facets="type,kind", limit=1)
    assert set(body["facets"]) == {"type", "kind"}  # type: ignore[arg-type]
    assert body["facets"]["type"] == dict(Counter(d.type for d in catalogue_documents))  # type: ignore[index]
    assert body["facets"]["kind"] == dict(Counter(d.kind for d in catalogue_documents))  # type: ignore[index]
    assert body["estimated_total"] == len(catalogue_documents)
    body = await search(http, kind="village", commune="03006", facets="commune")
    expected = sum(1 for d in catalogue_documents if d.kind == "village" and d.commune_code == "03006")
    assert body["estimated_total"] == expected
    assert body["facets"] == {"commune": {"03006": expected}}


async def test_kind_is_repeatable_or_a_comma_list(http: httpx.AsyncClient) -> None:
    comma = await search(http, kind="village,peak,ward", limit=50)
    response = await http.get("/v1/search", params=[("kind", "village"), ("kind", "peak,ward"), ("limit", "50")])
    assert response.status_code == 200
    assert response.json()["estimated_total"] == comma["estimated_total"]
    assert [h["id"] for h in response.json()["hits"]] == [h["id"] for h in comma["hits"]]  # type: ignore[attr-defined]
    assert {h["kind"] for h in comma["hits"]} <= {"village", "peak", "ward"}  # type: ignore[attr-defined]


async def test_paging(http: httpx.AsyncClient) -> None:
    first = await search(http, q="ban", limit=10)
    second = await search(http, q="ban", offset=10, limit=10)
    both = await search(http, q="ban", limit=20)
    ids = [h["id"] for h in both["hits"]]  # type: ignore[attr-defined]
    assert ids == [h["id"] for h in first["hits"]] + [h["id"] for h in second["hits"]]  # type: ignore[attr-defined]
    last = await search(http, q="", offset=980, limit=20)
    assert (last["offset"], last["limit"]) == (980, 20)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "volcano"}, "kind"),
        ({"kind": "village,volcano"}, "kind"),
        ({"kind": "village OR kind = peak"}, "kind"),  # a filter value can never widen a query
        ({"type": "blog"}, "type"),
        ({"type": ""}, "type"),
        ({"kind": "village,"}, "kind"),
        ({"facets": ""}, "facets"),
        ({"commune": "99999"}, "commune"),
        ({"commune": "03006 OR 1=1"}, "commune"),
        ({"commune": "3006"}, "commune"),
        ({"lat": "22.3"}, "lon"),
        ({"lon": "103.8"}, "lat"),
        ({"radius_km": "5"}, "radius_km"),
        ({"lat": "22.3", "lon": "103.8", "radius_km": "0"}, "radius_km"),
        ({"lat": "22.3", "lon": "103.8", "radius_km": "301"}, "radius_km"),
        ({"lat": "91", "lon": "103.8"}, "lat"),
        ({"lat": "nan", "lon": "103.8"}, "lat"),
        ({"lat": "22.3", "lon": "inf"}, "lon"),
        ({"sort": "distance"}, "sort"),
        ({"sort": "popularity"}, "sort"),
        ({"facets": "type,price"}, "facets"),
        ({"offset": "990", "limit": "20"}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"q": "a" * 201}, "q"),
        ({"q": "x" * 10_000}, "q"),
        ({"lang": "xx"}, "lang"),
    ],
)
async def test_invalid_parameters_are_422_problems(http: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    response = await http.get("/v1/search", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] in ("invalid_parameter", "unsupported_locale")
    assert field in [e["field"] for e in body["errors"]], body


async def test_an_unknown_kind_lists_the_allowed_values(http: httpx.AsyncClient) -> None:
    body = (await http.get("/v1/search", params={"kind": "volcano"})).json()
    assert body["errors"][0]["allowed"] == list(ALLOWED_KINDS)
    assert {"village", "peak", "ward", "commune"} <= set(ALLOWED_KINDS)


async def test_a_former_commune_code_names_its_successor(http: httpx.AsyncClient, search_database_url: str) -> None:
    from sqlalchemy import text

    from src.kernel.db import create_engine

    engine = create_engine(search_database_url)
    try:
        async with engine.connect() as connection:
            old_code, successor = (
                await connection.execute(
                    text(
                        "SELECT old_code, commune_code FROM commune_former_unit "
                        "WHERE old_code NOT IN (SELECT code FROM commune) ORDER BY old_code LIMIT 1"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    body = (await http.get("/v1/search", params={"commune": old_code})).json()
    assert body["status"] == 422
    assert successor in body["detail"]


async def test_the_query_limit_counts_nfc_characters(http: httpx.AsyncClient) -> None:
    nfc = "ệ" * 200  # 200 characters in NFC, 600 code points in NFD
    response = await http.get("/v1/search", params={"q": unicodedata.normalize("NFD", nfc)})
    assert response.status_code == 200, response.text
    response = await http.get("/v1/search", params={"q": unicodedata.normalize("NFD", nfc + "ệ")})
    assert response.status_code == 422


HOSTILE = [
    '"',
    '"sa pa',
    "sa pa\\",
    "\\\\\\",
    "'; DROP TABLE destination; --",
    "sa AND pa OR cat TO ha",
    "AND",
    "OR OR OR",
    "1 TO 100",
    "_geoRadius(1,2,3)",
    "_geoRadius(22.3, 103.8, 1000000) OR type = commune",
    'kind = "village" OR kind != "village"',
    "type:commune",
    "name:*",
    "*",
    "?",
    "~2",
    "fansipan~",
    "+sa -pa",
    "(sa pa",
    "[1 TO 2]",
    "{}",
    "<script>alert(1)</script>",
    "%00",
    "\u200b\u200d\ufeff",
    "🏔️🏔️",
    "sa" * 100,
    " ".join(["pa"] * 66),
    "x" * 10_000,
    "ệ" * 3000,
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_text_is_answered_never_a_500(http: httpx.AsyncClient, q: str) -> None:
    for path in ("/v1/search", "/v1/search/suggest"):
        response = await http.get(
            path, params={"q": q, "facets": "type,kind,commune"} if path == "/v1/search" else {"q": q}
        )
        assert response.status_code in (200, 422), (path, response.status_code, response.text[:300])
        if response.status_code == 422:
            assert response.headers["content-type"].startswith(PROBLEM)
        else:
            body = response.json()
            assert isinstance(body["hits"], list)
            for hit in body["hits"]:
                if hit["highlight"] is not None:
                    assert "<script>" not in hit["highlight"]["marked"]


async def test_filters_hold_whatever_the_text(http: httpx.AsyncClient) -> None:
    body = await search(http, q='sa pa" OR type = destination', type="commune", limit=50)
    assert all(h["type"] == "commune" for h in body["hits"])  # type: ignore[attr-defined]


async def test_suggest(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/search/suggest", params={"q": "fansi"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"hits", "processing_ms"}
    assert 0 < len(body["hits"]) <= 5
    assert "fansipan" in [h["id"] for h in body["hits"]]
    assert set(body["hits"][0]) == {"id", "type", "name", "name_locale", "kind", "commune", "location", "highlight"}
    ten = (await http.get("/v1/search/suggest", params={"q": "ba", "limit": 10})).json()
    assert len(ten["hits"]) == 10
    assert (await http.get("/v1/search/suggest", params={"q": "ba", "limit": 11})).status_code == 422
    assert (await http.get("/v1/search/suggest", params={"q": ""})).json()["hits"] == []
    assert (await http.get("/v1/search/suggest")).status_code == 400  # q is required


async def test_openapi_documents_search_as_public_with_its_problems(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/v1/search"]["get"]
    assert operation.get("security") == []
    assert {"400", "422", "503"} <= set(operation["responses"])
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "kind", "type", "commune", "lat", "lon", "radius_km", "sort", "facets", "offset", "limit"} <= names


# --------------------------------------------------------------------------------------------- engine down


@pytest.fixture(scope="module")
async def broken_app(
    backend: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Litestar]:
    """An app whose embedded index cannot be opened: a file sits where its folder must be (a real failure of the
    engine's storage; a permission change would not stop root, which runs these tests)."""
    data_dir: Path = tmp_path_factory.mktemp("search-down")
    (data_dir / "search").write_text("not a folder")
    app = create_app(app_settings(backend, database_url, data_dir))
    async with lifespan(app):
        yield app


async def test_engine_down_is_503_with_retry_after_and_the_rest_works(broken_app: Litestar) -> None:
    async with client_of(broken_app) as client:
        for path, params in (("/v1/search", {"q": "sapa"}), ("/v1/search/suggest", {"q": "sa"})):
            response = await client.get(path, params=params, headers={"Accept-Language": "en"})
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith(PROBLEM)
            assert response.headers["retry-after"] == "5"
            body = response.json()
            assert (body["code"], body["title"], body["status"]) == ("search_unavailable", "Search is unavailable", 503)
            assert str(broken_app.state.settings.data_dir) not in response.text  # no internals
        # Validation still comes first: a bad request is a 422 even while the engine is down.
        assert (await client.get("/v1/search", params={"kind": "volcano"})).status_code == 422
        ready = await client.get("/health/ready")
        assert ready.status_code == 200  # degraded, not out of service: everything else works
        body = ready.json()
        assert body["status"] == "degraded"
        assert body["checks"]["search"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["components"]["search"]["engine"] == "tantivy"
        assert body["components"]["search"]["ok"] is False
        assert (await client.get("/v1/destinations/sa-pa")).status_code == 200
        assert (await client.get("/v1/communes/03006")).status_code == 200


async def test_ready_reports_a_working_engine(http: httpx.AsyncClient) -> None:
    body = (await http.get("/health/ready")).json()
    assert body["status"] == "ready"
    assert body["checks"]["search"] == "ok"
    search_health = body["components"]["search"]
    assert (search_health["engine"], search_health["ok"], search_health["indexed"]) == ("tantivy", True, True)
    assert set(search_health["log"]) == {"enabled", "pending", "written", "dropped", "failed"}


def test_the_engine_follows_the_settings(tmp_path: Path) -> None:
    engine = build_engine(Settings(data_dir=tmp_path))
    assert engine.name == "tantivy"
    assert getattr(engine, "directory", None) == tmp_path / "search"
    meili = build_engine(Settings(data_dir=tmp_path, meili_url="http://127.0.0.1:7700/", meili_index="board"))
    assert (meili.name, getattr(meili, "index_uid", None), getattr(meili, "api_key", "")) == (
        "meilisearch",
        "board",
        None,
    )


async def test_meilisearch_down_is_503_too(backend: str, database_url: str, tmp_path: Path) -> None:
    """A MeiliEngine pointed at a closed port (nothing listens there: a real connection refusal, no mock)."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = app_settings(backend, database_url, tmp_path / "data", meili_url=closed, meili_timeout_seconds=1)
    app = create_app(settings)
    async with lifespan(app), client_of(app) as client:
        response = await client.get("/v1/search", params={"q": "sapa"})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        assert response.json()["code"] == "search_unavailable"
        ready = (await client.get("/health/ready")).json()
        assert (ready["status"], ready["checks"]["search"]) == ("degraded", "unavailable")
        assert ready["components"]["search"]["engine"] == "meilisearch"
        assert (await client.get("/v1/destinations/sa-pa")).status_code == 200


@pytest.mark.parametrize(
    ("q", "first"), [("fansipan summit", "fansipan"), ("sapa town", "sa-pa"), ("cat cat village trek", "cat-cat")]
)
async def test_words_that_match_nothing_are_dropped_from_the_end(http: httpx.AsyncClient, q: str, first: str) -> None:
    body = await search(http, q=q, limit=3)
    assert [hit["id"] for hit in body["hits"]][:1] == [first]  # type: ignore[index]


async def test_nonsense_still_finds_nothing(http: httpx.AsyncClient) -> None:
    body = await search(http, q="qqxz wvvk zzpt jjyy")
    assert body["hits"] == []
    assert body["estimated_total"] == 0
