"""Payments end to end over the app on both engines: the real ``stripe`` SDK against localstripe, Stripe events
signed with the SDK's own helper for what localstripe never sends, bank notices signed like a bank feed."""

import asyncio
import json
import random
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from src.booking import inventory
from src.booking.models import Reservation
from src.kernel.db import unit_of_work, utcnow
from src.payments import jobs as payments_jobs
from src.payments.errors import RefundExceedsCapture
from src.payments.stripe import StripeProvider
from tests.booking.support import future, open_calendar
from tests.payments.localstripe import LocalStripe
from tests.payments.support import (
    at,
    book,
    bookable,
    booking_state,
    card_enabled,
    deliver,
    event_body,
    intent_object,
    job_context,
    key,
    messages,
    notify_transfer,
    owner_with_account,
    process_all,
    refunds,
    start_card,
)


async def _intent(localstripe: LocalStripe, intent_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=localstripe.url, headers={"Authorization": "Bearer sk_test_12345"}) as c:
        response = await c.get(f"/v1/payment_intents/{intent_id}")
    answer: dict[str, Any] = response.json()
    return answer


async def test_succeeded_three_times_confirms_once_and_failed_later_changes_nothing(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    booking = await book(client, property_id, room_type_id, future(10), future(12))
    with card_enabled(app, stripe_provider):
        started = await start_card(client, booking)
        assert started["client_secret"]
        assert started["publishable_key"] == "pk_test_12345"
        assert started["amount"]["amount"] == booking["price"]["total"]["amount"]
        again = await client.post(  # a double tap with another key lands on the same attempt and intent
            f"/v1/bookings/{booking['code']}/payments",
            json={"method": "card"},
            headers={**key(), "X-Booking-Token": booking["lookup_token"]},
        )
        assert again.json()["client_secret"] == started["client_secret"]
        intent_id = started["client_secret"].split("_secret_")[0]
        paid = await localstripe.pay_with_test_card(intent_id)
        assert paid["status"] == "succeeded"
        body = event_body("payment_intent.succeeded", intent_object(paid, "succeeded"))
        answers = [await deliver(client, body) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.json()["duplicate"] for a in answers] == [False, True, True]
        outcomes = await process_all(app)
        assert outcomes == ["confirmed"]
        # Stripe also redelivers under the same event id after processing: nothing more happens
        assert (await deliver(client, body)).json()["duplicate"] is True
        assert await process_all(app) == []
        failed = event_body(
            "payment_intent.payment_failed",
            intent_object(paid, "requires_payment_method", last_payment_error={"message": "card declined"}),
        )
        assert (await deliver(client, failed)).status_code == 200
        assert await process_all(app) == ["unchanged"]
    state = await booking_state(client, booking)
    assert state["status"] == "confirmed"
    assert state["payment"]["status"] == "paid"
    assert state["payment"]["paid"]["amount"] == booking["price"]["total"]["amount"]
    assert len(await messages(app, booking["code"], "reservation_confirmed")) == 1
    assert len(await messages(app, booking["code"], "reservation_confirmed_owner")) == 1


async def test_bad_signatures_are_400(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider
) -> None:
    body = event_body("payment_intent.succeeded", {"id": "pi_nothing", "status": "succeeded", "amount": 1})
    with card_enabled(app, stripe_provider):
        reserialised = json.dumps(json.loads(body), indent=2).encode()
        header = (await deliver(client, body)).request.headers["Stripe-Signature"]
        assert await process_all(app) == ["unknown"]  # a valid event about no payment of ours
        response = await client.post("/v1/webhooks/stripe", content=reserialised, headers={"Stripe-Signature": header})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_signature"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await deliver(client, body, secret="whsec_other")).status_code == 400
        stale = event_body("payment_intent.succeeded", {"id": "pi_x", "status": "succeeded", "amount": 1})
        assert (await deliver(client, stale, timestamp=int(utcnow().timestamp()) - 301)).status_code == 400
        missing = await client.post("/v1/webhooks/stripe", content=body)
        assert missing.status_code == 400
    without = await client.post("/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=00"})
    assert without.status_code == 400  # no Stripe configured: nothing verifies


