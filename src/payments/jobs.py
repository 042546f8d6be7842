"""Background work of payments: processing stored webhook events, asking Stripe for written card refunds, and the
reconciliation sweep that makes every one-shot job converge (ARCHITECTURE.md, example 4).

Reconciliation (every ``reconcile_minutes``): re-reads from Stripe the PaymentIntents of card payments still open
(started in the last two days, newest first) on reservations that wait for money and applies the truth through
the same transition as the webhook (a crash between the payment and the confirmation converges; an attempt whose
intent creation died half-way is created again under the same idempotency key); re-queues stored events not yet
processed and card refunds not yet sent. Lapsed holds are released by booking's own expiry job, so no inventory
stays stuck.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from src.kernel.db import unit_of_work, utcnow
from src.kernel.jobs import Job, JobContext, JobRegistry, PeriodicJob, RetryPolicy, enqueue
from src.payments import ledger, settlement, webhooks
from src.payments import repository as repo
from src.payments.models import RefundStatus
from src.payments.notices import tell_owner
from src.payments.provider import CardProvider, ProviderRefused, ProviderUnavailable
from src.payments.service import create_intent

logger = logging.getLogger("laocai.payments")

RESOURCE = "payments"


@dataclass(frozen=True)
class PaymentsResources:
    """What payments' jobs need from the process: the card provider (``None`` without Stripe keys) and a clock."""

    card: CardProvider | None
    clock: Any = utcnow


def _resources(ctx: JobContext) -> PaymentsResources:
    found = ctx.resources.get(RESOURCE)
    return found if isinstance(found, PaymentsResources) else PaymentsResources(card=None)


async def process_event(ctx: JobContext, *, provider: str, event_id: str) -> None:
    """Apply one stored webhook event once (``webhooks.process``)."""
    await webhooks.process(ctx.engine, provider, event_id, _resources(ctx).clock())


async def execute_refund(ctx: JobContext, *, refund_id: str) -> None:
    """Ask Stripe for one written card refund (idempotency key ``laocai-refund-<id>``) and record its answer; a
    refusal marks the entry failed and gives its amount back. Retried while Stripe is unreachable."""
    resources = _resources(ctx)
    now = resources.clock()
    async with unit_of_work(ctx.engine) as session:
        entry = await repo.refund_by(session, refund_id=UUID(refund_id))
        payment = await repo.payment_by_id(session, entry.payment_id) if entry and entry.payment_id else None
    if entry is None or entry.status != RefundStatus.REQUESTED or payment is None or not payment.provider_ref:
        return
    if resources.card is None:
        logger.warning("card refund waits: no Stripe keys configured", extra={"refund_id": refund_id})
        return
    try:
        state = await resources.card.create_refund(
            payment_intent=payment.provider_ref,
            amount=entry.amount,
            metadata={"refund_id": refund_id, "payment_id": str(payment.id)},
            idempotency_key=f"laocai-refund-{refund_id}",
        )
    except ProviderRefused as exc:
        async with unit_of_work(ctx.engine) as session:
            if entry.reservation_id is not None:
                await repo.reservation_for_update(session, reservation_id=entry.reservation_id)
            current = await repo.refund_by(session, refund_id=entry.id)
            if current is not None and current.status == RefundStatus.REQUESTED:
                await ledger.move_refund(session, current, RefundStatus.FAILED, now, last_error=str(exc)[:500])
                reservation = (
                    await repo.reservation_for_update(session, reservation_id=entry.reservation_id)
                    if entry.reservation_id is not None
                    else None
                )
                if reservation is not None:  # the money is still captured: the owner must act
                    await tell_owner(
                        session, "refund_failed_owner", reservation, now, key=refund_id, refund_amount=entry.amount
                    )
        logger.warning("card refund refused by Stripe", extra={"refund_id": refund_id, "error": str(exc)[:200]})
        return
    except ProviderUnavailable:
        raise
    async with unit_of_work(ctx.engine) as session:
        await ledger.record_provider_refund(
            session,
            {
                "id": state.id,
                "status": state.status,
                "amount": state.amount,
                "payment_intent": state.payment_intent,
                "metadata": {"refund_id": refund_id},
            },
            now,
        )


