"""Regression tests of a code review of payments: a late payment over a partly resold stay gives its nights back,
an intent's news and its success cannot deadlock, a balance on a confirmed stay is taken (not refunded as a
duplicate), a night is refunded once whichever payment it comes from, and abandoned attempts do not crowd the
reconciliation sweep."""

import asyncio
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, update

from src.booking import inventory
from src.booking.models import InventoryNight, Reservation
from src.kernel.db import unit_of_work, utcnow
from src.payments import ledger, settlement
from src.payments import repository as repo
from tests.booking.support import future
from tests.payments.support import account_number, at, book, bookable, key, notify_transfer, owner_with_account


async def _sold(app: Litestar, room_type_id: UUID, night: date) -> tuple[int, int]:
    async with unit_of_work(app.state.engine) as session:
        sold = (
            await session.exec(
                select(InventoryNight.sold).where(
                    InventoryNight.room_type_id == room_type_id, InventoryNight.night == night
                )
            )
        ).one()[0]
        counted = await inventory.sold_by_reservations(session, room_type_id, night)
    return int(sold), counted


async def _notify(client: httpx.AsyncClient, secret: str, number: str, amount: int, code: str, tid: str) -> Any:
    answer = await notify_transfer(
        client,
        secret,
        account_number=number,
        amount=amount,
        description=code,
        transaction_id=tid,
        transacted_at=utcnow().isoformat(),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_late_payment_over_a_partly_resold_stay_gives_every_night_back(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    late = await book(client, property_id, room_type_id, future(20), future(23))
    started = await client.post(
        f"/v1/bookings/{late['code']}/payments",
        json={"method": "vietqr"},
        headers={**key(), "X-Booking-Token": late["lookup_token"]},
    )
    assert started.status_code == 201
    sent_at, later = utcnow(), utcnow() + timedelta(hours=2)
    async with unit_of_work(app.state.engine) as session:
        await inventory.release_expired_holds(session, later)
    with at(app, later):
        await book(client, property_id, room_type_id, future(21), future(22))  # the middle night is resold
        answer = await notify_transfer(
            client,
            secret,
            account_number=number,
            amount=late["price"]["total"]["amount"],
            description=late["code"],
            transacted_at=sent_at.isoformat(),
            timestamp=int(later.timestamp()),
        )
    assert answer.json()["status"] == "parked"
    assert [await _sold(app, room_type_id, future(n)) for n in (20, 21, 22)] == [(0, 0), (1, 1), (0, 0)]


async def test_news_of_an_intent_and_its_success_take_locks_in_one_order(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    _, property_id, room_type_id, _ = await owner_with_account(app, client)
    booking = await book(client, property_id, room_type_id, future(5), future(6))
    started = await client.post(
        f"/v1/bookings/{booking['code']}/payments",
        json={"method": "vietqr"},
        headers={**key(), "X-Booking-Token": booking["lookup_token"]},
    )
    payment_id = UUID(started.json()["payment_id"])
    async with unit_of_work(app.state.engine) as session:
        await repo.set_payment(session, payment_id, {"provider_ref": f"pi_{payment_id.hex}"})
    both = asyncio.Barrier(2)

    async def succeeded() -> str:
        async with unit_of_work(app.state.engine) as session:
            await both.wait()
            return await settlement.apply_intent(
                session,
                intent_id=f"pi_{payment_id.hex}",
                status="succeeded",
                amount_received=booking["price"]["total"]["amount"],
                metadata=None,
                now=utcnow(),
            )

    async def processing() -> str:
        async with unit_of_work(app.state.engine) as session:
            await both.wait()
            return await settlement.apply_intent(
                session,
                intent_id=f"pi_{payment_id.hex}",
                status="processing",
                amount_received=0,
                metadata=None,
                now=utcnow(),
            )

    outcomes = await asyncio.gather(succeeded(), processing())
    assert outcomes[0] == "confirmed"
    assert outcomes[1] in ("progress", "unchanged")


async def test_the_rest_of_an_accepted_short_transfer_pays_the_balance(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(5), future(6))
    total = booking["price"]["total"]["amount"]
    assert (await _notify(client, secret, number, total - 100_000, booking["code"], "FTA"))["reason"] == "underpaid"
    short = await client.post(
        "/v1/owner/bank-transfers/970436/FTA/attach", json={"code": booking["code"]}, headers=owner
    )
    assert short.json()["outcome"] == "confirmed"
    rest = await _notify(client, secret, number, 100_000, booking["code"], "FTB")  # exactly the balance
    assert rest["status"] == "confirmed"
    state = (
        await client.get(f"/v1/bookings/{booking['code']}", headers={"X-Booking-Token": booking["lookup_token"]})
    ).json()
    assert state["payment"]["status"] == "paid"
    assert state["payment"]["paid"]["amount"] == total
    assert state["payment"]["refunded"]["amount"] == 0


async def test_a_night_is_refunded_once_whichever_payment_it_would_come_from(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(5), future(8))
    total = booking["price"]["total"]["amount"]
    assert (await _notify(client, secret, number, total, booking["code"], "FTC"))["status"] == "confirmed"
    assert (await _notify(client, secret, number, total, booking["code"], "FTD"))["reason"] == "already_paid"
    duplicate = await client.post(
        "/v1/owner/bank-transfers/970436/FTD/attach", json={"code": booking["code"]}, headers=owner
    )
    assert duplicate.json()["outcome"] == "refunded_duplicate"
    state = (
        await client.get(f"/v1/bookings/{booking['code']}", headers={"X-Booking-Token": booking["lookup_token"]})
    ).json()
    assert state["payment"]["status"] == "paid"  # the stay is paid; only the duplicate went back
    async with unit_of_work(app.state.engine) as session:  # that payout is cancelled: both payments hold money
        reservation = await repo.reservation_for_update(session, code=booking["code"])
        assert reservation is not None
        entry = next(e for e in await repo.refunds_of(session, reservation.id) if e.reason == "duplicate")
        await ledger.move_refund(session, entry, "canceled", utcnow())
    url = f"/v1/owner/reservations/{booking['code']}/refunds"
    first = await client.post(url, json={"nights": [future(5).isoformat()]}, headers={**owner, **key()})
    again = await client.post(url, json={"nights": [future(5).isoformat()]}, headers={**owner, **key()})
    assert first.status_code == 201
    assert again.status_code == 409


async def test_abandoned_card_attempts_do_not_crowd_out_a_recent_one(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable(app, allotment=5)
    now = utcnow()
    ids = []
    for offset in range(3):
        booking = await book(client, property_id, room_type_id, future(10 + offset), future(11 + offset))
        async with unit_of_work(app.state.engine) as session:
            reservation = await repo.reservation_for_update(session, code=booking["code"])
            assert reservation is not None
            payment_id = uuid4()
            await repo.insert_payment(
                session,
                {
                    "id": payment_id,
                    "reservation_id": reservation.id,
                    "method": "card",
                    "attempt": 1,
                    "status": "pending",
                    "amount": reservation.total_amount,
                    "currency": "VND",
                    "provider_ref": f"pi_{payment_id.hex}",
                    "created_at": now - timedelta(days=30) if offset < 2 else now - timedelta(minutes=10),
                    "updated_at": now,
                },
            )
            ids.append(payment_id)
    async with unit_of_work(app.state.engine) as session:
        table = Reservation.__table__  # type: ignore[attr-defined]
        codes = select(repo.payment.c.reservation_id).where(repo.payment.c.id.in_(ids[:2]))
        await session.exec(update(table).where(table.c.id.in_(codes)).values(status="expired"))
        stuck = await repo.stuck_payments(
            session, older_than=now - timedelta(minutes=2), newer_than=now - timedelta(days=2), limit=2
        )
    assert [row.id for row in stuck] == [ids[2]]


@pytest.fixture(autouse=True)
def _python_311_barrier() -> None:
    if not hasattr(asyncio, "Barrier"):  # pragma: no cover
        pytest.skip("asyncio.Barrier is Python 3.11+")
