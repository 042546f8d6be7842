"""More payment flows: disputes flag the reservation for the owner, a refund event that overtakes its payment's
success, the reconciliation sweep after a crash, "processing" shown as processing, and the confirmation email
reaching a real SMTP server (aiosmtpd) in the guest's locale."""

from datetime import timedelta

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from src.kernel import outbox
from src.kernel.db import unit_of_work, utcnow
from src.kernel.jobs import JobContext
from src.payments import jobs as payments_jobs
from src.payments import webhooks
from src.payments.ledger import RetryLater
from src.payments.models import Payment, WebhookEvent
from src.payments.stripe import StripeProvider
from tests.booking.support import future, make_owner, make_property, make_room_type, open_calendar
from tests.kernel.auth_support import bearer, login
from tests.kernel.test_outbox import SmtpServer
from tests.payments.localstripe import LocalStripe
from tests.payments.support import (
    GUEST,
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
    process_all,
    start_card_intent,
)


async def _event_id(app: Litestar, body: bytes) -> str:
    import json

    return str(json.loads(body)["id"])


async def test_a_dispute_flags_the_reservation_for_the_owner_until_it_is_won(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    owner_id, email = await make_owner(app)
    property_id = await make_property(app, owner_id)
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(0), future(30))
    owner = bearer((await login(client, email))["access_token"])
    booking = await book(client, property_id, room_type_id, future(4), future(5))
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        dispute = {"id": "dp_1", "object": "dispute", "payment_intent": paid["id"], "status": "needs_response"}
        await deliver(client, event_body("charge.dispute.created", dispute))
        assert await process_all(app) == ["confirmed", "flagged"]
        listed = (await client.get("/v1/owner/reservations", headers=owner)).json()["items"]
        mine = [r for r in listed if r["code"] == booking["code"]]
        assert mine[0]["disputed"] is True
        assert mine[0]["payment_status"] == "paid"
        assert (await booking_state(client, booking))["payment"]["disputed"] is True
        await deliver(client, event_body("charge.dispute.closed", {**dispute, "status": "won"}))
        assert await process_all(app) == ["flagged"]
    assert (await booking_state(client, booking))["payment"]["disputed"] is False
    assert (await booking_state(client, booking))["status"] == "confirmed"


