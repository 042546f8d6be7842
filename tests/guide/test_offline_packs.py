"""``GET /v1/offline-packs/{area}``: reproducible archives with a strong ETag and 304, deltas after an edit, the
size of the Sa Pa ward's pack, bad areas and versions. A scratch catalogue database per backend (these tests edit
it), the app without its lifespan (jobs are recorded, not run)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from src.app import create_app
from src.guide.offline import read_archive
from src.guide.samples import load_guide_samples
from src.kernel.config import Settings
from src.kernel.db import unit_of_work
from src.kernel.jobs import bind as bind_jobs
from tests.conftest import RecordedJobs, catalogue_database
from tests.guide.content_support import publish, step
from tests.kernel.auth_support import bearer, login, make_user

SA_PA_WARD = "03006"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def pack_app(
    backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue_dir: Path
) -> AsyncIterator[Litestar]:
    url = await catalogue_database(backend, tmp_path_factory.mktemp("packs-db"), catalogue_dir, scratch="packs")
    app = create_app(
        Settings(
            database_url=url,
            data_dir=tmp_path_factory.mktemp("packs-data"),
            rate_limit_public="off",
            rate_limit_auth="off",
            response_cache_seconds=0,
        )
    )
    bind_jobs(app.state.engine, RecordedJobs(app.state.jobs.registry))
    yield app
    for hook in app.on_shutdown:
        await hook(app)  # type: ignore[call-arg,misc]


@pytest.fixture(scope="module")
async def http(pack_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=pack_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
async def editor(pack_app: Litestar, http: httpx.AsyncClient) -> dict[str, str]:
    _id, email = await make_user(pack_app, "editor")
    return bearer((await login(http, email))["access_token"])


@pytest.fixture(scope="module")
async def reviewer(pack_app: Litestar, http: httpx.AsyncClient) -> dict[str, str]:
    _id, email = await make_user(pack_app, "editor")
    return bearer((await login(http, email))["access_token"])


@pytest.fixture(scope="module")
async def content(
    pack_app: Litestar, http: httpx.AsyncClient, editor: dict[str, str], reviewer: dict[str, str]
) -> dict[str, str]:
    """The sample events, a published tour of two Sa Pa villages and a published article about the first; their
    slugs and the article's ETag."""
    async with unit_of_work(pack_app.state.engine) as session:
        await load_guide_samples(session)
    near = await http.get(
        "/v1/destinations", params={"lat": 22.3364, "lon": 103.8438, "radius_km": 5, "kind": "village", "limit": 2}
    )
    first, second = (item["slug"] for item in near.json()["items"])
    tour = await publish(http, "tour", {
        "slug": "pack-test-tour",
        "translations": {"vi": {"title": "Tuyến thử", "summary": "S", "safety_notes": "N"}},
        "stops": [{"destination": first}, {"destination": second}],
    }, editor, reviewer)  # fmt: skip
    article = await publish(http, "article", {
        "slug": "pack-test-article",
        "translations": {"vi": {"title": "Bài thử", "summary": "S", "body": "B"}, "en": {"title": "Test story"}},
        "destinations": [first],
    }, editor, reviewer)  # fmt: skip
    return {"tour": tour.json()["slug"], "article": article.json()["slug"], "article_etag": article.headers["etag"],
            "first": first}  # fmt: skip


