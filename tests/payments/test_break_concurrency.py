"""Trying to break payments with real concurrency (httpx over ASGITransport in one event loop, asyncio.gather): each
race ends with the money, inventory and outbox invariants checked in the database."""

import asyncio
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import func, select

from src.booking import inventory
from src.kernel.db import unit_of_work, utcnow
from src.payments import webhooks
from src.payments.models import Payment
from src.payments.stripe import StripeProvider
from tests.booking.support import future, make_owner, make_property, make_room_type, open_calendar
from tests.kernel.auth_support import bearer, login
from tests.payments.localstripe import LocalStripe
from tests.payments.support import (
    account_number,
    at,
    book,
    card_enabled,
    deliver,
    event_body,
    intent_object,
    key,
    messages,
    notify_transfer,
    owner_with_account,
    process_all,
    refunds,
    start_card_intent,
)
from tests.payments.test_break_support import check_invariants


async def _owner_room(app: Litestar, client: httpx.AsyncClient, days: int = 90) -> tuple[dict[str, str], Any, Any]:
    owner_id, email = await make_owner(app)
    property_id = await make_property(app, owner_id, tax_fees=[])
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(0), future(days), allotment=1, price=900_000)
    owner = bearer((await login(client, email))["access_token"])
    return owner, property_id, room_type_id