async def test_a_refund_event_that_overtakes_the_success_is_applied_once_the_success_is(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    booking = await book(client, property_id, room_type_id, future(6), future(7))
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        refund = {
            "id": "re_early_1",
            "object": "refund",
            "amount": 100_000,
            "status": "succeeded",
            "payment_intent": paid["id"],
        }
        early = event_body("refund.created", refund)
        success = event_body("payment_intent.succeeded", intent_object(paid, "succeeded"))
        await deliver(client, early)
        await deliver(client, success)
        with pytest.raises(RetryLater):
            await webhooks.process(app.state.engine, "stripe", await _event_id(app, early), utcnow())
        assert (
            await webhooks.process(app.state.engine, "stripe", await _event_id(app, success), utcnow()) == "confirmed"
        )
        assert await webhooks.process(app.state.engine, "stripe", await _event_id(app, early), utcnow()) == "recorded"
        await deliver(client, event_body("refund.updated", refund))  # the same refund again, under a new event
        assert await process_all(app) == ["unchanged"]
    state = await booking_state(client, booking)
    assert state["status"] == "confirmed"
    assert state["payment"]["refunded"]["amount"] == 100_000
    assert state["payment"]["status"] == "partially_refunded"
    async with unit_of_work(app.state.engine) as session:
        attempts = (
            await session.exec(
                select(WebhookEvent.attempts).where(WebhookEvent.event_id == await _event_id(app, early))
            )
        ).all()
    assert [a[0] for a in attempts] == [2]  # one failed attempt counted, then the one that applied it


async def test_reconciliation_confirms_a_payment_whose_webhook_never_came_and_finishes_a_half_made_attempt(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    lost = await book(client, property_id, room_type_id, future(8), future(9))
    half = await book(client, property_id, room_type_id, future(10), future(11))
    with card_enabled(app, stripe_provider):
        await localstripe.pay_with_test_card(await start_card_intent(client, lost))  # paid; the webhook is lost
        await start_card_intent(client, half)
    from src.booking.models import Reservation

    async with unit_of_work(app.state.engine) as session:  # as if the process died between the claim and Stripe
        half_id = (await session.exec(select(Reservation.id).where(Reservation.code == half["code"]))).one()[0]
        row = (await session.exec(select(Payment).where(Payment.reservation_id == half_id))).scalars().one()
        row.provider_ref = None
        row.client_secret = None
        row.status = "creating"
        session.add(row)
    later = utcnow() + timedelta(minutes=3)
    await payments_jobs.reconcile(job_context(app, stripe_provider, clock=lambda: later))
    assert (await booking_state(client, lost))["status"] == "confirmed"
    async with unit_of_work(app.state.engine) as session:
        fixed = (await session.exec(select(Payment).where(Payment.reservation_id == half_id))).scalars().one()
    assert fixed.provider_ref is not None
    assert fixed.status == "pending"
    await payments_jobs.reconcile(job_context(app, stripe_provider, clock=lambda: later))  # again: nothing changes
    assert len(await messages(app, lost["code"], "reservation_confirmed")) == 1


async def test_processing_shows_as_processing_and_extends_nothing_backwards(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    booking = await book(client, property_id, room_type_id, future(12), future(13))
    with card_enabled(app, stripe_provider):
        intent_id = await start_card_intent(client, booking)
        state = await booking_state(client, booking)
        assert state["payment"]["status"] == "pending"
        assert state["hold_expires_at"] >= booking["hold_expires_at"]
        intent = {"id": intent_id, "amount": booking["price"]["total"]["amount"], "metadata": {}}
        await deliver(client, event_body("payment_intent.processing", intent_object(intent, "processing")))
        assert await process_all(app) == ["progress"]
    assert (await booking_state(client, booking))["payment"]["status"] == "processing"
    assert (await booking_state(client, booking))["status"] == "held"


async def test_the_confirmation_reaches_smtp_in_the_guests_locale(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    response = await client.post(
        "/v1/bookings",
        json={
            "property_id": str(property_id),
            "room_type_id": str(room_type_id),
            "check_in": future(14).isoformat(),
            "check_out": future(16).isoformat(),
            "adults": 1,
            "children": 0,
            "rooms": 1,
            "guest": {**GUEST, "email": "guest-en@example.org"},
        },
        headers={**key(), "Accept-Language": "en"},
    )
    booking = response.json()
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
    [message] = await messages(app, booking["code"], "reservation_confirmed")
    assert message.locale == "en"
    server = SmtpServer()
    server.start()
    try:
        mailer = outbox.SmtpMailer("127.0.0.1", server.port, starttls=False, timeout=2)
        config = outbox.OutboxConfig(mailer=mailer, mail_from="Lào Cai Travel <no-reply@laocai.travel>")
        ctx = JobContext(engine=app.state.engine, name="test", attempt=1, resources={outbox.RESOURCE: config})
        await outbox.send_message(ctx, message_id=str(message.id))
        await outbox.send_message(ctx, message_id=str(message.id))  # a retried job sends nothing more
    finally:
        server.stop()
    [received] = server.inbox.received
    assert received["To"] == "guest-en@example.org"
    assert booking["code"] in str(received["Subject"])
    text = received.get_body(preferencelist=("plain",))
    assert text is not None
    assert "₫" in text.get_content()


async def test_an_owner_refund_replays_under_its_key_and_a_vietqr_refund_is_a_payout(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    from tests.payments.support import notify_transfer, owner_with_account, refunds

    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    account = (await client.get(f"/v1/owner/properties/{property_id}/bank-account", headers=owner)).json()
    booking = await book(client, property_id, room_type_id, future(20), future(21))
    amount = booking["price"]["total"]["amount"]
    paid = await notify_transfer(
        client,
        secret,
        account_number=account["bank"]["account_number"],
        amount=amount,
        description=booking["code"],
        transacted_at=utcnow().isoformat(),
    )
    assert paid.json()["status"] == "confirmed"
    url = f"/v1/owner/reservations/{booking['code']}/refunds"
    headers = {**owner, **key()}
    first = await client.post(url, json={"amount": 50_000, "note": "late check-in"}, headers=headers)
    again = await client.post(url, json={"amount": 50_000, "note": "late check-in"}, headers=headers)
    other = await client.post(url, json={"amount": 60_000}, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert other.status_code == 422  # the same key with another body
    assert [(e.amount, e.kind, e.status) for e in await refunds(app, booking["code"])] == [
        (50_000, "bank_payout", "pending")
    ]
    payouts = (await client.get("/v1/owner/payouts", params={"status": "pending"}, headers=owner)).json()["items"]
    assert [(p["amount"]["amount"], p["reservation_code"]) for p in payouts] == [(50_000, booking["code"])]
    stranger = await client.post(
        f"/v1/owner/properties/{property_id}/bank-account/rotate-secret", headers={"Authorization": "Bearer x"}
    )
    assert stranger.status_code == 401
    rotated = await client.post(f"/v1/owner/properties/{property_id}/bank-account/rotate-secret", headers=owner)
    assert rotated.status_code == 200
    assert rotated.json()["feed_secret"] != secret
    stale = await notify_transfer(
        client, secret, account_number=account["bank"]["account_number"], amount=1, description="x"
    )
    assert stale.status_code == 400  # the old secret stopped verifying


async def test_cancelling_an_unpaid_booking_closes_its_qr_and_says_nothing_was_paid(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    from tests.payments.support import owner_with_account

    _, property_id, room_type_id, _ = await owner_with_account(app, client)
    booking = await book(client, property_id, room_type_id, future(25), future(26))
    guest = {"X-Booking-Token": booking["lookup_token"]}
    started = (
        await client.post(
            f"/v1/bookings/{booking['code']}/payments", json={"method": "vietqr"}, headers={**key(), **guest}
        )
    ).json()
    qr = started["qr_png_url"].replace("http://testserver", "")
    assert (await client.get(qr)).status_code == 200
    cancelled = await client.post(f"/v1/bookings/{booking['code']}/cancel", headers=guest)
    assert cancelled.json()["refund"] is None
    assert cancelled.json()["reservation"]["payment"]["status"] == "unpaid"
    assert (await client.get(qr)).status_code == 404
    [message] = await messages(app, booking["code"], "reservation_cancelled")
    assert "chưa được thanh toán" in message.body_text  # vi: "nothing was paid", not "no refund is due"


async def test_a_refund_stripe_refuses_is_failed_given_back_and_the_owner_told(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    from tests.payments.support import refunds

    _, property_id, room_type_id = await bookable(app)
    booking = await book(client, property_id, room_type_id, future(40), future(41))
    with card_enabled(app, stripe_provider):
        paid = await localstripe.pay_with_test_card(await start_card_intent(client, booking))
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
        cancelled = await client.post(
            f"/v1/bookings/{booking['code']}/cancel", headers={"X-Booking-Token": booking["lookup_token"]}
        )
        assert cancelled.json()["refund"]["status"] == "requested"
        async with unit_of_work(app.state.engine) as session:  # Stripe will not know this intent
            await session.exec(
                Payment.__table__.update()  # type: ignore[attr-defined]
                .where(Payment.__table__.c.provider_ref == paid["id"])  # type: ignore[attr-defined]
                .values(provider_ref="pi_unknown_to_stripe")
            )
        [entry] = await refunds(app, booking["code"])
        await payments_jobs.execute_refund(job_context(app, stripe_provider), refund_id=str(entry.id))
    [entry] = await refunds(app, booking["code"])
    assert entry.status == "failed"
    assert entry.last_error
    state = await booking_state(client, booking)
    assert state["payment"]["refunded"]["amount"] == 0  # given back: the money is still captured
    assert len(await messages(app, booking["code"], "refund_failed_owner")) == 1


async def test_cancelling_a_booking_cancels_its_open_card_intent_at_stripe(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    _, property_id, room_type_id = await bookable(app)
    booking = await book(client, property_id, room_type_id, future(45), future(46))
    with card_enabled(app, stripe_provider):
        intent_id = await start_card_intent(client, booking)
        before = len(app.state.recorded_jobs.sent)
        cancelled = await client.post(
            f"/v1/bookings/{booking['code']}/cancel", headers={"X-Booking-Token": booking["lookup_token"]}
        )
        assert cancelled.status_code == 200
        jobs = [job for job in app.state.recorded_jobs.sent[before:] if job.name == "payments.cancel_intent"]
        assert [job.kwargs for job in jobs] == [{"intent_id": intent_id}]
        await payments_jobs.cancel_intent(job_context(app, stripe_provider), intent_id=intent_id)
        await payments_jobs.cancel_intent(job_context(app, stripe_provider), intent_id=intent_id)  # retried: no harm
    async with httpx.AsyncClient(base_url=localstripe.url, headers={"Authorization": "Bearer sk_test_12345"}) as c:
        at_stripe = (await c.get(f"/v1/payment_intents/{intent_id}")).json()
    assert at_stripe["status"] == "canceled"
    async with unit_of_work(app.state.engine) as session:
        status = (await session.exec(select(Payment.status).where(Payment.provider_ref == intent_id))).one()[0]
    assert status == "canceled"