async def pack(http: httpx.AsyncClient, area: str = SA_PA_WARD, **params: str) -> httpx.Response:
    response = await http.get(f"/v1/offline-packs/{area}", params={"lang": "en", **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response


async def test_the_sa_pa_pack_is_reproducible_small_and_revalidates(
    http: httpx.AsyncClient, content: dict[str, str]
) -> None:
    first, second = await pack(http), await pack(http)
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert len(first.content) < 5 * 1024 * 1024
    members = read_archive(first.content)
    manifest = members["manifest.json"]
    assert first.headers["etag"] == f'"{manifest["version"]}"'
    assert manifest["area"] == {"kind": "commune", "id": SA_PA_WARD}
    assert manifest["since"] is None
    places = members["places.geojson"]["features"]
    assert places
    assert all(f["properties"]["commune"] == SA_PA_WARD for f in places)
    lon, lat = places[0]["geometry"]["coordinates"]
    assert 103 < lon < 105
    assert 21 < lat < 23
    assert manifest["counts"]["place"] == len(places)
    not_modified = await http.get(
        f"/v1/offline-packs/{SA_PA_WARD}", params={"lang": "en"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert content["tour"] in [t["slug"] for t in members["tours.json"]["items"]]  # with the sample tours
    tet = next(e for e in members["events.json"]["items"] if e["event"] == "tet-nguyen-dan")
    assert all(o["kind"] == "festival" for o in tet["occurrences"])
    assert len(tet["occurrences"]) == 2  # this year's and next year's
    article = next(a for a in members["articles.json"]["items"] if a["slug"] == content["article"])
    assert article["title_locale"] == "en"
    route = next(r for r in members["routes.geojson"]["features"] if r["id"] == content["tour"])
    assert route["geometry"]["type"] == "LineString"
    tour = next(t for t in members["tours.json"]["items"] if t["slug"] == content["tour"])
    assert route["properties"]["length_m"] == tour["length_m"]
    tour_pack = read_archive((await pack(http, content["tour"])).content)
    assert tour_pack["manifest.json"]["area"] == {"kind": "tour", "id": content["tour"]}
    assert len(tour_pack["places.geojson"]["features"]) == 2
    assert [a["slug"] for a in tour_pack["articles.json"]["items"]] == [content["article"]]
    other_locale = await pack(http, lang="vi")
    assert other_locale.headers["etag"] != first.headers["etag"]


async def test_the_delta_after_one_edit_holds_only_that_edit(
    http: httpx.AsyncClient, editor: dict[str, str], reviewer: dict[str, str], content: dict[str, str]
) -> None:
    before = read_archive((await pack(http)).content)["manifest.json"]["version"]
    slug = content["article"]
    edited = await http.patch(
        f"/v1/editor/articles/{slug}",
        json={"translations": {"en": {"title": "Test story, edited"}}},
        headers={**editor, "If-Match": content["article_etag"]},
    )
    assert edited.status_code == 200, edited.text
    submitted = await step(http, "article", slug, "submit", editor, edited.headers["etag"])
    republished = await step(http, "article", slug, "publish", reviewer, submitted.headers["etag"])
    assert republished.status_code == 200, republished.text
    members = read_archive((await pack(http, since=before)).content)
    assert members["manifest.json"]["since"] == before
    assert [a["title"] for a in members["articles.json"]["items"]] == ["Test story, edited"]
    assert sum(members["manifest.json"]["counts"].values()) == 1
    assert members["manifest.json"]["removed"] == []


async def test_a_destination_edit_is_a_one_place_delta(http: httpx.AsyncClient, editor: dict[str, str]) -> None:
    before = read_archive((await pack(http)).content)["manifest.json"]["version"]
    slug = read_archive((await pack(http)).content)["places.geojson"]["features"][0]["id"]
    current = await http.get(f"/v1/editor/destinations/{slug}", headers=editor)
    edited = await http.patch(
        f"/v1/editor/destinations/{slug}",
        json={"translations": {"en": "Offline pack test name"}},
        headers={**editor, "If-Match": current.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    after = read_archive((await pack(http)).content)["manifest.json"]["version"]
    assert after != before
    change = await pack(http, since=before)
    assert change.headers["etag"] == f'"{after}.since.{before}"'
    members = read_archive(change.content)
    assert members["manifest.json"]["since"] == before
    assert members["manifest.json"]["removed"] == []
    features = members["places.geojson"]["features"]
    assert [f["id"] for f in features] == [slug]
    assert features[0]["properties"]["name"] == "Offline pack test name"
    assert sum(members["manifest.json"]["counts"].values()) == 1
    nothing = read_archive((await pack(http, since=after)).content)
    assert sum(nothing["manifest.json"]["counts"].values()) == 0


async def test_unknown_versions_get_the_full_pack_and_bad_input_a_problem(http: httpx.AsyncClient) -> None:
    full = read_archive((await pack(http, since="0" * 32)).content)
    assert full["manifest.json"]["since"] is None
    assert full["places.geojson"]["features"]
    for area, params, status in [
        ("99999", {}, 404),
        ("no-such-tour", {}, 404),
        (SA_PA_WARD, {"since": "not-a-version"}, 422),
        (SA_PA_WARD, {"lang": "xx"}, 422),
    ]:
        response = await http.get(f"/v1/offline-packs/{area}", params=params)
        assert response.status_code == status, (area, params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
