"""GET /v1/properties and GET /v1/properties/{id}: who can host the party on every night, priced night by night."""

import random
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar

from tests.booking.support import future, make_owner, make_property, make_room_type, open_calendar


def spot() -> tuple[float, float]:
    """A point of its own (tests share one database), inside the province's box."""
    return round(random.uniform(21.5, 22.8), 6), round(random.uniform(103.5, 104.8), 6)


def around(lat: float, lon: float, d: float = 0.0005) -> str:
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


async def search(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get("/v1/properties", params=params)


async def property_at(app: Litestar, lat: float, lon: float, **fields: Any) -> UUID:
    owner_id, _ = await make_owner(app)
    return await make_property(app, owner_id, lat=lat, lon=lon, **fields)


async def test_offers_are_priced_night_by_night(app: Litestar, client: httpx.AsyncClient) -> None:
    lat, lon = spot()
    tax_fees = [
        {"code": "vat", "name": {"vi": "Thuế GTGT", "en": "VAT"}, "kind": "percent", "rate_bp": 800, "included": True},
        {
            "code": "environment_fee",
            "name": {"vi": "Phí môi trường"},
            "kind": "fixed",
            "fixed_amount": 10_000,
            "per": "guest_night",
        },
    ]
    property_id = await property_at(app, lat, lon, name="Homestay Giá Đêm", tax_fees=tax_fees)
    double = await make_room_type(app, property_id, name={"vi": "Phòng đôi", "en": "Double"}, max_adults=2)
    family = await make_room_type(
        app, property_id, name={"vi": "Phòng gia đình"}, max_adults=4, max_children=2, max_occupancy=5
    )
    start = future(12)
    await open_calendar(app, double, start, start + timedelta(days=1), allotment=3, price=800_000)
    await open_calendar(app, double, start + timedelta(days=1), start + timedelta(days=3), allotment=2, price=1_000_000)
    await open_calendar(app, family, start, start + timedelta(days=3), allotment=1, price=1_500_000)
    stay = {"check_in": start.isoformat(), "check_out": (start + timedelta(days=3)).isoformat()}

    response = await search(client, **stay, bbox=around(lat, lon), lang="en")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-cache"
    (item,) = response.json()["items"]
    assert item["id"] == str(property_id)
    assert item["is_sample"] is False
    assert item["location"] == {"lat": lat, "lon": lon}
    assert item["commune"]["code"] == "03006"
    offers = {offer["name"]: offer for offer in item["offers"]}
    offer = offers["Double"]
    assert offer["name_locale"] == "en"
    assert offer["rooms_left"] == 2
    assert offer["max_guests"] == 3
    assert [n["rate"]["amount"] for n in offer["nightly"]] == [800_000, 1_000_000, 1_000_000]
    assert offer["subtotal"]["amount"] == 2_800_000
    fee = next(line for line in offer["taxes_and_fees"] if line["code"] == "environment_fee")
    assert fee["amount"]["amount"] == 60_000
    assert fee["included"] is False
    assert fee["name_locale"] == "vi"
    assert offer["total"] == {"amount": 2_860_000, "currency": "VND", "display": "₫2,860,000"}
    assert offer["cancellation"]["terms"]
    assert offer["cancellation"]["free_cancellation_until"]
    assert offers["Phòng gia đình"]["name_locale"] == "vi"
    assert [o["total"]["amount"] for o in item["offers"]] == sorted(o["total"]["amount"] for o in item["offers"])

    # Vietnamese display, and a party only the family room fits
    vi = (await search(client, **stay, bbox=around(lat, lon), adults=3, children=1)).json()["items"][0]
    assert [o["room_type_id"] for o in vi["offers"]] == [str(family)]
    assert vi["offers"][0]["total"]["display"] == "4.620.000\xa0₫"
    # two rooms of the double for four adults
    two = (await search(client, **stay, bbox=around(lat, lon), adults=4, rooms=2)).json()["items"][0]
    assert {o["room_type_id"] for o in two["offers"]} == {str(double)}
    assert two["offers"][0]["subtotal"]["amount"] == 5_600_000
    # three rooms: the double has only 2 on two nights, the family room 1
    assert (await search(client, **stay, bbox=around(lat, lon), rooms=3, adults=3)).json()["items"] == []


async def test_nights_not_for_sale_exclude_the_room_type(app: Litestar, client: httpx.AsyncClient) -> None:
    lat, lon = spot()
    property_id = await property_at(app, lat, lon)
    cases = {
        "stop_sell": {"stop_sell": True},
        "no_price": {"price": None},
        "full": {"allotment": 0},
        "cta": {"closed_to_arrival": True},
        "min_stay": {"min_stay": 3},
    }
    start = future(20)
    ids = {}
    for label, fields in cases.items():
        room_type_id = await make_room_type(app, property_id, name={"vi": label})
        ids[label] = room_type_id
        await open_calendar(app, room_type_id, start, start + timedelta(days=1), **fields)
        await open_calendar(app, room_type_id, start + timedelta(days=1), start + timedelta(days=2))
    gap = await make_room_type(app, property_id, name={"vi": "gap"})
    await open_calendar(app, gap, start, start + timedelta(days=1))  # the second night has no row at all
    ctd = await make_room_type(app, property_id, name={"vi": "ctd"})
    await open_calendar(app, ctd, start, start + timedelta(days=2))
    await open_calendar(app, ctd, start + timedelta(days=2), start + timedelta(days=3), closed_to_departure=True)
    fine = await make_room_type(app, property_id, name={"vi": "fine"})
    await open_calendar(app, fine, start, start + timedelta(days=2))
    stay = {"check_in": start.isoformat(), "check_out": (start + timedelta(days=2)).isoformat()}
    (item,) = (await search(client, **stay, bbox=around(lat, lon))).json()["items"]
    assert [o["room_type_id"] for o in item["offers"]] == [str(fine)]
    detail = await client.get(f"/v1/properties/{property_id}", params=stay)
    assert [o["room_type_id"] for o in detail.json()["offers"]] == [str(fine)]


async def test_area_filters_and_paging(app: Litestar, client: httpx.AsyncClient) -> None:
    lat, lon = spot()
    start = future(25)
    ids = []
    for i in range(5):
        property_id = await property_at(
            app, lat + i * 0.001, lon, name=f"Paging {i}", kind="hotel" if i % 2 else "homestay"
        )
        room_type_id = await make_room_type(app, property_id)
        await open_calendar(app, room_type_id, start, start + timedelta(days=1))
        ids.append(str(property_id))
    stay = {"check_in": start.isoformat(), "check_out": (start + timedelta(days=1)).isoformat()}
    box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {**stay, "bbox": box, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await search(client, **params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids  # by name: Paging 0..4
    hotels = (await search(client, **stay, bbox=box, kind="hotel")).json()["items"]
    assert [h["id"] for h in hotels] == [ids[1], ids[3]]
    near = (await search(client, **stay, lat=lat + 0.004, lon=lon, radius_km=0.15)).json()["items"]
    assert [n["id"] for n in near] == [ids[4], ids[3]]
    assert near[0]["distance_m"] == 0
    assert 100 < near[1]["distance_m"] < 120
    replay = await search(client, **stay, bbox=box, kind="hotel", cursor=cursor or page_cursor(ids))
    assert replay.status_code == 422


def page_cursor(ids: list[str]) -> str:
    from src.kernel.pagination import encode_cursor

    return encode_cursor("wrong", ["Paging 1", ids[1]])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"check_in": "2026-12-24T00:00:00Z", "check_out": "2026-12-26"}, "check_in"),
        ({"check_in": "{in}", "check_out": "{in}"}, "check_out"),
        ({"check_in": "{in}", "check_out": "{in+31}"}, "check_out"),
        ({"check_in": "{past}", "check_out": "{in}"}, "check_in"),
        ({"check_in": "{in}", "check_out": "{out}", "adults": "0"}, "adults"),
        ({"check_in": "{in}", "check_out": "{out}", "rooms": "11"}, "rooms"),
        ({"check_in": "{in}", "check_out": "{out}", "lat": "22.3"}, "lon"),
        ({"check_in": "{in}", "check_out": "{out}", "bbox": "1,2,3"}, "bbox"),
        ({"check_in": "{in}", "check_out": "{out}", "kind": "castle"}, "kind"),
        ({"check_in": "{in}", "check_out": "{out}", "commune": "3006"}, "commune"),
        ({"check_in": "{in}", "check_out": "{out}", "cursor": "garbage"}, "cursor"),
        ({"check_out": "{out}"}, "check_in"),
    ],
)
async def test_bad_queries_are_422(client: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    values = {
        "{in}": future(3).isoformat(),
        "{out}": future(4).isoformat(),
        "{in+31}": future(34).isoformat(),
        "{past}": future(-1).isoformat(),
    }
    query = {k: values.get(v, v) for k, v in params.items()}
    response = await search(client, **query)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if response.status_code == 422 and "errors" in response.json():
        assert field in str(response.json()["errors"])


async def test_property_detail(app: Litestar, client: httpx.AsyncClient) -> None:
    lat, lon = spot()
    property_id = await property_at(
        app, lat, lon, house_rules={"en": "Quiet after 22:00"}, amenities=["wifi"], photos=["https://example.org/a.jpg"]
    )
    await make_room_type(app, property_id, description={"vi": "Phòng có ban công."}, size_m2=24.0)
    response = await client.get(f"/v1/properties/{property_id}", params={"lang": "fr"})
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["offers"] is None
    assert got["house_rules"] == "Quiet after 22:00"
    assert got["house_rules_locale"] == "en"
    assert got["description_locale"] == "en"
    assert got["check_in_time"] == "14:00:00"
    assert got["check_out_time"] == "12:00:00"
    assert got["cancellation_policy"]["rules"][0] == {"days_before": 3, "refund_percent": 100}
    assert got["tax_fees"][0]["code"] == "vat"
    assert got["tax_fees"][0]["rate_bp"] == 800
    (room,) = got["room_types"]
    assert room["description"] == "Phòng có ban công."
    assert room["description_locale"] == "vi"
    assert room["beds"] == [{"type": "double", "count": 1}]
    assert room["size_m2"] == 24.0
    missing = await client.get("/v1/properties/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "property_not_found"
    assert (await client.get("/v1/properties/not-a-uuid")).status_code in (400, 404, 422)
    unlisted = await property_at(app, lat, lon, is_listed=False)
    assert (await client.get(f"/v1/properties/{unlisted}")).status_code == 404
    half = await client.get(f"/v1/properties/{property_id}", params={"check_in": future(3).isoformat()})
    assert half.status_code == 422
