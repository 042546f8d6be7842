"""The one transition from "money arrived" to "reservation confirmed", shared by the Stripe webhook, the app's "I
paid" call, the bank-feed notice, the owner attaching a parked transfer and the reconciliation job.

``settle`` is idempotent and safe under concurrency: it first locks the reservation row (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises writers), then moves the payment to
``succeeded`` with a conditional update (``WHERE status <> 'succeeded'``); whoever comes second finds it succeeded
and does nothing. So a webhook delivered three times and an "I paid" call racing it confirm once and write one
message. A paid reservation never moves back: later ``payment_failed``/``canceled`` news only touches payments
that have not succeeded.

What money that arrives does, by the reservation's state at that moment:
- ``held`` (its hold live, or lapsed but not yet released: its nights still count as sold): confirmed.
- ``expired`` (released): its nights are taken again if they are still free (the same conditional take as a new
  booking) and it is confirmed; if they were resold, the payment is refunded in full, once, and the guest told.
- ``cancelled``, or paid already (a second payment): refunded in full, once.
- less than is due (only an owner may accept a short transfer): refunded (cards) or parked (transfers, earlier).
- more than is due: confirmed, and the excess refunded.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking import inventory
from src.booking.models import ReservationStatus
from src.payments import ledger
from src.payments import repository as repo
from src.payments.models import PaymentStatus
from src.payments.notices import tell_guest, tell_owner
from src.payments.provider import IntentStatus

_PAID = (ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN, ReservationStatus.NO_SHOW)
#: Which payment statuses each kind of news may move a payment from (succeeded is never left).
_PROGRESS_FROM: dict[str, tuple[str, ...]] = {
    PaymentStatus.PENDING: (PaymentStatus.CREATING,),
    PaymentStatus.PROCESSING: (PaymentStatus.CREATING, PaymentStatus.PENDING, PaymentStatus.FAILED),
    PaymentStatus.FAILED: (PaymentStatus.CREATING, PaymentStatus.PENDING, PaymentStatus.PROCESSING),
    PaymentStatus.CANCELED: (
        PaymentStatus.CREATING,
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.FAILED,
    ),
}
_RESERVATION_PAYMENT_STATUS: dict[str, str] = {
    PaymentStatus.PENDING: "pending",
    PaymentStatus.PROCESSING: "processing",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.CANCELED: "failed",
}


async def settle(
    session: AsyncSession,
    payment_id: UUID,
    amount: int,
    now: datetime,
    *,
    short_ok: bool = False,
    reservation: Any = None,
) -> str:
    """Record that ``amount`` (minor units) arrived for payment ``payment_id`` and act on the reservation (see the
    module docstring). Returns what happened: ``confirmed``, ``balance_paid`` (money still due on a confirmed
    reservation), ``already`` (settled before: nothing changed), ``refunded_resold``, ``refunded_cancelled``,
    ``refunded_duplicate``, ``refunded_underpaid`` or ``unknown``. What is due is net of refunds: the total less
    what was paid and not refunded. ``reservation``: the payment's reservation as the caller read it under its lock
    in this transaction (``repository.reservation_for_update``), to save reading it again."""
    if reservation is None:
        found = await repo.payment_by_id(session, payment_id)
        if found is None:
            return "unknown"
        reservation = await repo.reservation_for_update(session, reservation_id=found.reservation_id)
        if reservation is None:
            return "unknown"
    payment = await repo.set_payment(
        session,
        payment_id,
        {"status": PaymentStatus.SUCCEEDED, "captured_amount": amount, "succeeded_at": now, "updated_at": now},
        where=repo.payment.c.status != PaymentStatus.SUCCEEDED,
    )
    if payment is None:
        return "already"
    await repo.set_reservation(
        session, reservation.id, {"paid_amount": repo.reservation.c.paid_amount + amount, "updated_at": now}
    )
    due = reservation.total_amount - (reservation.paid_amount - reservation.refunded_amount)  # net of refunds
    status = reservation.status
    if due <= 0:
        await ledger.refund_in_full(session, payment, reservation, "duplicate", now)
        return "refunded_duplicate"
    if status in _PAID:  # a balance (a walk-in, or a short transfer the owner accepted): counted, the excess refunded
        if amount >= due:
            await repo.set_reservation(session, reservation.id, {"payment_status": "paid", "updated_at": now})
        if amount > due:
            await ledger.add_refund(
                session,
                payment=payment,
                reservation=reservation,
                amount=amount - due,
                reason="overpaid",
                dedup_key=f"overpaid:{payment.id}",
                now=now,
            )
        return "balance_paid"
    if status == ReservationStatus.CANCELLED:
        await ledger.refund_in_full(session, payment, reservation, "cancelled", now)
        return "refunded_cancelled"
    if amount < due and not short_ok:
        await ledger.refund_in_full(session, payment, reservation, "underpaid", now)
        return "refunded_underpaid"
    if status == ReservationStatus.EXPIRED:
        await inventory.release_expired_holds(
            session,
            now,
            room_type_id=reservation.room_type_id,
            check_in=reservation.check_in,
            check_out=reservation.check_out,
        )
        # in a savepoint: take_stay leaves the nights it took counted when another night fails, for its caller to
        # roll back (a booking rolls the whole transaction back; here only the take is undone)
        savepoint = await session.begin_nested()
        taken = await inventory.take_stay(
            session, reservation.room_type_id, reservation.check_in, reservation.check_out, reservation.rooms, now
        )
        if isinstance(taken, list):
            await savepoint.commit()
        else:
            await savepoint.rollback()
            await ledger.refund_in_full(session, payment, reservation, "resold", now)
            await tell_guest(
                session,
                "payment_refunded_resold",
                reservation,
                now,
                key=str(payment.id),
                amount=amount,
                refund_amount=amount,
            )
            return "refunded_resold"
    await repo.set_reservation(
        session,
        reservation.id,
        {
            "status": ReservationStatus.CONFIRMED,
            "confirmed_at": now,
            "hold_expires_at": None,
            "released_at": None,
            "payment_status": "paid",
            "updated_at": now,
        },
        where=repo.reservation.c.status.in_([ReservationStatus.HELD, ReservationStatus.EXPIRED]),
    )
    key = str(reservation.id)
    await tell_guest(session, "reservation_confirmed", reservation, now, key=key, amount=amount)
    await tell_owner(session, "reservation_confirmed_owner", reservation, now, key=key, amount=amount)
    if amount > due:
        await ledger.add_refund(
            session,
            payment=payment,
            reservation=reservation,
            amount=amount - due,
            reason="overpaid",
            dedup_key=f"overpaid:{payment.id}",
            now=now,
        )
    return "confirmed"


async def progress(
    session: AsyncSession, payment_id: UUID, status: str, now: datetime, error: str | None = None
) -> bool:
    """Move a payment that has not succeeded to ``status`` (``pending``, ``processing``, ``failed``,
    ``canceled``), and the reservation's payment state with it unless it is paid; whether it moved. ``processing``
    is shown as processing, never as failed; nothing here touches a succeeded payment or a confirmed reservation.
    The caller holds the reservation's lock (``apply_intent`` takes it first)."""
    payment = repo.payment
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if error is not None:
        values["last_error"] = error[:500]
    moved = await repo.set_payment(session, payment_id, values, where=payment.c.status.in_(_PROGRESS_FROM[status]))
    if moved is None:
        return False
    await repo.set_reservation(
        session,
        moved.reservation_id,
        {"payment_status": _RESERVATION_PAYMENT_STATUS[status], "updated_at": now},
        where=repo.reservation.c.payment_status.in_(["unpaid", "pending", "processing", "failed"]),
    )
    return True


