"""Which messages a payment change writes to the outbox, to whom, in which locale (the messages themselves are in
``src/payments/messages.py``; the outbox in ``src/kernel/outbox.py`` sends each once after the commit)."""

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from src.payments import messages
from src.payments.messages import Kind, MessageContext


def context_of(
    reservation: Any,
    *,
    amount: int | None = None,
    refund_amount: int | None = None,
    reason: str | None = None,
    memo: str | None = None,
) -> MessageContext:
    """The message context of a reservation row (``repository.reservation_for_update`` columns)."""
    return MessageContext(
        code=reservation.code,
        property_name=reservation.property_name,
        guest_name=reservation.guest_name,
        check_in=reservation.check_in,
        check_out=reservation.check_out,
        nights=reservation.nights,
        amount=reservation.total_amount if amount is None else amount,
        currency=reservation.currency,
        refund_amount=refund_amount,
        reason=reason,
        memo=memo,
    )


async def tell_guest(
    session: AsyncSession, kind: Kind, reservation: Any, now: datetime, *, key: str, **context: Any
) -> None:
    """Write message ``kind`` to the guest of ``reservation`` in their locale, once per ``key`` (nothing for a
    guest without an email address, such as some walk-ins)."""
    if not reservation.guest_email:
        return
    await messages.queue(
        session,
        kind,
        to_address=reservation.guest_email,
        locale=reservation.guest_locale,
        context=context_of(reservation, **context),
        dedup_key=f"{kind}:guest:{key}",
        now=now,
    )


async def tell_owner(
    session: AsyncSession, kind: Kind, reservation: Any, now: datetime, *, key: str, **context: Any
) -> None:
    """Write message ``kind`` to the owner of the reservation's property in the owner's account locale."""
    if not reservation.owner_email:
        return
    await messages.queue(
        session,
        kind,
        to_address=reservation.owner_email,
        locale=reservation.owner_locale or "vi",
        context=context_of(reservation, **context),
        dedup_key=f"{kind}:owner:{key}",
        now=now,
    )
