"""The refund ledger: every refund of a payment is one entry; what the entries count can never exceed what was
captured.

How the cap is kept: an entry is written (``INSERT ... ON CONFLICT (dedup_key) DO NOTHING``: one cause refunds
once), then the payment's ``refunded_amount`` is raised with a conditional update
(``WHERE refunded_amount + :amount <= captured_amount``) in the same transaction, under ``CHECK (refunded_amount <=
captured_amount)``; an entry that fails or is cancelled gives its amount back. A card refund is asked of Stripe by a
job after the commit, with the idempotency key ``laocai-refund-<entry id>``, and its events (refunds made in Stripe's
dashboard included) update the entry found by our id in its metadata or by Stripe's refund id. A VietQR refund is a
bank payout the property's owner makes (the money went to their account) and marks done.

Rounding (whole đồng, or the currency's minor unit): a refund of ``p`` % of ``paid`` is ``floor(paid * p / 100)``,
never up. A refund by nights gives night ``i`` (0-based, in stay order) the share
``floor(total * w[0..i] / W) - floor(total * w[0..i-1] / W)`` of ``total``, where ``w`` are the nightly rates of
the price snapshot and ``W`` their sum: the shares of all nights add up to exactly ``total`` whatever order they are
refunded in, so nights refunded one at a time never exceed what was captured (1,000,000 ₫ over three equal nights is
333,333 + 333,333 + 333,334).
"""

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import case
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.jobs import enqueue
from src.payments import repository as repo
from src.payments.errors import RefundExceedsCapture
from src.payments.models import RefundKind, RefundStatus
from src.payments.notices import tell_guest

#: The job that asks Stripe for a written card refund (``src/payments/jobs.py`` registers its handler).
EXECUTE_REFUND_NAME = "payments.execute_refund"

_STRIPE_STATUS = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


class RetryLater(Exception):
    """An event that cannot be applied yet (a refund of a payment whose success has not been processed): the job
    is retried and the reconciliation sweep processes it later."""


def percent_of(paid: int, percent: int) -> int:
    """``floor(paid * percent / 100)``: the refund of ``percent`` % of ``paid`` minor units, rounded down."""
    return paid * max(0, min(100, percent)) // 100


def night_shares(total: int, rates: list[int]) -> list[int]:
    """Each night's share of ``total`` by cumulative floor over the nightly ``rates`` (equal shares when the
    rates are missing or zero); the shares add up to ``total`` exactly."""
    weights = rates if rates and sum(rates) > 0 else [1] * max(1, len(rates))
    whole = sum(weights)
    shares, running, before = [], 0, 0
    for weight in weights:
        running += weight
        upto = total * running // whole
        shares.append(upto - before)
        before = upto
    return shares


def nightly_rates(price: dict[str, Any], check_in: date, nights: int) -> list[tuple[date, int]]:
    """The stay nights and their rates from a reservation's price snapshot (``src/booking/pricing.py``)."""
    found: list[tuple[date, int]] = []
    for line in price.get("nights", []) or []:
        try:
            found.append((date.fromisoformat(str(line["date"])), int(line["amount"])))
        except (KeyError, TypeError, ValueError):
            continue
    if len(found) != nights:
        return [(check_in + timedelta(days=i), 1) for i in range(nights)]
    return sorted(found)


def _payment_status_after(delta: Any) -> Any:
    """The reservation's payment state once ``delta`` more is refunded, from what it then holds net: nothing
    (``refunded``), the whole total (``paid``: a refunded duplicate or excess leaves the stay paid) or less."""
    reservation = repo.reservation
    held = reservation.c.paid_amount - (reservation.c.refunded_amount + delta)
    return case(
        (held <= 0, "refunded"),
        (held >= reservation.c.total_amount, "paid"),
        else_="partially_refunded",
    )