async def apply_intent(
    session: AsyncSession,
    *,
    intent_id: str,
    status: str,
    amount_received: int,
    metadata: dict[str, Any] | None,
    now: datetime,
    error: str | None = None,
) -> str:
    """Apply what Stripe says of a PaymentIntent (a webhook event's object, or the intent re-read by the app's
    "I paid" call or the reconciliation job) to its payment, found by intent id or by the ``payment_id`` in its
    metadata. Returns the outcome of ``settle`` for a succeeded intent, ``progress`` or ``unchanged`` otherwise,
    ``unknown`` for an intent that is not ours."""
    found = await repo.payment_by_ref(session, intent_id)
    if found is None and metadata and metadata.get("payment_id"):
        try:
            found = await repo.payment_by_id(session, UUID(str(metadata["payment_id"])))
        except ValueError:
            found = None
        if found is not None and found.provider_ref not in (None, intent_id):
            found = None
    if found is None:
        return "unknown"
    # the reservation's lock first, as every payment change takes it (settle, cancel, expiry): no deadlock
    reservation = await repo.reservation_for_update(session, reservation_id=found.reservation_id)
    if found.provider_ref is None:
        await repo.set_payment(session, found.id, {"provider_ref": intent_id, "updated_at": now})
    if status == IntentStatus.SUCCEEDED:
        return await settle(session, found.id, amount_received, now, reservation=reservation)
    target = {
        IntentStatus.PROCESSING: PaymentStatus.PROCESSING,
        IntentStatus.CANCELED: PaymentStatus.CANCELED,
    }.get(status)  # type: ignore[call-overload]
    if target is None and status == IntentStatus.REQUIRES_PAYMENT_METHOD and error:
        target = PaymentStatus.FAILED
    if target is None and found.status == PaymentStatus.CREATING:
        target = PaymentStatus.PENDING
    if target is None:
        return "unchanged"
    return "progress" if await progress(session, found.id, target, now, error) else "unchanged"
