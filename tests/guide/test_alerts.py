"""Alerts: targeting (a tour, a point in a drawn area, a commune), validity (never served before or after it, also
not from a client cache), translations with fallback, stale versions (412), bad input (422) with nothing stored."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from src.guide.offline import read_archive
from tests.guide.content_support import editor_headers, publish, unique_slug
from tests.kernel.auth_support import bearer, login, make_user
from tests.payments.support import at

PROBLEM = "application/problem+json"
#: A small square north-east of Sa Pa town (WGS84), drawn clockwise on purpose.
AREA = {"type": "Polygon", "coordinates": [[[103.86, 22.35], [103.86, 22.37], [103.88, 22.37], [103.88, 22.35],
                                            [103.86, 22.35]]]}  # fmt: skip


@pytest.fixture(scope="module")
async def board(app: Litestar, client: httpx.AsyncClient) -> dict[str, str]:
    _id, email = await make_user(app, "board")
    return bearer((await login(client, email))["access_token"])


@pytest.fixture(scope="module")
async def tour(app: Litestar, client: httpx.AsyncClient) -> str:
    author, reviewer = await editor_headers(app, client), await editor_headers(app, client)
    near = await client.get(
        "/v1/destinations", params={"lat": 22.3364, "lon": 103.8438, "radius_km": 5, "kind": "village", "limit": 2}
    )
    stops = [{"destination": item["slug"]} for item in near.json()["items"]]
    body = {"slug": unique_slug("alert-trail"), "stops": stops,
            "translations": {"vi": {"title": "Đường mòn", "summary": "S", "safety_notes": "N"}}}  # fmt: skip
    return str((await publish(client, "tour", body, author, reviewer)).json()["slug"])


def alert(start: datetime, hours: float = 2, **fields: Any) -> dict[str, Any]:
    return {
        "category": "landslide",
        "severity": "severe",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(hours=hours)).isoformat(),
        "translations": {
            "vi": {"headline": "Sạt lở trên đường mòn", "instruction": "Đi đường khác."},
            "en": {"headline": "Landslide on the trail"},
        },
        **fields,
    }


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get("/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_trail_alert_shows_for_its_tour_and_its_pack_until_it_ends(
    app: Litestar, client: httpx.AsyncClient, board: dict[str, str], tour: str
) -> None:
    now = datetime.now(UTC)
    created = await client.post("/v1/editor/alerts", json=alert(now - timedelta(minutes=1), tours=[tour]),
                                headers=board)  # fmt: skip
    assert created.status_code == 201, created.text
    alert_id = created.json()["id"]
    assert created.json()["state"] == "active"
    response = await client.get("/v1/alerts", params={"tour": tour, "lang": "ko"})
    item = next(i for i in response.json()["items"] if i["id"] == alert_id)
    assert (item["headline"], item["headline_locale"]) == ("Landslide on the trail", "en")
    assert (item["instruction"], item["instruction_locale"]) == ("Đi đường khác.", "vi")
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert 0 <= max_age <= 60
    again = await client.get(
        "/v1/alerts", params={"tour": tour, "lang": "ko"}, headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    pack = await client.get(f"/v1/offline-packs/{tour}", params={"lang": "en"})
    assert alert_id in [a["id"] for a in read_archive(pack.content)["alerts.json"]["items"]]
    ends = datetime.fromisoformat(created.json()["valid_until"])
    with at(app, ends - timedelta(seconds=5)):  # no client may keep the list past the alert's end
        soon = await client.get("/v1/alerts", params={"tour": tour})
        assert alert_id in [i["id"] for i in soon.json()["items"]]
        assert int(soon.headers["cache-control"].split("max-age=")[1]) <= 5
        soon_pack = await client.get(f"/v1/offline-packs/{tour}", params={"lang": "en"})
        assert alert_id in [a["id"] for a in read_archive(soon_pack.content)["alerts.json"]["items"]]
        assert int(soon_pack.headers["cache-control"].split("max-age=")[1]) <= 5
    with at(app, now + timedelta(hours=3)):
        assert alert_id not in await ids(client, tour=tour)
        assert alert_id not in await ids(client)
        later = read_archive((await client.get(f"/v1/offline-packs/{tour}", params={"lang": "en"})).content)
        assert alert_id not in [a["id"] for a in later["alerts.json"]["items"]]
        listed = (await client.get("/v1/editor/alerts", params={"limit": 100}, headers=board)).json()["items"]
        assert next(a for a in listed if a["id"] == alert_id)["state"] == "expired"
    with at(app, now - timedelta(hours=1)):
        assert alert_id not in await ids(client, tour=tour)  # not yet valid


async def test_points_areas_and_communes(client: httpx.AsyncClient, board: dict[str, str]) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    drawn = await client.post("/v1/editor/alerts", json=alert(now, area=AREA, category="frost_snow"), headers=board)
    assert drawn.status_code == 201, drawn.text
    ring = drawn.json()["area"]["coordinates"][0]
    assert sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring)) > 0  # CCW now
    commune = await client.post("/v1/editor/alerts", json=alert(now, communes=["03006"], severity="minor"),
                                headers=board)  # fmt: skip
    drawn_id, commune_id = drawn.json()["id"], commune.json()["id"]
    inside = await ids(client, lat=22.36, lon=103.87)
    assert drawn_id in inside
    outside = await ids(client, lat=22.50, lon=104.25)  # Bắc Hà, far from both
    assert drawn_id not in outside
    assert commune_id not in outside
    assert commune_id in await ids(client, commune="03006")
    assert commune_id in await ids(client, lat=22.3364, lon=103.8438)  # Sa Pa town lies in its ward
    everything = await ids(client)
    assert everything.index(drawn_id) < everything.index(commune_id)  # severe before minor
    withdrawn = await client.post(f"/v1/editor/alerts/{commune_id}/withdraw",
                                  headers={**board, "If-Match": commune.headers["etag"]})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    assert commune_id not in await ids(client, commune="03006")
    stale = await client.patch(f"/v1/editor/alerts/{commune_id}", json={"severity": "extreme"},
                               headers={**board, "If-Match": commune.headers["etag"]})  # fmt: skip
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"valid_until": "2020-01-01T00:00:00+00:00"}, "valid_until"),
        ({"valid_until": None}, None),
        ({"severity": "apocalyptic"}, "severity"),
        ({"category": "aliens"}, "category"),
        ({"communes": ["99999"]}, "communes"),
        ({"tours": ["no-such-tour"]}, "tours"),
        ({"communes": []}, "communes"),
        ({"area": {"type": "Polygon", "coordinates": [[[103.86, 22.35], [103.88, 22.37], [103.88, 22.35],
                                                       [103.86, 22.37], [103.86, 22.35]]]}}, "area"),  # a bow tie
        ({"area": {"type": "Polygon", "coordinates": [[[22.35, 103.86], [22.37, 103.86], [22.37, 103.88],
                                                       [22.35, 103.86]]]}}, "area"),  # lat, lon swapped
        ({"area": {"type": "Point", "coordinates": [103.86, 22.35]}}, "area"),
        ({"area": {"type": "Polygon", "coordinates": [[[103.86, 22.35], [103.86, 22.37], [103.88, 22.37],
                                                       [103.88, 22.35]]]}}, "area"),  # open ring (shapely closes it)
        ({"valid_from": "2026-12-10T00:00:00", "valid_until": "2026-12-11T00:00:00"}, "valid_from"),  # no offset
        ({"valid_from": "9999-12-31T00:00:00-05:00", "valid_until": "9999-12-31T23:00:00-05:00"}, "valid_until"),
        ({"valid_until": (datetime.now(UTC) + timedelta(days=91)).isoformat()}, "valid_until"),
        ({"translations": {"xx": {"headline": "x"}}}, "translations.xx"),
        ({"translations": {"vi": {"headline": ""}}}, "translations.vi.headline"),
        ({"translations": {"ko": {"headline": "산사태"}}}, "translations"),  # fr would fall back to no headline
    ],
)  # fmt: skip
async def test_bad_alerts_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, board: dict[str, str], change: dict[str, Any], field: str | None
) -> None:
    before = len((await client.get("/v1/editor/alerts", params={"limit": 100}, headers=board)).json()["items"])
    body = {**alert(datetime.now(UTC), communes=["03006"]), **change}
    response = await client.post("/v1/editor/alerts", json=body, headers=board)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    if field is not None:
        assert response.json()["errors"][0]["field"] == field
    after = len((await client.get("/v1/editor/alerts", params={"limit": 100}, headers=board)).json()["items"])
    assert after == before


async def test_bad_queries_are_refused(client: httpx.AsyncClient) -> None:
    bad_point = await client.get("/v1/alerts", params={"lat": 95, "lon": 103.8})
    assert bad_point.status_code == 422
    assert bad_point.headers["content-type"].startswith(PROBLEM)
    assert (await client.get("/v1/alerts", params={"lat": 22.3})).status_code == 422
    assert (await client.get("/v1/alerts", params={"commune": "99999"})).status_code == 404
