"""Stripe webhooks: a log first and a command second (ARCHITECTURE.md, example 5).

Ingest (``POST /v1/webhooks/stripe``): the signature is verified on the raw body with the SDK (tolerance 300 s,
``src/payments/stripe.py``); the event is stored once by its id (``INSERT ... ON CONFLICT DO NOTHING``); a new event
queues ``payments.process_event`` after the commit; the answer is 200 at once. Processing (a job, at least once)
claims the event with a conditional update in the transaction of its effects, so an event is applied once however
often it is delivered or the job runs, and the reconciliation sweep re-queues what was stored but not processed.

Events handled (https://docs.stripe.com/api/events/types):
- ``payment_intent.succeeded`` -> ``settlement.settle`` (confirm, or refund when the nights were resold);
  ``payment_intent.processing`` / ``payment_failed`` / ``canceled`` -> ``settlement.progress`` (never undoes a
  confirmed reservation; processing is never shown as failed).
- ``charge.refunded`` (each refund it lists), ``refund.created`` / ``refund.updated`` / ``refund.failed``,
  ``charge.refund.updated`` -> the refund ledger, keyed by refund id (dashboard refunds count too).
- ``charge.dispute.*`` -> the payment's ``dispute_status`` and the reservation's ``disputed`` flag for the owner.
Anything else is stored and ignored.
"""

import logging
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import bindparam
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.db import driver_fetchrow, unit_of_work
from src.kernel.jobs import dispatch
from src.payments import ledger, settlement
from src.payments import repository as repo
from src.payments.errors import InvalidWebhookSignature
from src.payments.provider import CardProvider, InvalidSignature

logger = logging.getLogger("laocai.payments")

PROVIDER = "stripe"
PROCESS_EVENT_NAME = "payments.process_event"
#: Dispute statuses after which the reservation is no longer flagged (https://docs.stripe.com/api/disputes/object).
_DISPUTE_SETTLED = ("won", "warning_closed", "prevented")


#: The log insert on SQLite, built once with bind parameters (compiled once, cached by SQLAlchemy).
_SQLITE_LOG_INSERT = (
    sqlite_insert(repo.webhook_event)
    .values(
        provider=bindparam("p_provider"),
        event_id=bindparam("p_event_id"),
        type=bindparam("p_type"),
        payload=bindparam("p_payload"),
        received_at=bindparam("p_received_at"),
        attempts=0,
    )
    .on_conflict_do_nothing(index_elements=["provider", "event_id"])
    .returning(repo.webhook_event.c.event_id)
)
#: The same insert as PostgreSQL SQL for the driver (``src.kernel.db.driver_fetchrow``: it commits by itself).
_LOG_INSERT_SQL = (
    "INSERT INTO webhook_event (provider, event_id, type, payload, received_at, attempts) "
    "VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id"
)


async def ingest(
    engine: AsyncEngine,
    card: CardProvider | None,
    payload: bytes,
    signature: str | None,
    now: datetime,
    *,
    log_engine: AsyncEngine | None = None,
) -> tuple[str, bool]:
    """Verify and store one Stripe event: ``(event id, whether it is new)``. ``InvalidWebhookSignature`` (400)
    for a body that is not signed with our endpoint's secret (or when no secret is configured).

    The hot path of the webhook (issue 8 benchmark): one statement, on PostgreSQL straight through the driver on
    ``log_engine`` (an autocommit engine, ``src.kernel.db.create_engine(autocommit=True)``: no ORM session, no
    ``BEGIN``/``COMMIT`` round trips, no pre-ping; the insert is atomic by itself), in a ``BEGIN IMMEDIATE``
    transaction on SQLite; a new event's job is dispatched on ``engine``'s job backend once the row is durable. A
    failed write answers 5xx and Stripe delivers the event again."""
    if card is None:
        raise InvalidWebhookSignature("no Stripe webhook secret is configured")
    try:
        event = card.verify_event(payload, signature)
    except InvalidSignature as exc:
        raise InvalidWebhookSignature(str(exc) or "the signature does not verify") from None
    if not (0 < len(event.id) <= 255 and event.id.isprintable() and len(event.type) <= 100):
        raise InvalidWebhookSignature("the event has no usable id or type")
    text = payload.decode()
    writer = log_engine or engine
    if writer.dialect.name == "postgresql":
        new = await driver_fetchrow(writer, _LOG_INSERT_SQL, PROVIDER, event.id, event.type, text, now) is not None
    else:
        parameters = {"p_provider": PROVIDER, "p_event_id": event.id, "p_type": event.type, "p_payload": text}
        async with writer.begin() as connection:
            row = (await connection.execute(_SQLITE_LOG_INSERT, {**parameters, "p_received_at": now})).first()
        new = row is not None
    if new:
        await dispatch(engine, PROCESS_EVENT_NAME, dedup_key=f"event:{event.id}", provider=PROVIDER, event_id=event.id)
    return event.id, new


