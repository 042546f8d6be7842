"""POST /v1/bookings and its reads and cancellation, over the app on both engines (httpx ASGITransport: requests
really run concurrently, unlike Litestar's TestClient)."""

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from sqlmodel import col, func, select

from src.booking import inventory
from src.booking.models import InventoryNight, Reservation
from src.kernel.db import unit_of_work, utcnow
from tests.booking.support import bookable_room_type, future, make_property, make_room_type, open_calendar
from tests.kernel.auth_support import bearer, login, make_user

GUEST = {"name": "Nguyễn Văn A", "email": "a@example.org", "phone": "0912345678", "nationality": "VN"}


def body(property_id: UUID, room_type_id: UUID, check_in: date, check_out: date, **extra: Any) -> dict[str, Any]:
    return {
        "property_id": str(property_id),
        "room_type_id": str(room_type_id),
        "check_in": check_in.isoformat(),
        "check_out": check_out.isoformat(),
        "adults": 2,
        "children": 0,
        "rooms": 1,
        "guest": dict(GUEST),
        **extra,
    }


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@contextmanager
def clock(app: Litestar, now: datetime) -> Iterator[None]:
    """Run the app at ``now`` (aware UTC) for the block."""
    previous = app.state.clock
    app.state.clock = lambda: now
    try:
        yield
    finally:
        app.state.clock = previous


async def nights_sold(app: Litestar, room_type_id: UUID) -> dict[date, tuple[int, int]]:
    """``{night: (sold, counted from active reservations)}`` for nights with something sold."""
    async with unit_of_work(app.state.engine) as session:
        rows = (await session.exec(select(InventoryNight).where(InventoryNight.room_type_id == room_type_id))).all()
        out = {}
        for row in rows:
            counted = await inventory.sold_by_reservations(session, room_type_id, row.night)
            if row.sold or counted:
                out[row.night] = (row.sold, counted)
    return out


async def reservations_of(app: Litestar, room_type_id: UUID) -> int:
    async with unit_of_work(app.state.engine) as session:
        return int(
            (
                await session.exec(
                    select(func.count()).select_from(Reservation).where(col(Reservation.room_type_id) == room_type_id)
                )
            ).one()
        )


