"""GET /v1/destinations and /v1/destinations/{slug} on the real catalogue."""

import math

import httpx
import pytest

SA_PA_TOWN = {"lat": 22.3364, "lon": 103.8438}


async def test_pages_through_every_real_destination(client: httpx.AsyncClient) -> None:
    slugs: list[str] = []
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/destinations", params=params)
        assert response.status_code == 200
        page = response.json()
        slugs += [item["slug"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(slugs) > 2000
    assert len(slugs) == len(set(slugs))
    assert slugs == sorted(slugs)


async def test_fansipan_summit_is_one_destination(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations/fansipan")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "peak"
    assert math.isclose(body["location"]["lat"], 22.303, abs_tol=0.001)
    assert math.isclose(body["location"]["lon"], 103.775, abs_tol=0.001)
    merged = {s["source_id"] for s in body["sources"]}
    assert {"anchor:fansipan-summit", "geonames:1582023", "geonames:8464852", "geonames:1582024"} <= merged
    # No other destination within 1 km of the summit: one pin on the map.
    near = await client.get("/v1/destinations", params={"lat": 22.30333, "lon": 103.775, "radius_km": 1, "limit": 100})
    assert [item["slug"] for item in near.json()["items"]] == ["fansipan"]


async def test_radius_query_lists_cat_cat_sorted_by_distance(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations", params={**SA_PA_TOWN, "radius_km": 3, "limit": 100})
    assert response.status_code == 200
    items = response.json()["items"]
    distances = [item["distance_m"] for item in items]
    assert distances == sorted(distances)
    assert all(d <= 3000 for d in distances)
    cat_cat = next(item for item in items if item["slug"] == "cat-cat")
    assert cat_cat["name"] == "Cát Cát"
    assert 1500 < cat_cat["distance_m"] < 2500


async def test_radius_paging_is_continuous(client: httpx.AsyncClient) -> None:
    whole = (await client.get("/v1/destinations", params={**SA_PA_TOWN, "radius_km": 3, "limit": 100})).json()
    pages: list[str] = []
    cursor = None
    for _ in range(50):
        params = {**SA_PA_TOWN, "radius_km": 3, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/destinations", params=params)).json()
        pages += [item["slug"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [item["slug"] for item in whole["items"]]


async def test_cursor_of_another_query_is_refused(client: httpx.AsyncClient) -> None:
    first = (await client.get("/v1/destinations", params={"limit": 5})).json()
    response = await client.get(
        "/v1/destinations", params={"limit": 5, "kind": "village", "cursor": first["next_cursor"]}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("locale", "expected_name", "expected_locale"),
    [
        ("zh-Hans", "沙坝", "zh-Hans"),
        ("zh-TW", "沙坝", "zh-Hans"),
        ("zh-Hant-TW", "沙坝", "zh-Hans"),
        ("zh-Hant-TW-x-private", "沙坝", "zh-Hans"),  # private use does not change the language (RFC 5646 §2.2.7)
        ("ko", "사파", "ko"),
        ("ko-KR-u-ca-dangi", "사파", "ko"),
        ("en-US-u-ca-gregory, fr;q=0.5", "Sapa", "en"),  # an extension does not either (§2.2.6)
        ("vi", "Sa Pa", "vi"),
    ],
)
async def test_sa_pa_name_in_each_locale(
    client: httpx.AsyncClient, locale: str, expected_name: str, expected_locale: str
) -> None:
    response = await client.get(
        "/v1/destinations",
        params={**SA_PA_TOWN, "radius_km": 3, "limit": 100},
        headers={"Accept-Language": locale},
    )
    assert response.headers["content-language"] == expected_locale
    town = next(item for item in response.json()["items"] if item["slug"] == "sa-pa")
    assert town["name"].startswith(expected_name)
    assert town["name_locale"] == expected_locale


async def test_fallback_locale_is_marked(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations/cat-cat", headers={"Accept-Language": "ko"})
    body = response.json()
    assert response.headers["content-language"] == "ko"
    assert (body["name"], body["name_locale"]) == ("Cát Cát", "vi")  # no Korean name exists: fallback to vi


@pytest.mark.parametrize("accept_language", ["zh-Hant-TW", "zh-Hant-TW-x-private"])
async def test_private_use_tag_keeps_the_fallback_marking(client: httpx.AsyncClient, accept_language: str) -> None:
    # Nghĩa Lộ's only Chinese name has no stated script: both tags answer in zh-Hans and mark it `zh`.
    town = await client.get("/v1/destinations", params={"lat": 21.6, "lon": 104.51, "radius_km": 10, "kind": "town"})
    slug = next(i["slug"] for i in town.json()["items"] if i["name"].startswith(("Nghĩa Lộ", "義路")))
    response = await client.get(f"/v1/destinations/{slug}", headers={"Accept-Language": accept_language})
    assert response.headers["content-language"] == "zh-Hans"
    assert (response.json()["name"], response.json()["name_locale"]) == ("義路市社", "zh")


async def test_script_less_chinese_name_is_not_labelled_simplified(client: httpx.AsyncClient) -> None:
    # Who's On First gives 義路市社 (traditional 義) for Nghĩa Lộ without a script: it is served as `zh`.
    town = await client.get("/v1/destinations", params={"lat": 21.6, "lon": 104.51, "radius_km": 10, "kind": "town"})
    nghia_lo = [i for i in town.json()["items"] if i["name"].startswith(("Nghĩa Lộ", "義路"))]
    assert nghia_lo
    detail = (await client.get(f"/v1/destinations/{nghia_lo[0]['slug']}", params={"lang": "zh-Hans"})).json()
    assert (detail["name"], detail["name_locale"]) == ("義路市社", "zh")


async def test_detail_carries_source_licence_and_flags(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/destinations/cat-cat")).json()
    assert body["sources"][0]["source_id"] == "geonames:10631710"
    assert body["sources"][0]["licence"] == "CC-BY-4.0"
    assert "GeoNames" in body["sources"][0]["attribution"]
    assert body["commune"]["code"] == "03037"
    assert any(alias["name"] == "Catscat" for alias in body["aliases"])


async def test_stale_hotels_are_flagged_never_dropped(client: httpx.AsyncClient) -> None:
    hotels = (await client.get("/v1/destinations", params={"kind": "hotel", "limit": 100})).json()["items"]
    assert len(hotels) == 21
    assert all("stale_business" in hotel["quality_flags"] for hotel in hotels)


async def test_doubtful_rows_are_flagged(client: httpx.AsyncClient) -> None:
    # Likely duplicates point at each other; French-era spellings and arc-minute points are flagged.
    town = (await client.get("/v1/destinations/sa-pa")).json()
    assert "likely_duplicate" in town["quality_flags"]
    refs = {ref["source_id"]: ref["slug"] for ref in town["possible_duplicates"]}
    assert refs["wikivoyage:en:Sa Pa"] == "sa-pa-wikivoyage-en-sa-pa"
    other = (await client.get(f"/v1/destinations/{refs['geonames:9072747']}")).json()
    assert "geonames:1568043" in {ref["source_id"] for ref in other["possible_duplicates"]}
    flagged = (await client.get("/v1/map/features", params={"bbox": "103.5,21.3,105.2,22.9", "limit": 5000})).json()
    flags = {flag for feature in flagged["features"] for flag in feature["properties"]["quality_flags"]}
    assert {"french_era_spelling", "arcminute_precision", "outside_province", "coordinate_suspect"} <= flags


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations", params={"commune": "03006", "kind": "hotel", "limit": 100})
    items = response.json()["items"]
    assert items
    assert all(item["kind"] == "hotel" and item["commune"]["code"] == "03006" for item in items)
    boxed = await client.get("/v1/destinations", params={"bbox": "103.80,22.32,103.86,22.35", "limit": 100})
    for item in boxed.json()["items"]:
        assert 103.80 <= item["location"]["lon"] <= 103.86
        assert 22.32 <= item["location"]["lat"] <= 22.35


async def test_unknown_slug_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations/no-such-place", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "not_found"
    assert body["title"] == "Not found"
