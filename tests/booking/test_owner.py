"""The owner portal over HTTP on both engines: properties and room types, the calendar, reservations and the desk."""

import asyncio
import csv
import io
import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar

from src.kernel.db import unit_of_work
from tests.booking.support import future
from tests.booking.test_bookings import body, clock, key, nights_sold
from tests.kernel.auth_support import bearer, login, make_user

NEW_PROPERTY = {
    "name": "Nhà nghỉ Chủ Mới",
    "kind": "guesthouse",
    "commune": "03006",
    "location": {"lat": 22.3364, "lon": 103.8438},
    "description": {"vi": "Nhà nghỉ nhỏ.", "en": "A small guesthouse."},
    "check_in_time": "14:00",
    "tax_fees": [{"code": "vat", "name": {"vi": "VAT"}, "kind": "percent", "rate_bp": 800, "included": True}],
    "cancellation_policy": {"rules": [{"days_before": 2, "refund_percent": 100}]},
}


async def owner(app: Litestar, client: httpx.AsyncClient) -> dict[str, str]:
    _, email = await make_user(app, "owner")
    return bearer((await login(client, email))["access_token"])


async def setup(
    app: Litestar, client: httpx.AsyncClient, *, allotment: int = 2, days: int = 20
) -> tuple[dict[str, str], str, str]:
    """An owner (headers) with a property and a room type open for ``days`` nights; ``(headers, pid, rtid)``."""
    headers = await owner(app, client)
    created = await client.post("/v1/owner/properties", json=NEW_PROPERTY, headers=headers)
    assert created.status_code == 201, created.text
    property_id = created.json()["id"]
    room = await client.post(
        f"/v1/owner/properties/{property_id}/room-types",
        json={"name": {"vi": "Phòng đôi", "en": "Double"}, "max_adults": 2, "max_children": 1, "max_occupancy": 3},
        headers=headers,
    )
    assert room.status_code == 201, room.text
    room_type_id = room.json()["id"]
    opened = await client.patch(
        f"/v1/owner/room-types/{room_type_id}/calendar",
        json={
            "start": future(0).isoformat(),
            "end": future(days).isoformat(),
            "allotment": allotment,
            "price": 700_000,
        },
        headers=headers,
    )
    assert opened.status_code == 200, opened.text
    return headers, property_id, room_type_id


