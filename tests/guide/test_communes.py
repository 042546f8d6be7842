"""GET /v1/communes and /v1/communes/{code}: the 99 units of the 2025 province."""

import httpx
from shapely.geometry import shape


async def test_lists_99_units_10_wards_89_communes(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/communes", params={"limit": 100})
    assert response.status_code == 200
    page = response.json()
    assert page["next_cursor"] is None
    units = page["items"]
    assert len(units) == 99
    assert sum(unit["unit_type"] == "ward" for unit in units) == 10
    assert sum(unit["unit_type"] == "commune" for unit in units) == 89
    assert all(len(unit["code"]) == 5 and unit["code"].isdigit() for unit in units)


async def test_paging_covers_every_unit_once(client: httpx.AsyncClient) -> None:
    codes: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/communes", params=params)).json()
        codes += [unit["code"] for unit in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(codes) == 99 == len(set(codes))


async def test_one_commune_has_boundary_and_former_names(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/communes/03006")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Sa Pa"
    assert body["full_name"] == "Phường Sa Pa"
    former = {unit["name"] for unit in body["former_units"]}
    assert "Phường Phan Si Păng" in former  # 03006 was Phan Si Păng's code before 2025
    assert len(former) == 6  # the new Sa Pa ward absorbed six old wards
    geometry = shape(body["boundary"])
    assert geometry.is_valid
    assert geometry.contains(shape({"type": "Point", "coordinates": [103.8438, 22.3364]}))  # [lon, lat]


async def test_boundaries_have_counter_clockwise_outer_rings(client: httpx.AsyncClient) -> None:
    codes = [u["code"] for u in (await client.get("/v1/communes", params={"limit": 100})).json()["items"]]
    for code in codes:
        geometry = shape((await client.get(f"/v1/communes/{code}")).json()["boundary"])
        polygons = list(geometry.geoms) if geometry.geom_type == "MultiPolygon" else [geometry]
        for polygon in polygons:
            assert polygon.exterior.is_ccw, code  # RFC 7946 §3.1.6
            assert all(not hole.is_ccw for hole in polygon.interiors), code


async def test_former_names_stay_searchable(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/communes", params={"q": "phan si pang"})
    assert [unit["code"] for unit in response.json()["items"]] == ["03006"]
    by_name = await client.get("/v1/communes", params={"q": "Bắc Hà"})
    assert "02839" in [unit["code"] for unit in by_name.json()["items"]]


async def test_former_code_is_never_resolved_as_a_new_unit(client: httpx.AsyncClient) -> None:
    # 02635 was Phường Duyên Hải; it is now part of 02647 (Phường Lào Cai).
    response = await client.get("/v1/communes/02635", headers={"Accept-Language": "vi"})
    assert response.status_code == 404
    body = response.json()
    assert body["successor"] == "02647"
    assert body["title"] == "Không tìm thấy"
    listed = await client.get("/v1/destinations", params={"commune": "02635"})
    assert listed.status_code == 422
    assert "02647" in listed.json()["detail"]


async def test_commune_names_follow_the_fallback_chain(client: httpx.AsyncClient) -> None:
    english = (await client.get("/v1/communes/02647", params={"lang": "en"})).json()
    assert (english["name"], english["name_locale"]) == ("Lao Cai", "en")
    korean = (await client.get("/v1/communes/02647", params={"lang": "ko"})).json()
    assert korean["name_locale"] == "en"  # no Korean commune names in the data: requested -> en -> vi
