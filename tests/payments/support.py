"""Helpers of the payment flow tests: a booking to pay, Stripe events signed with the SDK's own helper (for what
localstripe never sends), bank notices signed like a bank feed, and a look into the outbox and the ledger."""

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from uuid import UUID

import httpx
from litestar import Litestar
from sqlalchemy import func, select

from src.kernel.db import unit_of_work, utcnow
from src.kernel.jobs import JobContext
from src.kernel.outbox import OutboxMessage
from src.payments import jobs as payments_jobs
from src.payments import webhooks
from src.payments.models import Refund, WebhookEvent
from src.payments.stripe import sign
from src.payments.stripe import sign as sign_notice
from tests.booking.support import bookable_room_type, future, make_owner, make_property, make_room_type, open_calendar
from tests.kernel.auth_support import bearer, login
from tests.payments.localstripe import WEBHOOK_SECRET

GUEST = {"name": "Trần Thị B", "email": "b@example.org", "phone": "0912345678", "nationality": "VN"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@contextmanager
def card_enabled(app: Litestar, provider: Any) -> Iterator[None]:
    """Serve card payments through ``provider`` (a ``StripeProvider`` on localstripe) for the block."""
    previous = app.state.get("card_provider")
    app.state.card_provider = provider
    try:
        yield
    finally:
        app.state.card_provider = previous


@contextmanager
def at(app: Litestar, now: datetime) -> Iterator[None]:
    """Run the app at ``now`` (aware UTC) for the block."""
    previous = app.state.clock
    app.state.clock = lambda: now
    try:
        yield
    finally:
        app.state.clock = previous


async def book(
    client: httpx.AsyncClient, property_id: UUID, room_type_id: UUID, check_in: date, check_out: date
) -> dict[str, Any]:
    """Hold one room; the 201 body (with ``code`` and ``lookup_token``)."""
    response = await client.post(
        "/v1/bookings",
        json={
            "property_id": str(property_id),
            "room_type_id": str(room_type_id),
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "adults": 2,
            "children": 0,
            "rooms": 1,
            "guest": dict(GUEST),
        },
        headers=key(),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def bookable(app: Litestar, **fields: Any) -> tuple[UUID, UUID, UUID]:
    """``(owner_id, property_id, room_type_id)`` of a room type open for 60 nights, one room."""
    return await bookable_room_type(app, **fields)


def event_body(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    """A Stripe event as Stripe sends it (``data.object``), serialised once."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }
    return json.dumps(event, separators=(",", ":")).encode()


def intent_object(intent: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    """A PaymentIntent object in ``status`` built from what localstripe holds (its id, amount, metadata)."""
    return {
        "id": intent["id"],
        "object": "payment_intent",
        "amount": intent["amount"],
        "amount_received": intent["amount"] if status == "succeeded" else 0,
        "currency": intent.get("currency", "vnd"),
        "status": status,
        "metadata": intent.get("metadata") or {},
        **extra,
    }


async def deliver(
    client: httpx.AsyncClient, body: bytes, secret: str = WEBHOOK_SECRET, **kwargs: Any
) -> httpx.Response:
    """POST one signed event to the Stripe webhook."""
    header = sign(body, secret, **kwargs)
    return await client.post(
        "/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


async def process_all(app: Litestar, now: datetime | None = None) -> list[str]:
    """Run the processing of every stored event not yet tried (what the job does after the commit); events that
    failed before (an earlier test's, kept for the sweep) are left alone."""
    async with unit_of_work(app.state.engine) as session:
        rows = (
            await session.exec(
                select(WebhookEvent.provider, WebhookEvent.event_id)
                .where(WebhookEvent.processed_at.is_(None), WebhookEvent.attempts == 0)  # type: ignore[union-attr]
                .order_by(WebhookEvent.received_at)
            )
        ).all()
    return [await webhooks.process(app.state.engine, p, e, now or utcnow()) for p, e in rows]


async def messages(app: Litestar, code: str, category: str | None = None) -> list[OutboxMessage]:
    """Outbox messages about reservation ``code``."""
    async with unit_of_work(app.state.engine) as session:
        statement = select(OutboxMessage).where(OutboxMessage.reference == code)
        if category is not None:
            statement = statement.where(OutboxMessage.category == category)
        return list((await session.exec(statement)).scalars().all())


async def refunds(app: Litestar, code: str) -> list[Refund]:
    """Ledger entries of reservation ``code``."""
    from src.booking.models import Reservation

    async with unit_of_work(app.state.engine) as session:
        statement = (
            select(Refund)
            .join(Reservation, Reservation.id == Refund.reservation_id)  # type: ignore[arg-type]
            .where(Reservation.code == code)
            .order_by(Refund.created_at)
        )
        return list((await session.exec(statement)).scalars().all())


async def stored_events(app: Litestar) -> int:
    async with unit_of_work(app.state.engine) as session:
        return int((await session.exec(select(func.count()).select_from(WebhookEvent))).one()[0])


async def owner_with_account(app: Litestar, client: httpx.AsyncClient) -> tuple[dict[str, str], UUID, UUID, str]:
    """An owner (logged in: headers), a property with a room type open 60 nights and a receiving account;
    ``(headers, property_id, room_type_id, feed_secret)``."""
    owner_id, email = await make_owner(app)
    property_id = await make_property(app, owner_id)
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(0), future(60), allotment=1, price=900_000)
    headers = bearer((await login(client, email))["access_token"])
    number = str(secrets.randbelow(10**12)).zfill(12)
    response = await client.put(
        f"/v1/owner/properties/{property_id}/bank-account",
        json={"bank_bin": "970436", "account_number": number, "account_name": "NGUYEN VAN CHU"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return headers, property_id, room_type_id, response.json()["feed_secret"]


async def notify_transfer(
    client: httpx.AsyncClient,
    secret: str,
    *,
    account_number: str,
    amount: int,
    description: str,
    transaction_id: str | None = None,
    transacted_at: str = "2026-12-24T09:15:00+07:00",
    timestamp: int | None = None,
) -> httpx.Response:
    """POST one signed bank notice (API.md)."""
    body = json.dumps(
        {
            "transaction_id": transaction_id or f"FT{secrets.randbelow(10**11)}",
            "bank_bin": "970436",
            "account_number": account_number,
            "amount": amount,
            "currency": "VND",
            "description": description,
            "transacted_at": transacted_at,
        }
    ).encode()
    return await client.post(
        "/v1/webhooks/bank-transfer",
        content=body,
        headers={"X-Bank-Feed-Signature": sign_notice(body, secret, timestamp), "Content-Type": "application/json"},
    )


async def start_card(client: httpx.AsyncClient, booking: dict[str, Any]) -> dict[str, Any]:
    """Start paying ``booking`` by card as its guest; the 201 body (``client_secret``, ``publishable_key``...)."""
    response = await client.post(
        f"/v1/bookings/{booking['code']}/payments",
        json={"method": "card"},
        headers={**key(), "X-Booking-Token": booking["lookup_token"]},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def start_card_intent(client: httpx.AsyncClient, booking: dict[str, Any]) -> str:
    """``start_card``'s PaymentIntent id (the part of the client secret before ``_secret_``)."""
    return str((await start_card(client, booking))["client_secret"]).split("_secret_")[0]


async def booking_state(client: httpx.AsyncClient, booking: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/bookings/{code}`` as the guest (its lookup token)."""
    response = await client.get(f"/v1/bookings/{booking['code']}", headers={"X-Booking-Token": booking["lookup_token"]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def job_context(app: Litestar, card: Any, clock: Any = utcnow) -> JobContext:
    """The context payments' job handlers receive, with ``card`` as the card provider and ``clock`` as the time."""
    resources = {payments_jobs.RESOURCE: payments_jobs.PaymentsResources(card=card, clock=clock)}
    return JobContext(engine=app.state.engine, name="test", attempt=1, resources=resources)


async def account_number(client: httpx.AsyncClient, owner: dict[str, str], property_id: Any) -> str:
    """The receiving account number of the owner's property."""
    account = (await client.get(f"/v1/owner/properties/{property_id}/bank-account", headers=owner)).json()
    number: str = account["bank"]["account_number"]
    return number


__all__ = ["bearer", "login"]
