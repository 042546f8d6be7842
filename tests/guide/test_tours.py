"""Tours: stops in order over real catalogue destinations, the route as a GeoJSON LineString whose length matches an
independent haversine sum, trigger zones, elevation gain from the stops, and bad geometry refused (422)."""

import itertools
import math

import httpx
import pytest
from litestar import Litestar

from tests.guide.content_support import editor_headers, publish, unique_slug

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def editors(app: Litestar, client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    return await editor_headers(app, client), await editor_headers(app, client)


def reference_length_m(points: list[tuple[float, float]]) -> float:
    """Haversine on a sphere of the IUGG mean radius, written here independently of src/guide/geo.py."""
    radius = 6_371_008.8
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(points):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * radius * math.asin(math.sqrt(h))
    return total


async def sa_pa_villages(client: httpx.AsyncClient) -> list[dict[str, object]]:
    """Four real villages within 6 km of Sa Pa town (from the shipped catalogue, nearest first)."""
    response = await client.get(
        "/v1/destinations", params={"lat": 22.3364, "lon": 103.8438, "radius_km": 6, "kind": "village", "limit": 4}
    )
    items = response.json()["items"]
    assert len(items) == 4
    return list(items)


async def test_a_tour_of_four_sa_pa_villages(
    client: httpx.AsyncClient, editors: tuple[dict[str, str], dict[str, str]]
) -> None:
    author, reviewer = editors
    villages = await sa_pa_villages(client)
    order = [villages[2], villages[0], villages[3], villages[1]]  # an order that is not the catalogue's
    first = order[0]["location"]
    slug = unique_slug("sa-pa-villages")
    body = {
        "slug": slug,
        "translations": {
            "vi": {"title": "Bốn bản quanh Sa Pa", "summary": "Tóm tắt.", "safety_notes": "Xem cảnh báo."},
            "en": {"title": "Four villages around Sa Pa", "summary": "Summary.", "safety_notes": "Check alerts."},
        },
        "stops": [
            {"destination": order[0]["slug"], "notes": {"en": "Start here."},
             "trigger_zone": {"type": "circle", "center": [first["lon"], first["lat"]], "radius_m": 150}},  # type: ignore[index]
            {"destination": order[1]["slug"],
             "trigger_zone": {"type": "Polygon", "coordinates": [[[103.84, 22.33], [103.84, 22.34], [103.85, 22.34],
                                                                 [103.85, 22.33], [103.84, 22.33]]]}},  # clockwise
            {"destination": order[2]["slug"]},
            {"destination": order[3]["slug"]},
        ],
        "duration_minutes": 240,
        "difficulty": "moderate",
        "best_months": [10, 3, 4],
        "communes": ["03006"],
        "topics": ["trekking"],
    }  # fmt: skip
    await publish(client, "tour", body, author, reviewer)
    response = await client.get(f"/v1/tours/{slug}", params={"lang": "fr"})
    assert response.status_code == 200, response.text
    tour = response.json()
    assert [s["destination"]["slug"] for s in tour["stops"]] == [v["slug"] for v in order]
    assert [s["position"] for s in tour["stops"]] == [1, 2, 3, 4]
    assert (tour["title"], tour["title_locale"]) == ("Four villages around Sa Pa", "en")
    assert (tour["stops"][0]["note"], tour["stops"][0]["note_locale"]) == ("Start here.", "en")
    route = tour["route"]
    assert route["type"] == "Feature"
    assert route["geometry"]["type"] == "LineString"
    points = [(v["location"]["lon"], v["location"]["lat"]) for v in order]  # type: ignore[index]
    assert route["geometry"]["coordinates"] == [list(p) for p in points]  # longitude first
    expected = reference_length_m(points)
    assert expected > 500
    assert abs(tour["length_m"] - expected) <= 0.01 * expected
    assert route["properties"] == {"length_m": tour["length_m"], "source": "stops"}
    assert tour["best_months"] == [3, 4, 10]
    assert tour["stops"][0]["trigger_zone"] == {"type": "Point", "coordinates": [first["lon"], first["lat"]],  # type: ignore[index]
                                                 "radius_m": 150}  # fmt: skip
    ring = tour["stops"][1]["trigger_zone"]["coordinates"][0]
    signed = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))
    assert signed > 0  # re-wound counter-clockwise (RFC 7946 §3.1.6)
    elevations = [s["destination"]["elevation_m"] for s in tour["stops"]]
    if all(e is not None for e in elevations):
        gain = sum(max(0, b - a) for a, b in itertools.pairwise(elevations))
        assert (tour["elevation_gain_m"], tour["elevation_gain_source"]) == (gain, "stops")
    listed = await client.get("/v1/tours", params={"commune": "03006", "limit": 100})
    item = next(i for i in listed.json()["items"] if i["slug"] == slug)
    assert (item["length_m"], item["difficulty"], item["duration_minutes"]) == (tour["length_m"], "moderate", 240)