async def cancel_intent(ctx: JobContext, *, intent_id: str) -> None:
    """Cancel one PaymentIntent of a cancelled reservation at Stripe and record it; an intent that can no longer
    be cancelled (it succeeded meanwhile) is left to its ``payment_intent.succeeded``, which refunds it in full."""
    resources = _resources(ctx)
    if resources.card is None:
        return
    try:
        intent = await resources.card.cancel_intent(intent_id)
    except ProviderRefused as exc:
        logger.info("intent not cancelled", extra={"intent_id": intent_id, "error": str(exc)[:200]})
        return
    async with unit_of_work(ctx.engine) as session:
        await settlement.apply_intent(
            session,
            intent_id=intent.id,
            status=intent.status,
            amount_received=intent.amount_received,
            metadata=intent.metadata,
            now=resources.clock(),
        )


async def reconcile(ctx: JobContext) -> None:
    """The sweep (module docstring)."""
    resources = _resources(ctx)
    now = resources.clock()
    async with unit_of_work(ctx.engine) as session:
        stuck = await repo.stuck_payments(
            session, older_than=now - timedelta(minutes=2), newer_than=now - timedelta(days=2)
        )
        events = await repo.unprocessed_events(session, older_than=now - timedelta(minutes=1))
        refunds = await repo.requested_refunds(session, older_than=now - timedelta(minutes=2))
        for event in events:
            enqueue(
                session,
                PROCESS_EVENT,
                dedup_key=f"event:{event.event_id}",
                provider=event.provider,
                event_id=event.event_id,
            )
        for refund_id in refunds:
            enqueue(session, EXECUTE_REFUND, dedup_key=f"refund:{refund_id}", refund_id=str(refund_id))
    card = resources.card
    if card is None:
        return
    for payment in stuck:
        try:
            if payment.provider_ref:
                intent = await card.retrieve_intent(payment.provider_ref)
            else:
                async with unit_of_work(ctx.engine) as session:
                    full = await repo.payment_by_id(session, payment.id)
                    reservation = await repo.reservation_for_update(session, reservation_id=payment.reservation_id)
                if full is None or reservation is None:
                    continue
                await create_intent(ctx.engine, card, full, reservation.code, now)
                continue  # a new (or the same, by its key) intent waits for the guest: nothing to apply yet
        except (ProviderUnavailable, ProviderRefused) as exc:
            logger.warning("reconcile: intent not re-read", extra={"payment_id": str(payment.id), "error": str(exc)})
            continue
        async with unit_of_work(ctx.engine) as session:
            await settlement.apply_intent(
                session,
                intent_id=intent.id,
                status=intent.status,
                amount_received=intent.amount_received,
                metadata=intent.metadata,
                now=now,
            )


PROCESS_EVENT = Job(webhooks.PROCESS_EVENT_NAME, process_event, RetryPolicy(retries=6, backoff_seconds=2))
EXECUTE_REFUND = Job(ledger.EXECUTE_REFUND_NAME, execute_refund, RetryPolicy(retries=8, backoff_seconds=5))
CANCEL_INTENT = Job("payments.cancel_intent", cancel_intent, RetryPolicy(retries=6, backoff_seconds=5))


def register(registry: JobRegistry, *, reconcile_minutes: int = 5) -> None:
    """Add payments' jobs and the reconciliation sweep."""
    registry.add(PROCESS_EVENT)
    registry.add(EXECUTE_REFUND)
    registry.add(CANCEL_INTENT)
    registry.add_periodic(PeriodicJob("payments.reconcile", reconcile, cron=f"*/{reconcile_minutes} * * * *"))