async def test_late_payment_confirms_when_free_and_refunds_once_when_resold(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    free = await book(client, property_id, room_type_id, future(20), future(22))
    resold = await book(client, property_id, room_type_id, future(30), future(31))
    with card_enabled(app, stripe_provider):
        free_intent = (await start_card(client, free))["client_secret"].split("_secret_")[0]
        resold_intent = (await start_card(client, resold))["client_secret"].split("_secret_")[0]
        later = utcnow() + timedelta(hours=2)
        async with unit_of_work(app.state.engine) as session:
            await inventory.release_expired_holds(session, later)
        with at(app, later):
            other = await book(client, property_id, room_type_id, future(30), future(31))  # the room is resold
            for intent_id in (free_intent, resold_intent):
                paid = await localstripe.pay_with_test_card(intent_id)
                assert (
                    await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
                ).status_code == 200
            outcomes = sorted(await process_all(app, later))
            assert outcomes == ["confirmed", "refunded_resold"]
            redelivered = event_body(
                "payment_intent.succeeded", intent_object(await _intent(localstripe, resold_intent), "succeeded")
            )
            await deliver(client, redelivered)
            assert await process_all(app, later) == ["already"]
            assert (await booking_state(client, free))["status"] == "confirmed"
            resold_state = await booking_state(client, resold)
            assert resold_state["status"] == "expired"
            assert resold_state["payment"]["status"] == "refunded"
            assert (await booking_state(client, other))["status"] == "held"  # the other guest untouched
        entries = await refunds(app, resold["code"])
        assert [(e.reason, e.amount, e.status) for e in entries] == [
            ("resold", resold["price"]["total"]["amount"], "requested")
        ]
        await payments_jobs.execute_refund(job_context(app, stripe_provider), refund_id=str(entries[0].id))
        await payments_jobs.execute_refund(job_context(app, stripe_provider), refund_id=str(entries[0].id))  # retried
        entries = await refunds(app, resold["code"])
        assert len(entries) == 1
        assert entries[0].provider_ref
        assert entries[0].status in ("pending", "succeeded")
    assert len(await messages(app, resold["code"], "payment_refunded_resold")) == 1
    assert await messages(app, resold["code"], "reservation_confirmed") == []


async def test_confirm_call_and_webhook_race_to_one_confirmation(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app, days=120)

    async def one_round(round_: int) -> None:
        rng = random.Random(8 + round_)
        booking = await book(client, property_id, room_type_id, future(1 + 2 * round_), future(2 + 2 * round_))
        intent_id = (await start_card(client, booking))["client_secret"].split("_secret_")[0]
        paid = await localstripe.pay_with_test_card(intent_id)
        body = event_body("payment_intent.succeeded", intent_object(paid, "succeeded"))

        async def webhook(delay: float) -> int:
            await asyncio.sleep(delay)
            response = await deliver(client, body)
            await process_all(app)
            return response.status_code

        async def confirm(delay: float) -> int:
            await asyncio.sleep(delay)
            response = await client.post(
                f"/v1/bookings/{booking['code']}/payments/confirm",
                headers={"X-Booking-Token": booking["lookup_token"]},
            )
            return response.status_code

        calls = [webhook(rng.random() / 200), confirm(rng.random() / 200), confirm(rng.random() / 200)]
        rng.shuffle(calls)
        statuses = await asyncio.gather(*calls)
        assert all(s < 500 for s in statuses), statuses
        assert (await booking_state(client, booking))["status"] == "confirmed"
        assert len(await messages(app, booking["code"], "reservation_confirmed")) == 1

    async def lane(rounds: range) -> None:
        for round_ in rounds:
            await one_round(round_)

    with card_enabled(app, stripe_provider):  # 50 interleavings, five at a time (other rounds' traffic in between)
        await asyncio.gather(*(lane(range(first, 50, 5)) for first in range(5)))


async def test_three_nights_refunded_one_at_a_time(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    from tests.booking.support import make_owner, make_property, make_room_type
    from tests.kernel.auth_support import bearer, login

    owner_id, email = await make_owner(app)
    property_id = await make_property(app, owner_id, tax_fees=[])
    room_type_id = await make_room_type(app, property_id)
    start = future(40)
    for offset, price in enumerate((333_333, 333_333, 333_334)):
        night = start + timedelta(days=offset)
        await open_calendar(app, room_type_id, night, night + timedelta(days=1), price=price)
    booking = await book(client, property_id, room_type_id, start, start + timedelta(days=3))
    assert booking["price"]["total"]["amount"] == 1_000_000
    owner = bearer((await login(client, email))["access_token"])
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(
            (await start_card(client, booking))["client_secret"].split("_secret_")[0]
        )
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
        amounts = []
        for offset in (2, 0, 1):
            night = (start + timedelta(days=offset)).isoformat()
            response = await client.post(
                f"/v1/owner/reservations/{booking['code']}/refunds",
                json={"nights": [night]},
                headers={**owner, **key()},
            )
            assert response.status_code == 201, response.text
            amounts.append(response.json()[0]["amount"]["amount"])
        assert sorted(amounts) == [333_333, 333_333, 333_334]
        assert sum(amounts) == 1_000_000
        url = f"/v1/owner/reservations/{booking['code']}/refunds"
        twice = await client.post(url, json={"nights": [start.isoformat()]}, headers={**owner, **key()})
        assert twice.status_code == 409  # a night is refunded once
        same_key = {**owner, **key()}
        first_try = await client.post(url, json={"amount": 1, "note": "x"}, headers=same_key)
        assert first_try.status_code == 409  # nothing left
        more = await client.post(url, json={"amount": 1}, headers={**owner, **key()})
        assert more.status_code == 409
        assert more.json()["code"] == "refund_exceeds_capture"
        entries = await refunds(app, booking["code"])
        for entry in entries:
            await payments_jobs.execute_refund(job_context(app, stripe_provider), refund_id=str(entry.id))
        entries = await refunds(app, booking["code"])
        first = entries[0]
        event = {
            "id": first.provider_ref,
            "object": "refund",
            "amount": first.amount,
            "status": "succeeded",
            "payment_intent": paid["id"],
            "metadata": {"refund_id": str(first.id)},
        }
        for _ in range(2):  # redelivered under two event ids: counted once
            await deliver(client, event_body("refund.updated", event))
        await process_all(app)
        dashboard = {
            "id": "re_dashboard_1",
            "object": "refund",
            "amount": 5,
            "status": "succeeded",
            "payment_intent": paid["id"],
        }
        await deliver(client, event_body("refund.created", dashboard))
        with pytest.raises(RefundExceedsCapture):  # beyond the capture: refused, the event stays unprocessed
            await process_all(app)
    state = await booking_state(client, booking)
    assert state["payment"]["refunded"]["amount"] == 1_000_000
    assert state["payment"]["status"] == "refunded"
    async with unit_of_work(app.state.engine) as session:
        rows = (
            await session.exec(select(Reservation.refunded_amount).where(Reservation.code == booking["code"]))
        ).all()
    assert [r[0] for r in rows] == [1_000_000]


async def test_bank_transfer_confirms_once_and_short_one_is_parked(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    account = (await client.get(f"/v1/owner/properties/{property_id}/bank-account", headers=owner)).json()
    number = account["bank"]["account_number"]
    assert "feed_secret" not in account
    booking = await book(client, property_id, room_type_id, future(5), future(7))
    started = await client.post(
        f"/v1/bookings/{booking['code']}/payments",
        json={"method": "vietqr"},
        headers={**key(), "X-Booking-Token": booking["lookup_token"]},
    )
    assert started.status_code == 201, started.text
    qr = started.json()
    assert qr["memo"] == booking["code"]
    assert "A000000727" in qr["payload"]
    assert qr["qr_svg_url"].startswith("http://testserver/v1/payments/")
    assert qr["hold_expires_at"] > booking["hold_expires_at"]  # extended by the settlement time
    svg = await client.get(qr["qr_svg_url"].replace("http://testserver", ""))
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    amount = booking["price"]["total"]["amount"]
    memo = f"MBVCB.3456789.{booking['code'][:4].lower()} {booking['code'][4:]}.chuyen tien phong"
    now = utcnow().isoformat()
    first = await notify_transfer(
        client, secret, account_number=number, amount=amount, description=memo, transaction_id="FT1", transacted_at=now
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "confirmed", "reason": None, "reservation": booking["code"]}
    again = await notify_transfer(
        client, secret, account_number=number, amount=amount, description=memo, transaction_id="FT1", transacted_at=now
    )
    assert again.json()["status"] == "duplicate"
    assert (await booking_state(client, booking))["status"] == "confirmed"
    assert len(await messages(app, booking["code"], "reservation_confirmed")) == 1

    short = await book(client, property_id, room_type_id, future(8), future(9))
    parked = await notify_transfer(
        client,
        secret,
        account_number=number,
        amount=1000,
        description=short["code"],
        transaction_id="FT2",
        transacted_at=now,
    )
    assert parked.json() == {"status": "parked", "reason": "underpaid", "reservation": short["code"]}
    assert (await booking_state(client, short))["status"] == "held"
    stray = await notify_transfer(
        client,
        secret,
        account_number=number,
        amount=5000,
        description="tien nha",
        transaction_id="FT3",
        transacted_at=now,
    )
    assert stray.json()["status"] == "parked"
    assert stray.json()["reason"] == "unmatched"
    bad = await notify_transfer(
        client, "wrong-secret", account_number=number, amount=5000, description="x", transaction_id="FT4"
    )
    assert bad.status_code == 400
    listed = (await client.get("/v1/owner/bank-transfers", params={"status": "parked"}, headers=owner)).json()
    assert {t["transaction_id"] for t in listed["items"]} == {"FT2", "FT3"}
    attached = await client.post(
        "/v1/owner/bank-transfers/970436/FT2/attach", json={"code": short["code"]}, headers=owner
    )
    assert attached.status_code == 200, attached.text
    assert (await booking_state(client, short))["status"] == "confirmed"
    back = await client.post("/v1/owner/bank-transfers/970436/FT3/refund", headers=owner)
    assert back.status_code == 200
    assert back.json()["outcome"] == "payout_due"
    payouts = (await client.get("/v1/owner/payouts", params={"status": "pending"}, headers=owner)).json()["items"]
    assert [p["amount"]["amount"] for p in payouts] == [5000]
    done = await client.post(f"/v1/owner/payouts/{payouts[0]['id']}/done", headers=owner)
    assert done.status_code == 200
    assert done.json()["status"] == "succeeded"


async def test_cancel_of_a_paid_booking_refunds_by_policy(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = (await client.get(f"/v1/owner/properties/{property_id}/bank-account", headers=owner)).json()["bank"][
        "account_number"
    ]
    booking = await book(client, property_id, room_type_id, future(30), future(32))
    amount = booking["price"]["total"]["amount"]
    await notify_transfer(
        client,
        secret,
        account_number=number,
        amount=amount,
        description=booking["code"],
        transacted_at=utcnow().isoformat(),
    )
    cancelled = await client.post(
        f"/v1/bookings/{booking['code']}/cancel", headers={"X-Booking-Token": booking["lookup_token"]}
    )
    assert cancelled.status_code == 200, cancelled.text
    outcome = cancelled.json()
    assert outcome["refund_percent"] == 100
    assert outcome["refund"]["amount"]["amount"] == amount
    assert outcome["refund"]["method"] == "vietqr"
    assert outcome["reservation"]["payment"]["status"] == "refunded"
    assert len(await messages(app, booking["code"], "reservation_cancelled")) == 1


async def test_unavailable_methods_and_bad_input(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id = await bookable(app)
    booking = await book(client, property_id, room_type_id, future(3), future(4))
    headers = {**key(), "X-Booking-Token": booking["lookup_token"]}
    for method in ("card", "vietqr"):  # no Stripe keys; no receiving account
        response = await client.post(
            f"/v1/bookings/{booking['code']}/payments", json={"method": method}, headers={**headers, **key()}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "payment_method_unavailable"
    wrong = await client.post(f"/v1/bookings/{booking['code']}/payments", json={"method": "cash"}, headers=headers)
    assert wrong.status_code in (400, 422)
    nobody = await client.post(f"/v1/bookings/{booking['code']}/payments", json={"method": "card"}, headers=key())
    assert nobody.status_code == 404
    garbage = await client.post(
        "/v1/webhooks/bank-transfer", content=b"{not json", headers={"X-Bank-Feed-Signature": "t=1,v1=00"}
    )
    assert garbage.status_code == 400
    invalid = await client.post(
        "/v1/webhooks/bank-transfer", json={"transaction_id": "x"}, headers={"X-Bank-Feed-Signature": "t=1,v1=00"}
    )
    assert invalid.status_code == 422


async def test_amount_above_one_charge_is_refused(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider
) -> None:
    _, property_id, room_type_id = await bookable(app, price=120_000_000)
    booking = await book(client, property_id, room_type_id, future(3), future(4))
    with card_enabled(app, stripe_provider):
        response = await client.post(
            f"/v1/bookings/{booking['code']}/payments",
            json={"method": "card"},
            headers={**key(), "X-Booking-Token": booking["lookup_token"]},
        )
    assert response.status_code == 422
    assert response.json()["code"] == "amount_too_large"