async def apply(session: AsyncSession, event_type: str, obj: dict[str, Any], now: datetime) -> str:
    """Apply one verified event's ``data.object`` in the caller's transaction; what it did."""
    if event_type.startswith("payment_intent."):
        error = obj.get("last_payment_error")
        message = error.get("message") or error.get("code") if isinstance(error, dict) else None
        received = obj.get("amount_received")
        if not isinstance(received, int):
            received = int(obj.get("amount") or 0) if obj.get("status") == "succeeded" else 0
        status = str(obj.get("status") or "")
        if event_type == "payment_intent.payment_failed" and status != "succeeded":
            status = "requires_payment_method"
            message = message or "payment failed"
        return await settlement.apply_intent(
            session,
            intent_id=str(obj.get("id") or ""),
            status=status,
            amount_received=received,
            metadata=obj.get("metadata") if isinstance(obj.get("metadata"), dict) else None,
            now=now,
            error=str(message) if message else None,
        )
    if event_type == "charge.refunded":
        refunds = obj.get("refunds")
        listed = refunds.get("data") if isinstance(refunds, dict) else None
        outcomes = []
        for item in listed or []:
            if isinstance(item, dict):
                item = {"payment_intent": obj.get("payment_intent"), **item}
                outcomes.append(await ledger.record_provider_refund(session, item, now))
        return ",".join(outcomes) or "ignored"
    if event_type in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        return await ledger.record_provider_refund(session, obj, now)
    if event_type.startswith("charge.dispute."):
        return await _dispute(session, obj, now)
    return "ignored"


async def _dispute(session: AsyncSession, obj: dict[str, Any], now: datetime) -> str:
    intent = obj.get("payment_intent")
    payment = await repo.payment_by_ref(session, str(intent)) if intent else None
    if payment is None:
        return "unknown"
    await repo.reservation_for_update(session, reservation_id=payment.reservation_id)
    status = str(obj.get("status") or "needs_response")[:32]
    await repo.set_payment(session, payment.id, {"dispute_status": status, "updated_at": now})
    await repo.set_reservation(
        session, payment.reservation_id, {"disputed": status not in _DISPUTE_SETTLED, "updated_at": now}
    )
    return "flagged"


async def process(engine: AsyncEngine, provider: str, event_id: str, now: datetime) -> str:
    """Process one stored event once: claim it and apply it in one transaction. A failure rolls both back and is
    counted; the job's retry or the sweep tries again. What it did, or ``already``."""
    try:
        async with unit_of_work(engine) as session:
            claimed = await repo.claim_event(session, provider, event_id, now)
            if claimed is None:
                return "already"
            event = msgspec.json.decode(claimed.payload)
            data = event.get("data") if isinstance(event, dict) else None
            obj = data.get("object") if isinstance(data, dict) else None
            if not isinstance(obj, dict):
                return "ignored"
            outcome = await apply(session, claimed.type, obj, now)
            logger.info("webhook event applied", extra={"event_id": event_id, "type": claimed.type, "outcome": outcome})
            return outcome
    except Exception as exc:
        async with unit_of_work(engine) as session:
            await repo.event_failed(session, provider, event_id, f"{type(exc).__name__}: {exc}")
        raise