async def _count(session: AsyncSession, payment_id: UUID, reservation_id: UUID, delta: int, now: datetime) -> None:
    """Move ``delta`` into (positive) or out of (negative) what the payment and reservation count as refunded;
    ``RefundExceedsCapture`` when a positive delta would exceed the capture."""
    payment = repo.payment
    where = payment.c.refunded_amount + delta <= payment.c.captured_amount if delta > 0 else None
    moved = await repo.set_payment(
        session, payment_id, {"refunded_amount": payment.c.refunded_amount + delta, "updated_at": now}, where=where
    )
    if moved is None:
        current = await repo.payment_by_id(session, payment_id)
        left = current.captured_amount - current.refunded_amount if current is not None else 0
        raise RefundExceedsCapture(f"{delta} is more than the {left} left to refund", refundable=left)
    await repo.set_reservation(
        session,
        reservation_id,
        {
            "refunded_amount": repo.reservation.c.refunded_amount + delta,
            "payment_status": _payment_status_after(delta),
            "updated_at": now,
        },
    )


async def add_refund(
    session: AsyncSession,
    *,
    payment: Any,
    reservation: Any,
    amount: int,
    reason: str,
    dedup_key: str,
    now: datetime,
    by: UUID | None = None,
    note: str | None = None,
    tell: bool = True,
) -> Any:
    """Write one ledger entry of ``amount`` (minor units) against ``payment`` (a succeeded payment row) of
    ``reservation`` (a locked ``repository.reservation_for_update`` row) and count it; queue the Stripe call for a
    card and tell the guest. Returns the entry row, or ``None`` when ``dedup_key`` was refunded before or
    ``amount`` is not positive. ``RefundExceedsCapture`` (409) beyond what is left."""
    if amount <= 0:
        return None
    kind = RefundKind.CARD_REFUND if payment.method == "card" else RefundKind.BANK_PAYOUT
    refund_id = uuid4()
    inserted = await repo.insert_refund(
        session,
        {
            "id": refund_id,
            "property_id": reservation.property_id,
            "payment_id": payment.id,
            "reservation_id": reservation.id,
            "bank_transfer": None,
            "kind": kind,
            "status": RefundStatus.REQUESTED if kind == RefundKind.CARD_REFUND else RefundStatus.PENDING,
            "amount": amount,
            "currency": payment.currency,
            "reason": reason,
            "dedup_key": dedup_key,
            "provider_ref": None,
            "requested_by": by,
            "note": note,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
        },
    )
    if not inserted:
        return None
    await _count(session, payment.id, reservation.id, amount, now)
    if kind == RefundKind.CARD_REFUND:
        enqueue(session, EXECUTE_REFUND_NAME, dedup_key=f"refund:{refund_id}", refund_id=str(refund_id))
    if tell:
        await tell_guest(
            session, "refund_issued", reservation, now, key=str(refund_id), refund_amount=amount, reason=reason
        )
    return await repo.refund_by(session, refund_id=refund_id)


async def refund_in_full(session: AsyncSession, payment: Any, reservation: Any, reason: str, now: datetime) -> Any:
    """Refund what is left of ``payment`` once for ``reason`` (``resold``, ``duplicate``, ``cancelled``,
    ``underpaid``): the dedup key is ``<reason>:<payment id>``."""
    left = payment.captured_amount - payment.refunded_amount
    return await add_refund(
        session,
        payment=payment,
        reservation=reservation,
        amount=left,
        reason=reason,
        dedup_key=f"{reason}:{payment.id}",
        now=now,
        tell=reason != "resold",  # that guest gets the message that says why (payment_refunded_resold)
    )


#: The moves a ledger entry may make (Stripe does not order its events: a stale ``pending`` after ``succeeded`` is
#: ignored; a succeeded refund can still fail later, https://docs.stripe.com/refunds#failed-refunds).
_REFUND_MOVES: dict[str, tuple[str, ...]] = {
    RefundStatus.REQUESTED: (RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED),
    RefundStatus.PENDING: (RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED),
    RefundStatus.SUCCEEDED: (RefundStatus.FAILED,),
    RefundStatus.FAILED: (),
    RefundStatus.CANCELED: (),
}