async def test_hold_answers_the_contract(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=2, price=1_000_000)
    sent = body(property_id, room_type_id, future(10), future(12))
    response = await client.post("/v1/bookings", json=sent, headers={**key(), "Accept-Language": "en"})
    assert response.status_code == 201, response.text
    got = response.json()
    assert got["code"].startswith("LC")
    assert len(got["code"]) == 8
    assert got["status"] == "held"
    assert got["nights"] == 2
    assert got["rooms"] == 1
    assert got["lookup_token"]
    assert len(got["lookup_token"]) >= 40
    expires = datetime.fromisoformat(got["hold_expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    price = got["price"]
    assert [n["rate"]["amount"] for n in price["nights"]] == [1_000_000, 1_000_000]
    assert price["total"] == {"amount": 2_000_000, "currency": "VND", "display": "₫2,000,000"}
    vat = price["taxes_and_fees"][0]
    assert vat["code"] == "vat"
    assert vat["included"] is True
    assert vat["amount"]["amount"] == 148_148
    assert got["guest"]["phone"] == "+84912345678"
    assert got["cancellation_policy"]["terms"][0]["refund_percent"] == 100
    assert response.headers["location"] == f"/v1/bookings/{got['code']}"
    assert (await nights_sold(app, room_type_id)) == {future(10): (1, 1), future(11): (1, 1)}

    # the guest reads it with the token; a wrong token and no token look like a missing code
    code, token = got["code"], got["lookup_token"]
    read = await client.get(f"/v1/bookings/{code}", headers={"X-Booking-Token": token})
    assert read.status_code == 200
    assert read.json()["lookup_token"] is None
    assert read.json()["price"]["total"]["amount"] == 2_000_000
    assert (await client.get(f"/v1/bookings/{code.lower()}", headers={"X-Booking-Token": token})).status_code == 200
    for headers in ({"X-Booking-Token": "x" * 43}, {}):
        missing = await client.get(f"/v1/bookings/{code}", headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/bookings/LC000000", headers={"X-Booking-Token": token})).status_code == 404


async def test_owner_and_booker_read_others_do_not(app: Litestar, client: httpx.AsyncClient) -> None:
    owner_id, property_id, room_type_id = await bookable_room_type(app)
    _, tourist_email = await make_user(app, "tourist")
    tourist = bearer((await login(client, tourist_email))["access_token"])
    created = await client.post(
        "/v1/bookings", json=body(property_id, room_type_id, future(3), future(4)), headers={**key(), **tourist}
    )
    assert created.status_code == 201, created.text
    code = created.json()["code"]
    assert (await client.get(f"/v1/bookings/{code}", headers=tourist)).status_code == 200
    async with unit_of_work(app.state.engine) as session:
        from src.kernel.auth.models import User

        owner = await session.get(User, owner_id)
        assert owner is not None
        owner_email = owner.email
    owner = bearer((await login(client, owner_email))["access_token"])
    assert (await client.get(f"/v1/bookings/{code}", headers=owner)).status_code == 200
    _, other_email = await make_user(app, "owner")
    other = bearer((await login(client, other_email))["access_token"])
    assert (await client.get(f"/v1/bookings/{code}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/bookings/{code}/cancel", headers=other)).status_code == 404


@pytest.mark.parametrize(
    ("check_in", "check_out", "field"),
    [
        ("2026-12-24T00:00:00Z", None, "check_in"),
        ("2026-12-24T00:00:00+07:00", None, "check_in"),
        (None, "2026-12-26 00:00", "check_out"),
        ("24/12/2026", None, "check_in"),
        ("2026-02-30", None, "check_in"),
    ],
)
async def test_timestamps_and_other_forms_are_422(
    app: Litestar, client: httpx.AsyncClient, check_in: str | None, check_out: str | None, field: str
) -> None:
    _, property_id, room_type_id = await bookable_room_type(app)
    sent = body(property_id, room_type_id, future(5), future(6))
    if check_in:
        sent["check_in"] = check_in
    if check_out:
        sent["check_out"] = check_out
    response = await client.post("/v1/bookings", json=sent, headers=key())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("nights", [0, 31, -1])
async def test_zero_or_31_nights_is_422(app: Litestar, client: httpx.AsyncClient, nights: int) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, days=60)
    response = await client.post(
        "/v1/bookings", json=body(property_id, room_type_id, future(5), future(5 + nights)), headers=key()
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "check_out"


async def test_vietnam_calendar_decides_what_is_past(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, days=40)
    the_24th = future(20)
    # 17:30 UTC on the 23rd is 00:30 on the 24th in Lào Cai (UTC+7): a check-in on the 24th is today, accepted
    evening = datetime.combine(the_24th - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=17, minutes=30
    )
    with clock(app, evening):
        ok = await client.post(
            "/v1/bookings", json=body(property_id, room_type_id, the_24th, the_24th + timedelta(days=1)), headers=key()
        )
        assert ok.status_code == 201, ok.text
        # ...while the 23rd is already yesterday there
        past = await client.post(
            "/v1/bookings",
            json=body(property_id, room_type_id, the_24th - timedelta(days=1), the_24th),
            headers=key(),
        )
        assert past.status_code == 422
        assert past.json()["errors"][0]["field"] == "check_in"
    # an hour earlier (16:30 UTC, 23:30 in Vietnam) the 23rd is still today
    with clock(app, evening - timedelta(hours=1)):
        still = await client.post(
            "/v1/bookings",
            json=body(property_id, room_type_id, the_24th - timedelta(days=1), the_24th),
            headers=key(),
        )
        assert still.status_code == 201, still.text


@pytest.mark.parametrize(
    ("guest", "field"),
    [
        ({"email": "not-an-email"}, "guest.email"),
        ({"phone": "12"}, "guest.phone"),
        ({"nationality": "XX"}, "guest.nationality"),
        ({"passport_number": "ab"}, "guest.passport_number"),
        ({"name": "   "}, "guest.name"),
        ({"email": None, "phone": None}, "guest.email"),
    ],
)
async def test_guest_details_are_checked(
    app: Litestar, client: httpx.AsyncClient, guest: dict[str, Any], field: str
) -> None:
    _, property_id, room_type_id = await bookable_room_type(app)
    sent = body(property_id, room_type_id, future(5), future(6))
    sent["guest"].update(guest)
    response = await client.post("/v1/bookings", json=sent, headers=key())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await reservations_of(app, room_type_id) == 0


async def test_foreign_guest_and_party_rules(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=3, max_adults=2, max_occupancy=3)
    foreign = body(property_id, room_type_id, future(5), future(6))
    foreign["guest"] = {
        "name": "Li Wei",
        "phone": "+86 138 0013 8000",
        "nationality": "cn",
        "passport_number": "e 1234567",
    }
    created = await client.post("/v1/bookings", json=foreign, headers=key())
    assert created.status_code == 201, created.text
    assert created.json()["guest"] == {
        "name": "Li Wei",
        "nationality": "CN",
        "email": None,
        "phone": "+8613800138000",
        "passport_number": "E1234567",
    }
    too_many = body(property_id, room_type_id, future(5), future(6), adults=3)
    response = await client.post("/v1/bookings", json=too_many, headers=key())
    assert response.status_code == 422
    assert response.json()["code"] == "party_too_large"
    two_rooms = body(property_id, room_type_id, future(5), future(6), adults=3, children=1, rooms=2)
    assert (await client.post("/v1/bookings", json=two_rooms, headers=key())).status_code == 201


async def test_unknown_room_type_and_bad_json(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app)
    other_property = await make_property(app, (await make_user(app, "owner"))[0])
    wrong = body(other_property, room_type_id, future(5), future(6))
    response = await client.post("/v1/bookings", json=wrong, headers=key())
    assert response.status_code == 404
    assert response.json()["code"] == "room_type_not_found"
    broken = await client.post(
        "/v1/bookings", content=b'{"property_id": ', headers={**key(), "Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    extra = body(property_id, room_type_id, future(5), future(6), surprise=1)
    assert (await client.post("/v1/bookings", json=extra, headers=key())).status_code in (400, 422)
    huge = body(property_id, room_type_id, future(5), future(6), rooms=10**12)
    assert (await client.post("/v1/bookings", json=huge, headers=key())).status_code in (400, 422)


async def test_idempotency_key(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=5)
    sent = body(property_id, room_type_id, future(7), future(9))
    missing = await client.post("/v1/bookings", json=sent)
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith("application/problem+json")
    headers = key()
    first = await client.post("/v1/bookings", json=sent, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    # the same body, its keys in another order, replays the first answer
    again = await client.post("/v1/bookings", json=dict(reversed(list(sent.items()))), headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post("/v1/bookings", json={**sent, "adults": 1}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await reservations_of(app, room_type_id) == 1
    # keys belong to their caller: a logged-in user's key is another scope
    _, email = await make_user(app, "tourist")
    tourist = bearer((await login(client, email))["access_token"])
    theirs = await client.post("/v1/bookings", json=sent, headers={**headers, **tourist})
    assert theirs.status_code == 201
    assert theirs.json()["code"] != first.json()["code"]
    # a failed attempt is not remembered: after a sold-out 409 the same key may succeed later
    assert await reservations_of(app, room_type_id) == 2


async def test_twenty_concurrent_duplicates_make_one_reservation(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=50)
    sent = body(property_id, room_type_id, future(4), future(6))
    headers = key()
    responses = await asyncio.gather(*(client.post("/v1/bookings", json=sent, headers=headers) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code not in (201, 409)]
    codes = {r.json()["code"] for r in responses if r.status_code == 201}
    assert len(codes) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
    assert await reservations_of(app, room_type_id) == 1
    assert (await nights_sold(app, room_type_id)) == {future(4): (1, 1), future(5): (1, 1)}


async def test_two_hundred_racers_for_the_last_room(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=1)
    night = future(15)
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/bookings", json=body(property_id, room_type_id, night, night + timedelta(days=1)), headers=key()
            )
            for _ in range(200)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, sorted(set(statuses))
    assert statuses.count(409) == 199, [r.text for r in responses if r.status_code not in (201, 409)][:3]
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] in ("sold_out", "busy")
    assert (await nights_sold(app, room_type_id)) == {night: (1, 1)}


async def test_overlapping_stays_one_room(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=1)
    d23 = future(30)
    d24, d25, d26 = (d23 + timedelta(days=i) for i in (1, 2, 3))
    results = await asyncio.gather(
        *(
            client.post("/v1/bookings", json=body(property_id, room_type_id, start, end), headers=key())
            for start, end in [(d23, d25), (d24, d26)] * 10
        )
    )
    assert sorted(r.status_code for r in results).count(201) == 1
    winner = next(r.json() for r in results if r.status_code == 201)
    sold = await nights_sold(app, room_type_id)
    assert all(a == b <= 1 for a, b in sold.values())
    if winner["check_in"] == d23.isoformat():  # 23→25 won: the 25th is still free
        late = await client.post("/v1/bookings", json=body(property_id, room_type_id, d25, d26), headers=key())
        assert late.status_code == 201, late.text
    else:  # 24→26 won: the 23rd is still free
        early = await client.post("/v1/bookings", json=body(property_id, room_type_id, d23, d24), headers=key())
        assert early.status_code == 201, early.text


async def test_expired_hold_frees_its_nights_at_once(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=1)
    stay = (future(8), future(10))
    first = await client.post("/v1/bookings", json=body(property_id, room_type_id, *stay), headers=key())
    assert first.status_code == 201
    search = {"check_in": stay[0].isoformat(), "check_out": stay[1].isoformat()}
    listed = await client.get(f"/v1/properties/{property_id}", params=search)
    assert listed.json()["offers"] == []
    assert (
        await client.post("/v1/bookings", json=body(property_id, room_type_id, *stay), headers=key())
    ).status_code == 409
    later = utcnow() + timedelta(minutes=16)  # past the 15-minute hold; no job has run
    with clock(app, later):
        code = first.json()["code"]
        seen = await client.get(f"/v1/bookings/{code}", headers={"X-Booking-Token": first.json()["lookup_token"]})
        assert seen.json()["status"] == "expired"
        listed = await client.get(f"/v1/properties/{property_id}", params=search)
        assert listed.json()["offers"][0]["rooms_left"] == 1
        second = await client.post("/v1/bookings", json=body(property_id, room_type_id, *stay), headers=key())
        assert second.status_code == 201, second.text
    assert (await nights_sold(app, room_type_id)) == {stay[0]: (1, 1), future(9): (1, 1)}


async def test_cancel_gives_the_nights_back_once(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=1)
    created = (
        await client.post("/v1/bookings", json=body(property_id, room_type_id, future(20), future(22)), headers=key())
    ).json()
    token = {"X-Booking-Token": created["lookup_token"]}
    outcomes = await asyncio.gather(
        *(client.post(f"/v1/bookings/{created['code']}/cancel", headers=token) for _ in range(5))
    )
    assert {r.status_code for r in outcomes} == {200}, [r.text for r in outcomes]
    got = outcomes[0].json()
    assert got["reservation"]["status"] == "cancelled"
    assert got["refund_percent"] == 100
    assert got["refund"] is None
    assert (await nights_sold(app, room_type_id)) == {}
    again = await client.post(
        "/v1/bookings", json=body(property_id, room_type_id, future(20), future(22)), headers=key()
    )
    assert again.status_code == 201


async def test_restrictions(app: Litestar, client: httpx.AsyncClient) -> None:
    _owner_id, property_id, _ = await bookable_room_type(app)
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(40), future(41), min_stay=2)
    await open_calendar(app, room_type_id, future(41), future(42), closed_to_arrival=True)
    await open_calendar(app, room_type_id, future(42), future(44))
    await open_calendar(app, room_type_id, future(44), future(45), closed_to_departure=True)
    cases = [
        ((40, 41), "min_stay"),
        ((41, 42), "closed_to_arrival"),
        ((42, 44), "closed_to_departure"),
    ]
    for (start, end), rule in cases:
        response = await client.post(
            "/v1/bookings", json=body(property_id, room_type_id, future(start), future(end)), headers=key()
        )
        assert response.status_code == 409, (rule, response.text)
        assert response.json()["code"] == "stay_restricted"
        assert response.json()["rule"] == rule
    assert (await nights_sold(app, room_type_id)) == {}
    ok = await client.post("/v1/bookings", json=body(property_id, room_type_id, future(40), future(42)), headers=key())
    assert ok.status_code == 201, ok.text


async def test_the_lookup_token_is_never_stored_in_clear(app: Litestar, client: httpx.AsyncClient) -> None:
    from sqlalchemy import text

    _, property_id, room_type_id = await bookable_room_type(app, allotment=2)
    sent = body(property_id, room_type_id, future(11), future(12))
    headers = key()
    first = (await client.post("/v1/bookings", json=sent, headers=headers)).json()
    token = first["lookup_token"]
    async with unit_of_work(app.state.engine) as session:
        stored = (
            await session.exec(  # type: ignore[call-overload]
                text("SELECT response FROM idempotency_key WHERE key = :k"), params={"k": headers["Idempotency-Key"]}
            )
        ).one()[0]
    assert token not in str(stored)
    again = await client.post("/v1/bookings", json=sent, headers=headers)
    assert again.json()["lookup_token"] == token  # derived again for the replay
    read = await client.get(f"/v1/bookings/{first['code']}", headers={"X-Booking-Token": token})
    assert read.status_code == 200


async def test_a_lapsed_hold_cannot_be_cancelled_whether_or_not_the_job_ran(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    _, property_id, room_type_id = await bookable_room_type(app, allotment=1)
    made = (
        await client.post("/v1/bookings", json=body(property_id, room_type_id, future(13), future(14)), headers=key())
    ).json()
    with clock(app, utcnow() + timedelta(minutes=16)):
        response = await client.post(
            f"/v1/bookings/{made['code']}/cancel", headers={"X-Booking-Token": made["lookup_token"]}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"
        assert "expired" in response.json()["detail"]


async def test_nights_not_on_sale_are_told_apart_from_sold_out(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, _ = await bookable_room_type(app)
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(50), future(51), price=None)  # opened without a rate
    await open_calendar(app, room_type_id, future(51), future(52), stop_sell=True)
    await open_calendar(app, room_type_id, future(52), future(53), allotment=0)
    for start, code in [(50, "not_for_sale"), (51, "not_for_sale"), (52, "sold_out"), (60, "not_for_sale")]:
        response = await client.post(
            "/v1/bookings", json=body(property_id, room_type_id, future(start), future(start + 1)), headers=key()
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == code
        assert response.json()["night"] == future(start).isoformat()


@pytest.mark.parametrize("name", ["Bad\u202eName", "a\u0000b", "Esc\u001b[31m", "x\u2066y"])
async def test_guest_names_with_control_or_bidi_characters_are_refused(
    app: Litestar, client: httpx.AsyncClient, name: str
) -> None:
    _, property_id, room_type_id = await bookable_room_type(app)
    sent = body(property_id, room_type_id, future(5), future(6))
    sent["guest"]["name"] = name
    response = await client.post("/v1/bookings", json=sent, headers=key())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "guest.name"


async def test_an_expired_key_counts_as_new(app: Litestar, client: httpx.AsyncClient) -> None:
    from sqlalchemy import text

    _, property_id, room_type_id = await bookable_room_type(app, allotment=3)
    headers = key()
    first = await client.post(
        "/v1/bookings", json=body(property_id, room_type_id, future(16), future(17)), headers=headers
    )
    assert first.status_code == 201
    async with unit_of_work(app.state.engine) as session:  # 25 hours later, before the purge ran
        await session.exec(  # type: ignore[call-overload]
            text("UPDATE idempotency_key SET expires_at = :t WHERE key = :k"),
            params={"t": (utcnow() - timedelta(hours=1)).replace(tzinfo=None), "k": headers["Idempotency-Key"]},
        )
    other = await client.post(
        "/v1/bookings", json=body(property_id, room_type_id, future(18), future(19), adults=1), headers=headers
    )
    assert other.status_code == 201, other.text
    assert "idempotent-replayed" not in other.headers
    assert other.json()["code"] != first.json()["code"]
    replay = await client.post(
        "/v1/bookings", json=body(property_id, room_type_id, future(18), future(19), adults=1), headers=headers
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["code"] == other.json()["code"]