async def test_twenty_concurrent_notices_of_one_transaction_confirm_once(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(5), future(7))
    amount = booking["price"]["total"]["amount"]
    now = utcnow().isoformat()
    answers = await asyncio.gather(
        *(
            notify_transfer(
                client,
                secret,
                account_number=number,
                amount=amount,
                description=f"{booking['code']} chuyen tien",
                transaction_id="FTRACE20",
                transacted_at=now,
            )
            for _ in range(20)
        )
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    assert Counter(a.json()["status"] for a in answers) == {"confirmed": 1, "duplicate": 19}
    state = await check_invariants(app, booking["code"])
    assert state["status"] == "confirmed"
    assert state["paid"] == amount
    assert state["refunds"] == []
    assert len(await messages(app, booking["code"], "reservation_confirmed")) == 1


async def test_two_transfers_for_one_reservation_at_once(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    now = utcnow().isoformat()
    for round_ in range(5):
        booking = await book(client, property_id, room_type_id, future(10 + 2 * round_), future(11 + 2 * round_))
        amount = booking["price"]["total"]["amount"]
        answers = await asyncio.gather(
            *(
                notify_transfer(
                    client,
                    secret,
                    account_number=number,
                    amount=amount,
                    description=booking["code"],
                    transaction_id=f"FTTWO{round_}{n}",
                    transacted_at=now,
                )
                for n in range(2)
            )
        )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        outcomes = sorted((a.json()["status"], a.json()["reason"]) for a in answers)
        assert outcomes == [("confirmed", None), ("parked", "already_paid")], outcomes
        state = await check_invariants(app, booking["code"])
        assert state["status"] == "confirmed"
        assert state["paid"] == amount
        assert len(await messages(app, booking["code"], "reservation_confirmed")) == 1


async def test_cancel_races_a_succeeded_webhook(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await _owner_room(app, client, days=120)
    rng = random.Random(20261203)
    seen: Counter[str] = Counter()
    with card_enabled(app, stripe_provider):
        for round_ in range(8):
            booking = await book(client, property_id, room_type_id, future(40 + 2 * round_), future(41 + 2 * round_))
            paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
            ack = await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
            event_id = ack.json()["event_id"]

            async def run_event(delay: float, event_id: str = event_id) -> str:
                await asyncio.sleep(delay)
                return await webhooks.process(app.state.engine, "stripe", event_id, utcnow())

            async def cancel(delay: float, booking: dict[str, Any] = booking) -> httpx.Response:
                await asyncio.sleep(delay)
                return await client.post(
                    f"/v1/bookings/{booking['code']}/cancel", headers={"X-Booking-Token": booking["lookup_token"]}
                )

            outcome, cancelled = await asyncio.gather(run_event(rng.random() / 100), cancel(rng.random() / 100))
            assert cancelled.status_code == 200, cancelled.text
            seen[outcome] += 1
            assert outcome in ("confirmed", "refunded_cancelled"), outcome
            state = await check_invariants(app, booking["code"])
            total = booking["price"]["total"]["amount"]
            assert state["status"] == "cancelled"
            assert state["paid"] == total
            # 100 % back under the default policy this far ahead, whoever came first; never more than captured
            assert state["refunded"] == total, state
            assert sum(amount for _, amount, _ in state["refunds"]) == total
            assert await messages(app, booking["code"], "reservation_cancelled")
    assert sum(seen.values()) == 8, seen


async def test_twenty_owner_refunds_of_one_night_at_once(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    owner, property_id, room_type_id = await _owner_room(app, client)
    booking = await book(client, property_id, room_type_id, future(30), future(33))
    night = future(31).isoformat()
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
        url = f"/v1/owner/reservations/{booking['code']}/refunds"
        answers = await asyncio.gather(
            *(client.post(url, json={"nights": [night]}, headers={**owner, **key()}) for _ in range(20))
        )
    statuses = Counter(a.status_code for a in answers)
    assert statuses[201] == 1, [a.text for a in answers if a.status_code != 409]
    assert set(statuses) <= {201, 409}
    assert all(a.json()["code"] in ("refund_exceeds_capture", "busy") for a in answers if a.status_code == 409)
    entries = await refunds(app, booking["code"])
    assert [e.amount for e in entries] == [booking["price"]["total"]["amount"] // 3]
    await check_invariants(app, booking["code"])


async def test_concurrent_owner_refunds_with_one_idempotency_key(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    owner, property_id, room_type_id = await _owner_room(app, client)
    booking = await book(client, property_id, room_type_id, future(34), future(36))
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
        url = f"/v1/owner/reservations/{booking['code']}/refunds"
        same = key()
        answers = await asyncio.gather(
            *(client.post(url, json={"amount": 1000}, headers={**owner, **same}) for _ in range(10))
        )
        assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
        firsts = [a for a in answers if a.status_code == 201]
        assert firsts
        assert len({a.json()[0]["id"] for a in firsts}) == 1  # replays of the one refund
        amounts = await asyncio.gather(
            *(client.post(url, json={"amount": 1000 + n}, headers={**owner, **key()}) for n in range(10))
        )
        assert all(a.status_code == 201 for a in amounts), [a.text for a in amounts]
    entries = await refunds(app, booking["code"])
    assert sorted(e.amount for e in entries) == sorted([1000, *(1000 + n for n in range(10))])
    await check_invariants(app, booking["code"])


async def test_concurrent_card_starts_make_one_payment_intent(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await _owner_room(app, client)
    with card_enabled(app, stripe_provider):
        for round_ in range(3):
            booking = await book(client, property_id, room_type_id, future(50 + 2 * round_), future(51 + 2 * round_))
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"/v1/bookings/{booking['code']}/payments",
                        json={"method": "card"},
                        headers={**key(), "X-Booking-Token": booking["lookup_token"]},
                    )
                    for _ in range(8)
                )
            )
            assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
            assert len({a.json()["client_secret"] for a in answers}) == 1
            assert len({a.json()["payment_id"] for a in answers}) == 1
            async with unit_of_work(app.state.engine) as session:
                from src.booking.models import Reservation

                rows = (
                    await session.exec(
                        select(func.count())
                        .select_from(Payment)
                        .join(Reservation, Reservation.id == Payment.reservation_id)  # type: ignore[arg-type]
                        .where(Reservation.code == booking["code"])
                    )
                ).one()
            assert rows[0] == 1
            await check_invariants(app, booking["code"])


async def test_hold_expiry_job_races_a_succeeded_event(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await _owner_room(app, client, days=120)
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    with card_enabled(app, stripe_provider):
        for round_ in range(8):
            booking = await book(client, property_id, room_type_id, future(60 + 2 * round_), future(61 + 2 * round_))
            paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
            event_id = (
                await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
            ).json()["event_id"]
            later = utcnow() + timedelta(hours=2)

            async def expire(delay: float, later: Any = later) -> list[Any]:
                await asyncio.sleep(delay)
                async with unit_of_work(app.state.engine) as session:
                    return await inventory.release_expired_holds(session, later, room_type_id=room_type_id)

            async def run_event(delay: float, event_id: str = event_id, later: Any = later) -> str:
                await asyncio.sleep(delay)
                return await webhooks.process(app.state.engine, "stripe", event_id, later)

            _, outcome = await asyncio.gather(expire(rng.random() / 100), run_event(rng.random() / 100))
            outcomes[outcome] += 1
            assert outcome == "confirmed", outcome  # the nights are still free: confirmed either way
            with at(app, later):
                state = await check_invariants(app, booking["code"])
            assert state["status"] == "confirmed", state
            assert state["refunds"] == []
            assert len(await messages(app, booking["code"], "reservation_confirmed")) == 1


async def test_parked_transfer_attached_and_sent_back_at_once(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(40), future(41))
    amount = booking["price"]["total"]["amount"]
    now = utcnow().isoformat()
    parked = await notify_transfer(
        client,
        secret,
        account_number=number,
        amount=amount - 1,
        description=booking["code"],
        transaction_id="FTPARK1",
        transacted_at=now,
    )
    assert parked.json()["reason"] == "underpaid"
    base = "/v1/owner/bank-transfers/970436/FTPARK1"
    calls = [client.post(f"{base}/attach", json={"code": booking["code"]}, headers=owner) for _ in range(3)]
    calls += [client.post(f"{base}/refund", headers=owner) for _ in range(3)]
    answers = await asyncio.gather(*calls)
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1, [a.text for a in answers]
    assert set(statuses) <= {200, 409}
    state = await check_invariants(app, booking["code"])
    payouts = (await client.get("/v1/owner/payouts", headers=owner)).json()["items"]
    if state["status"] == "confirmed":
        assert state["paid"] == amount - 1
        assert payouts == []
    else:
        assert state["status"] == "held"
        assert [p["amount"]["amount"] for p in payouts] == [amount - 1]


async def test_five_concurrent_cancels_of_a_paid_booking_refund_once(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(45), future(47))
    amount = booking["price"]["total"]["amount"]
    confirmed = await notify_transfer(
        client,
        secret,
        account_number=number,
        amount=amount,
        description=booking["code"],
        transacted_at=utcnow().isoformat(),
    )
    assert confirmed.json()["status"] == "confirmed"
    answers = await asyncio.gather(
        *(
            client.post(f"/v1/bookings/{booking['code']}/cancel", headers={"X-Booking-Token": booking["lookup_token"]})
            for _ in range(5)
        )
    )
    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    assert any(a.status_code == 200 for a in answers)
    state = await check_invariants(app, booking["code"])
    assert state["status"] == "cancelled"
    assert state["refunded"] == amount
    assert [(r, a) for r, a, _ in state["refunds"]] == [("cancellation", amount)]
    assert len(await messages(app, booking["code"], "reservation_cancelled")) == 1


async def test_refund_events_out_of_order_never_move_a_succeeded_refund_back(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    owner, property_id, room_type_id = await _owner_room(app, client)
    booking = await book(client, property_id, room_type_id, future(70), future(72))
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
        made = await client.post(
            f"/v1/owner/reservations/{booking['code']}/refunds", json={"amount": 5000}, headers={**owner, **key()}
        )
        assert made.status_code == 201, made.text
        entry_id = made.json()[0]["id"]
        refund = {
            "id": "re_out_of_order_1",
            "object": "refund",
            "amount": 5000,
            "payment_intent": paid["id"],
            "metadata": {"refund_id": entry_id},
        }
        # Stripe does not promise event order: refund.updated (succeeded) is delivered before refund.created (pending)
        await deliver(client, event_body("refund.updated", {**refund, "status": "succeeded"}))
        assert await process_all(app) == ["updated"]
        await deliver(client, event_body("refund.created", {**refund, "status": "pending"}))
        await process_all(app)
    entries = await refunds(app, booking["code"])
    assert [(e.amount, e.status) for e in entries] == [(5000, "succeeded")]
    await check_invariants(app, booking["code"])


async def test_transfer_sent_in_time_but_noticed_after_the_expiry_job(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(50), future(51))
    started = await client.post(
        f"/v1/bookings/{booking['code']}/payments",
        json={"method": "vietqr"},
        headers={**key(), "X-Booking-Token": booking["lookup_token"]},
    )
    assert started.status_code == 201, started.text
    from datetime import datetime

    hold = datetime.fromisoformat(started.json()["hold_expires_at"])
    sent = hold - timedelta(minutes=1)  # the guest pays a minute before the hold lapses
    later = hold + timedelta(minutes=2)  # the bank feed tells us three minutes later
    async with unit_of_work(app.state.engine) as session:  # the minute job ran in between
        await inventory.release_expired_holds(session, hold + timedelta(seconds=30))
    with at(app, later):
        answer = await notify_transfer(
            client,
            secret,
            account_number=number,
            amount=booking["price"]["total"]["amount"],
            description=booking["code"],
            transacted_at=sent.isoformat(),
            timestamp=int(later.timestamp()),
        )
        assert answer.status_code == 200, answer.text
        # the nights are still free: confirmed, as a card payment arriving after the expiry would be
        assert answer.json() == {"status": "confirmed", "reason": None, "reservation": booking["code"]}