async def move_refund(session: AsyncSession, entry: Any, status: str, now: datetime, **values: Any) -> bool:
    """Move a ledger entry to ``status`` (with ``values``, e.g. ``provider_ref``) if it still is in the status it
    was read in and the move goes forward (``_REFUND_MOVES``; otherwise only ``values`` are set), and move its
    amount in or out of what is counted; whether it moved."""
    if status != entry.status and status not in _REFUND_MOVES.get(entry.status, ()):
        status = entry.status  # a stale or impossible move: keep the status, record the rest
    if entry.status == status and not values:
        return False
    changes: dict[str, Any] = {"status": status, "updated_at": now, **values}
    if status in (RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED):
        changes["completed_at"] = now
    moved = await repo.set_refund(session, entry.id, changes, where=repo.refund.c.status == entry.status)
    if moved is None:
        return False
    delta = (int(repo.counted(status)) - int(repo.counted(entry.status))) * entry.amount
    if delta and entry.payment_id is not None and entry.reservation_id is not None:
        await _count(session, entry.payment_id, entry.reservation_id, delta, now)
    return True


async def record_provider_refund(session: AsyncSession, obj: dict[str, Any], now: datetime) -> str:
    """Apply what Stripe says of one refund object (from ``refund.*``/``charge.refunded`` events or from our own
    call): the entry with our id in its metadata or with its id, else a new ``dashboard`` entry. Idempotent: the
    same object twice changes nothing. ``RetryLater`` when its payment's success is not recorded yet."""
    refund_ref = str(obj.get("id") or "")
    status = _STRIPE_STATUS.get(str(obj.get("status")), RefundStatus.PENDING)
    metadata = obj.get("metadata") or {}
    entry = None
    if isinstance(metadata, dict) and metadata.get("refund_id"):
        try:
            entry = await repo.refund_by(session, refund_id=UUID(str(metadata["refund_id"])))
        except ValueError:
            entry = None
    if entry is None and refund_ref:
        entry = await repo.refund_by(session, provider_ref=refund_ref)
    if entry is not None:
        if entry.reservation_id is not None:
            await repo.reservation_for_update(session, reservation_id=entry.reservation_id)
            entry = await repo.refund_by(session, refund_id=entry.id)  # as it stands under the lock
        extra = {"provider_ref": refund_ref} if refund_ref and entry.provider_ref is None else {}
        return "updated" if await move_refund(session, entry, status, now, **extra) else "unchanged"
    intent = obj.get("payment_intent")
    payment = await repo.payment_by_ref(session, str(intent)) if intent else None
    if payment is None:
        return "unknown"
    reservation = await repo.reservation_for_update(session, reservation_id=payment.reservation_id)
    payment = await repo.payment_by_id(session, payment.id)
    if payment is None or reservation is None:
        return "unknown"
    if payment.status != "succeeded":
        raise RetryLater(f"refund {refund_ref} of {intent} arrived before its payment's success")
    amount = int(obj.get("amount") or 0)
    if amount <= 0:
        return "ignored"
    refund_id = uuid4()
    inserted = await repo.insert_refund(
        session,
        {
            "id": refund_id,
            "property_id": reservation.property_id,
            "payment_id": payment.id,
            "reservation_id": reservation.id,
            "bank_transfer": None,
            "kind": RefundKind.CARD_REFUND,
            "status": status,
            "amount": amount,
            "currency": payment.currency,
            "reason": "dashboard",
            "dedup_key": f"stripe:{refund_ref}",
            "provider_ref": refund_ref,
            "requested_by": None,
            "note": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "completed_at": now if status != RefundStatus.PENDING else None,
        },
    )
    if not inserted:
        return "unchanged"
    if repo.counted(status):
        await _count(session, payment.id, reservation.id, amount, now)
        await tell_guest(session, "refund_issued", reservation, now, key=str(refund_id), refund_amount=amount)
    return "recorded"