async def test_a_drawn_route_is_measured_as_drawn(
    client: httpx.AsyncClient, editors: tuple[dict[str, str], dict[str, str]]
) -> None:
    author, reviewer = editors
    villages = await sa_pa_villages(client)
    line = [[103.8438, 22.3364], [103.8500, 22.3300], [103.8600, 22.3250]]
    slug = unique_slug("drawn")
    body = {
        "slug": slug,
        "translations": {"vi": {"title": "Tuyến vẽ", "summary": "S", "safety_notes": "N"}},
        "stops": [{"destination": villages[0]["slug"]}, {"destination": villages[1]["slug"]}],
        "route": {"type": "LineString", "coordinates": line},
        "elevation_gain_m": 120,
    }
    await publish(client, "tour", body, author, reviewer)
    tour = (await client.get(f"/v1/tours/{slug}")).json()
    expected = reference_length_m([(p[0], p[1]) for p in line])
    assert abs(tour["length_m"] - expected) <= 0.01 * expected
    assert tour["route"]["properties"]["source"] == "editor"
    assert (tour["elevation_gain_m"], tour["elevation_gain_source"]) == (120, "editor")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stops": [{"destination": "cat-cat"}, {"destination": "nowhere-at-all"}]}, "stops.destination"),
        ({"stops": [{"destination": "cat-cat"}]}, "stops"),
        ({"route": {"type": "LineString", "coordinates": [[22.33, 103.84], [22.34, 103.85]]}}, "route.coordinates"),
        ({"route": {"type": "Point", "coordinates": [103.84, 22.33]}}, "route"),
        ({"route": {"type": "LineString", "coordinates": [[103.84, 22.33]]}}, "route"),
        ({"route": {"type": "LineString", "coordinates": [[103.84, "x"], [103.85, 22.34]]}}, "route.coordinates"),
        ({"stops": [{"destination": "cat-cat", "trigger_zone": {"type": "Polygon", "coordinates": [[[103.84, 22.33],
          [103.85, 22.34], [103.84, 22.34]]]}}, {"destination": "sa-pa"}]}, "stops[0].trigger_zone"),
        ({"stops": [{"destination": "cat-cat", "trigger_zone": {"type": "Polygon", "coordinates": [[[103.84, 22.33],
          [103.85, 22.34], [103.85, 22.33], [103.84, 22.34], [103.84, 22.33]]]}}, {"destination": "sa-pa"}]},
         "stops[0].trigger_zone"),
        ({"stops": [{"destination": "cat-cat", "trigger_zone": {"type": "circle", "center": [103.84, 22.33],
          "radius_m": 0}}, {"destination": "sa-pa"}]}, "stops[0].trigger_zone.radius_m"),
        ({"difficulty": "extreme"}, "difficulty"),
        ({"best_months": [13]}, "best_months"),
        ({"duration_minutes": 0}, "duration_minutes"),
    ],
)  # fmt: skip
async def test_bad_tours_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, editors: tuple[dict[str, str], dict[str, str]], change: dict[str, object], field: str
) -> None:
    author, _ = editors
    slug = unique_slug("bad-tour")
    body = {"slug": slug, "translations": {"vi": {"title": "T"}}, **change}
    response = await client.post("/v1/editor/tours", json=body, headers=author)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get(f"/v1/editor/tours/{slug}", headers=author)).status_code == 404