async def test_property_lifecycle_with_preconditions(app: Litestar, client: httpx.AsyncClient) -> None:
    headers = await owner(app, client)
    created = await client.post("/v1/owner/properties", json=NEW_PROPERTY, headers=headers)
    assert created.status_code == 201, created.text
    got = created.json()
    assert got["check_in_time"] == "14:00:00"
    assert got["is_sample"] is False
    assert got["is_listed"] is True
    assert created.headers["cache-control"] == "no-store"
    etag = created.headers["etag"]
    url = f"/v1/owner/properties/{got['id']}"
    assert (await client.patch(url, json={"name": "X"}, headers=headers)).status_code == 428
    renamed = await client.patch(url, json={"name": "Nhà nghỉ Đổi Tên"}, headers={**headers, "If-Match": etag})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Nhà nghỉ Đổi Tên"
    stale = await client.patch(url, json={"name": "Late"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert (await client.get(url, headers=headers)).json()["name"] == "Nhà nghỉ Đổi Tên"
    listed = (await client.get("/v1/owner/properties", headers=headers)).json()["items"]
    assert [p["id"] for p in listed] == [got["id"]]
    # the public page follows; unlisting hides it
    assert (await client.get(f"/v1/properties/{got['id']}")).status_code == 200
    current = (await client.get(url, headers=headers)).headers["etag"]
    hidden = await client.patch(url, json={"is_listed": False}, headers={**headers, "If-Match": current})
    assert hidden.status_code == 200
    assert (await client.get(f"/v1/properties/{got['id']}")).status_code == 404
    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404
    sent = {job.name for job in app.state.recorded_jobs.sent}
    assert "booking.property_changed" in sent


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"commune": "99999"}, "commune"),
        ({"location": {"lat": 21.7, "lon": 105.0}}, "location"),  # far outside Sa Pa ward
        ({"location": {"lat": 95, "lon": 103.8}}, "location"),
        ({"tax_fees": [{"code": "vat", "name": {"vi": "VAT"}, "kind": "percent"}]}, "tax_fees"),
        ({"tax_fees": [{"code": "vat", "name": {"vi": "VAT"}, "kind": "percent", "rate_bp": 20000}]}, "tax_fees"),
        ({"cancellation_policy": {"rules": [{"days_before": 2, "refund_percent": 150}]}}, "cancellation_policy"),
        ({"description": {"xx": "?"}}, "description"),
        ({"phone": "123"}, "phone"),
        ({"photos": ["http://insecure.example.org/a.jpg"]}, "photos"),
        ({"kind": "castle"}, "kind"),
        ({"name": "   "}, "name"),
    ],
)
async def test_bad_property_input_is_422(
    app: Litestar, client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    headers = await owner(app, client)
    response = await client.post("/v1/owner/properties", json={**NEW_PROPERTY, **change}, headers=headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text
    assert (await client.get("/v1/owner/properties", headers=headers)).json()["items"] == []


async def test_calendar_bulk_update_by_weekday(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, _, room_type_id = await setup(app, client, days=14)
    url = f"/v1/owner/room-types/{room_type_id}/calendar"
    start, end = future(0), future(14)
    weekend = await client.patch(
        url,
        json={"start": start.isoformat(), "end": end.isoformat(), "weekdays": [5, 6], "price": 900_000, "min_stay": 2},
        headers=headers,
    )
    assert weekend.status_code == 200
    assert weekend.json() == {"nights": 4, "created": 0}
    days = (await client.get(url, params={"start": start.isoformat(), "end": end.isoformat()}, headers=headers)).json()
    for night in days["nights"]:
        friday_or_saturday = night["night"] in {
            (start + timedelta(days=i)).isoformat()
            for i in range(14)
            if (start + timedelta(days=i)).isoweekday() in (5, 6)
        }
        assert night["price"] == (900_000 if friday_or_saturday else 700_000)
        assert night["min_stay"] == (2 if friday_or_saturday else 1)
        assert night["allotment"] == 2
        assert night["available"] == 2
    later = await client.patch(
        url, json={"start": future(30).isoformat(), "end": future(32).isoformat(), "allotment": 1}, headers=headers
    )
    assert later.json() == {"nights": 2, "created": 2}
    unopened = (
        await client.get(url, params={"start": future(30).isoformat(), "end": future(33).isoformat()}, headers=headers)
    ).json()
    assert [n["allotment"] for n in unopened["nights"]] == [1, 1, 0]
    assert unopened["nights"][0]["price"] is None  # rooms without a rate are not for sale


async def test_allotment_below_sold_is_refused_atomically(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client, allotment=2)
    booked = await client.post(
        "/v1/bookings",
        json=body(UUID(property_id), UUID(room_type_id), future(3), future(5), rooms=2, adults=2),
        headers=key(),
    )
    assert booked.status_code == 201, booked.text
    url = f"/v1/owner/room-types/{room_type_id}/calendar"
    response = await client.patch(
        url,
        json={"start": future(2).isoformat(), "end": future(6).isoformat(), "allotment": 1, "price": 1},
        headers=headers,
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "allotment_below_sold"
    assert response.json()["nights"] == [future(3).isoformat(), future(4).isoformat()]
    nights = (
        await client.get(url, params={"start": future(2).isoformat(), "end": future(6).isoformat()}, headers=headers)
    ).json()["nights"]
    assert [(n["allotment"], n["sold"], n["price"]) for n in nights] == [
        (2, 0, 700_000),
        (2, 2, 700_000),
        (2, 2, 700_000),
        (2, 0, 700_000),
    ]
    # closing what is left is fine: allotment equal to sold
    assert (
        await client.patch(
            url, json={"start": future(3).isoformat(), "end": future(5).isoformat(), "allotment": 2}, headers=headers
        )
    ).status_code == 200


async def test_owner_edits_and_bookings_race_without_oversell(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client, allotment=3)
    url = f"/v1/owner/room-types/{room_type_id}/calendar"
    stay = (future(6), future(8))

    async def book() -> int:
        return (
            await client.post("/v1/bookings", json=body(UUID(property_id), UUID(room_type_id), *stay), headers=key())
        ).status_code

    async def shrink() -> int:
        return (
            await client.patch(
                url, json={"start": stay[0].isoformat(), "end": stay[1].isoformat(), "allotment": 1}, headers=headers
            )
        ).status_code

    results = await asyncio.gather(*[book() for _ in range(6)], shrink(), shrink())
    assert set(results) <= {200, 201, 409}, results
    sold = await nights_sold(app, UUID(room_type_id))
    async with unit_of_work(app.state.engine) as session:
        from sqlmodel import select

        from src.booking.models import InventoryNight

        rows = (
            await session.exec(select(InventoryNight).where(InventoryNight.room_type_id == UUID(room_type_id)))
        ).all()
    for row in rows:
        assert row.sold <= row.allotment
        assert sold.get(row.night, (0, 0))[0] == sold.get(row.night, (0, 0))[1]


async def test_reservation_list_filters_paging_and_csv(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client, allotment=5)
    names = ['=HYPERLINK("http://x")', "Trần Thị Bích", "Lê Văn C", "@SUM(A1)"]
    for i, name in enumerate(names):
        sent = body(UUID(property_id), UUID(room_type_id), future(2 + i), future(3 + i))
        sent["guest"]["name"] = name
        assert (await client.post("/v1/bookings", json=sent, headers=key())).status_code == 201
    other_headers, _, _ = await setup(app, client)
    everything = (await client.get("/v1/owner/reservations", headers=headers)).json()
    assert [r["guest_name"] for r in everything["items"]] == names
    assert (await client.get("/v1/owner/reservations", headers=other_headers)).json()["items"] == []
    page = (await client.get("/v1/owner/reservations", params={"limit": 3}, headers=headers)).json()
    rest = (
        await client.get("/v1/owner/reservations", params={"limit": 3, "cursor": page["next_cursor"]}, headers=headers)
    ).json()
    assert [r["guest_name"] for r in page["items"] + rest["items"]] == names
    assert rest["next_cursor"] is None
    found = (await client.get("/v1/owner/reservations", params={"q": "bích"}, headers=headers)).json()["items"]
    assert [r["guest_name"] for r in found] == ["Trần Thị Bích"] or [
        r["guest_name"] for r in found
    ] == []  # SQLite folds ASCII only
    dated = await client.get(
        "/v1/owner/reservations",
        params={"check_in_from": future(3).isoformat(), "check_in_to": future(4).isoformat(), "status": "held"},
        headers=headers,
    )
    assert [r["guest_name"] for r in dated.json()["items"]] == names[1:3]
    assert (
        await client.get("/v1/owner/reservations", params={"check_in_from": "2026-01-01T00:00"}, headers=headers)
    ).status_code == 422
    exported = await client.get("/v1/owner/reservations.csv", headers=headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["guest_name"] for r in rows] == ["'" + names[0], names[1], names[2], "'" + names[3]]
    assert rows[1]["total_amount"] == "700000"
    assert rows[1]["currency"] == "VND"


async def test_check_in_needs_the_foreign_guests_passport(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client)
    walk_in = {
        "room_type_id": room_type_id,
        "check_in": future(0).isoformat(),
        "check_out": future(2).isoformat(),
        "guest": {"name": "Kim Minji", "nationality": "KR"},
    }
    url = f"/v1/owner/properties/{property_id}/walk-ins"
    made = await client.post(url, json=walk_in, headers={**headers, **key()})
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "confirmed"
    assert made.json()["source"] == "walk_in"
    code = made.json()["code"]
    check_in = f"/v1/owner/reservations/{code}/check-in"
    refused = await client.post(check_in, json={}, headers=headers)
    assert refused.status_code == 422
    assert "passport_number" in refused.text
    done = await client.post(check_in, json={"passport_number": "M 1234 5678"}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "checked_in"
    assert done.json()["guest"]["passport_number"] == "M12345678"
    assert (await client.post(check_in, json={}, headers=headers)).status_code == 409
    assert (await client.post(f"/v1/owner/reservations/{code}/no-show", headers=headers)).status_code == 409
    # a held (unpaid) booking cannot be checked in, and a future one not before its day
    held = await client.post(
        "/v1/bookings", json=body(UUID(property_id), UUID(room_type_id), future(0), future(1)), headers=key()
    )
    assert (
        await client.post(f"/v1/owner/reservations/{held.json()['code']}/check-in", json={}, headers=headers)
    ).status_code == 409
    ahead = await client.post(
        url,
        json={
            **walk_in,
            "check_in": future(5).isoformat(),
            "check_out": future(6).isoformat(),
            "guest": {"name": "An", "nationality": "VN"},
        },
        headers={**headers, **key()},
    )
    assert (
        await client.post(f"/v1/owner/reservations/{ahead.json()['code']}/check-in", json={}, headers=headers)
    ).status_code == 409


async def test_no_show_gives_the_nights_back_once(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client, allotment=1)
    walk_in = {
        "room_type_id": room_type_id,
        "check_in": future(0).isoformat(),
        "check_out": future(2).isoformat(),
        "guest": {"name": "Vắng Mặt", "nationality": "VN"},
    }
    made = await client.post(f"/v1/owner/properties/{property_id}/walk-ins", json=walk_in, headers={**headers, **key()})
    code = made.json()["code"]
    assert (await nights_sold(app, UUID(room_type_id))) == {future(0): (1, 1), future(1): (1, 1)}
    results = await asyncio.gather(
        *(client.post(f"/v1/owner/reservations/{code}/no-show", headers=headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    assert (await nights_sold(app, UUID(room_type_id))) == {}


async def test_walk_in_and_app_race_for_the_last_room(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client, allotment=1)
    stay = (future(9), future(10))
    walk_in = {
        "room_type_id": room_type_id,
        "check_in": stay[0].isoformat(),
        "check_out": stay[1].isoformat(),
        "guest": {"name": "Desk", "nationality": "VN"},
    }
    calls = [
        client.post(f"/v1/owner/properties/{property_id}/walk-ins", json=walk_in, headers={**headers, **key()})
        for _ in range(10)
    ]
    calls += [
        client.post("/v1/bookings", json=body(UUID(property_id), UUID(room_type_id), *stay), headers=key())
        for _ in range(10)
    ]
    results = await asyncio.gather(*calls)
    assert [r.status_code for r in results].count(201) == 1
    assert {r.status_code for r in results} == {201, 409}
    assert (await nights_sold(app, UUID(room_type_id))) == {stay[0]: (1, 1)}
    # another owner cannot sell this property's rooms
    other = await owner(app, client)
    theirs = await client.post(f"/v1/owner/properties/{property_id}/walk-ins", json=walk_in, headers={**other, **key()})
    assert theirs.status_code == 404


async def test_room_type_rules(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, property_id, room_type_id = await setup(app, client)
    url = f"/v1/owner/room-types/{room_type_id}"
    bad = await client.post(
        f"/v1/owner/properties/{property_id}/room-types",
        json={"name": {"vi": "Sai"}, "max_adults": 2, "max_children": 0, "max_occupancy": 5},
        headers=headers,
    )
    assert bad.status_code == 422
    etag = (await client.get(url, headers=headers)).headers["etag"]
    changed = await client.patch(
        url, json={"beds": [{"type": "double", "count": 1}, {"type": "single"}]}, headers={**headers, "If-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()["beds"][1] == {"type": "single", "count": 1}
    booked = await client.post(
        "/v1/bookings", json=body(UUID(property_id), UUID(room_type_id), future(4), future(5)), headers=key()
    )
    assert booked.status_code == 201
    assert (await client.delete(url, headers=headers)).status_code == 409
    code = booked.json()["code"]
    assert (
        await client.post(f"/v1/bookings/{code}/cancel", headers={"X-Booking-Token": booked.json()["lookup_token"]})
    ).status_code == 200
    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).json()["is_active"] is False  # kept for its reservation's record
    fresh = await client.post(
        f"/v1/owner/properties/{property_id}/room-types", json={"name": {"vi": "Mới"}}, headers=headers
    )
    assert (await client.delete(f"/v1/owner/room-types/{fresh.json()['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/v1/owner/room-types/{fresh.json()['id']}", headers=headers)).status_code == 404


async def test_calendar_bad_ranges(app: Litestar, client: httpx.AsyncClient) -> None:
    headers, _, room_type_id = await setup(app, client)
    url = f"/v1/owner/room-types/{room_type_id}/calendar"
    for sent in [
        {"start": future(3).isoformat(), "end": future(3).isoformat(), "price": 1},
        {"start": future(0).isoformat(), "end": future(400).isoformat(), "price": 1},
        {"start": future(-2).isoformat(), "end": future(1).isoformat(), "price": 1},
        {"start": "2026-12-24T00:00:00Z", "end": future(1).isoformat(), "price": 1},
        {"start": future(1).isoformat(), "end": future(2).isoformat()},
        {"start": future(1).isoformat(), "end": future(2).isoformat(), "weekdays": [0], "price": 1},
        {"start": future(1).isoformat(), "end": future(2).isoformat(), "allotment": -1},
        {"start": future(1).isoformat(), "end": future(2).isoformat(), "price": 10**15},
    ]:
        response = await client.patch(url, json=sent, headers=headers)
        assert response.status_code in (400, 422), (sent, response.text)
    _ = uuid
    _ = clock


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "a\u0000b"}, "name"),
        ({"name": "Bad\u202eName"}, "name"),
        ({"address": "Line1\u001b[31mred"}, "address"),
        ({"description": {"vi": "a\u0000b"}}, "description.vi"),
    ],
)
async def test_owner_text_with_control_or_bidi_characters_is_refused(
    app: Litestar, client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    headers = await owner(app, client)
    response = await client.post("/v1/owner/properties", json={**NEW_PROPERTY, **change}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    ok = await client.post(
        "/v1/owner/properties", json={**NEW_PROPERTY, "description": {"vi": "Dòng 1\nDòng 2"}}, headers=headers
    )
    assert ok.status_code == 201
    assert ok.json()["description"]["vi"] == "Dòng 1\nDòng 2"
    room = await client.post(
        f"/v1/owner/properties/{ok.json()['id']}/room-types", json={"name": {"vi": "Phòng\u0007"}}, headers=headers
    )
    assert room.status_code == 422
