"""All SQL of payments: reservations as payments see them, payments, the refund ledger, bank accounts, transfers and
the webhook log. Functions take the caller's session (its unit of work); none commits."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Result, Row, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.models import Property, Reservation, RoomType
from src.kernel.auth.models import User
from src.kernel.db import is_postgresql, upsert_insert
from src.payments.models import (
    BankAccount,
    BankTransfer,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)

reservation = Reservation.__table__  # type: ignore[attr-defined]
property_ = Property.__table__  # type: ignore[attr-defined]
room_type = RoomType.__table__  # type: ignore[attr-defined]
user = User.__table__  # type: ignore[attr-defined]
payment = Payment.__table__  # type: ignore[attr-defined]
refund = Refund.__table__  # type: ignore[attr-defined]
bank_account = BankAccount.__table__  # type: ignore[attr-defined]
bank_transfer = BankTransfer.__table__  # type: ignore[attr-defined]
webhook_event = WebhookEvent.__table__  # type: ignore[attr-defined]


async def _run(session: AsyncSession, statement: Any) -> Result[Any]:
    """Execute a Core statement on the session's connection (in its transaction)."""
    result: Result[Any] = await (await session.connection()).execute(statement)
    return result


#: Refund statuses whose amount counts against the capture.
COUNTED_REFUND_STATUSES: tuple[str, ...] = (RefundStatus.REQUESTED, RefundStatus.PENDING, RefundStatus.SUCCEEDED)


def _reservation_columns() -> tuple[Any, ...]:
    return (
        reservation,
        property_.c.owner_id,
        property_.c.name.label("property_name"),
        property_.c.check_in_time,
        property_.c.check_out_time,
        room_type.c.name.label("room_type_name"),
        user.c.email.label("owner_email"),
        user.c.locale.label("owner_locale"),
    )


async def reservation_for_update(
    session: AsyncSession, *, reservation_id: UUID | None = None, code: str | None = None
) -> Row[Any] | None:
    """The reservation (every column, plus ``owner_id``, ``property_name``, ``check_in_time``,
    ``check_out_time``, ``room_type_name``, ``owner_email``, ``owner_locale``), its row locked until the end of
    the transaction on PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already serialises writers). Every payment change
    takes this lock first, so a payment, a cancellation and the hold expiry of one reservation are serialised in
    one order (reservation, then payment, then inventory) and cannot deadlock."""
    statement = select(*_reservation_columns()).select_from(
        reservation.join(property_, property_.c.id == reservation.c.property_id)
        .join(room_type, room_type.c.id == reservation.c.room_type_id)
        .join(user, user.c.id == property_.c.owner_id)
    )
    statement = (
        statement.where(reservation.c.id == reservation_id)
        if reservation_id is not None
        else statement.where(reservation.c.code == code)
    )
    if is_postgresql(session):
        statement = statement.with_for_update(of=reservation)
    return (await _run(session, statement)).first()


async def payment_by_id(session: AsyncSession, payment_id: UUID) -> Row[Any] | None:
    """Every column of one payment."""
    return (await _run(session, select(payment).where(payment.c.id == payment_id))).first()


async def payment_by_ref(session: AsyncSession, provider_ref: str) -> Row[Any] | None:
    """The payment of a provider object id (a PaymentIntent ``pi_...``)."""
    return (await _run(session, select(payment).where(payment.c.provider_ref == provider_ref))).first()


async def latest_payment(session: AsyncSession, reservation_id: UUID, method: str) -> Row[Any] | None:
    """The reservation's latest attempt with ``method``."""
    statement = (
        select(payment)
        .where(payment.c.reservation_id == reservation_id, payment.c.method == method)
        .order_by(payment.c.attempt.desc())
        .limit(1)
    )
    return (await _run(session, statement)).first()


async def succeeded_payments(session: AsyncSession, reservation_id: UUID) -> list[Row[Any]]:
    """The reservation's payments that captured money, the largest remaining refundable amount first."""
    statement = (
        select(payment)
        .where(payment.c.reservation_id == reservation_id, payment.c.status == PaymentStatus.SUCCEEDED)
        .order_by((payment.c.captured_amount - payment.c.refunded_amount).desc(), payment.c.created_at)
    )
    return list((await _run(session, statement)).all())


async def insert_payment(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a payment unless its ``(reservation_id, method, attempt)`` exists; whether it was inserted."""
    insert = upsert_insert(session)
    statement = (
        insert(payment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["reservation_id", "method", "attempt"])
        .returning(payment.c.id)
    )
    return (await _run(session, statement)).first() is not None


async def set_payment(
    session: AsyncSession, payment_id: UUID, values: dict[str, Any], *, where: Any = None
) -> Row[Any] | None:
    """``UPDATE payment SET values WHERE id = payment_id [AND where] RETURNING *``: the row moved, or ``None``
    when the condition no longer held (a concurrent change won)."""
    statement = update(payment).where(payment.c.id == payment_id)
    if where is not None:
        statement = statement.where(where)
    return (await _run(session, statement.values(**values).returning(payment))).first()


async def set_reservation(
    session: AsyncSession, reservation_id: UUID, values: dict[str, Any], *, where: Any = None
) -> Row[Any] | None:
    """``UPDATE reservation SET values WHERE id = reservation_id [AND where] RETURNING id``."""
    statement = update(reservation).where(reservation.c.id == reservation_id)
    if where is not None:
        statement = statement.where(where)
    return (await _run(session, statement.values(**values).returning(reservation.c.id))).first()


async def insert_refund(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a ledger entry unless its ``dedup_key`` exists; whether it was inserted."""
    insert = upsert_insert(session)
    statement = (
        insert(refund).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(refund.c.id)
    )
    return (await _run(session, statement)).first() is not None


async def refund_by(session: AsyncSession, *, refund_id: UUID | None = None, provider_ref: str | None = None) -> Any:
    """One ledger entry by our id or by Stripe's refund id."""
    condition = refund.c.id == refund_id if refund_id is not None else refund.c.provider_ref == provider_ref
    return (await _run(session, select(refund).where(condition))).first()


async def refunds_of(session: AsyncSession, reservation_id: UUID) -> list[Row[Any]]:
    """The reservation's ledger entries, oldest first."""
    statement = select(refund).where(refund.c.reservation_id == reservation_id).order_by(refund.c.created_at)
    return list((await _run(session, statement)).all())


async def set_refund(session: AsyncSession, refund_id: UUID, values: dict[str, Any], *, where: Any = None) -> Any:
    """``UPDATE refund SET values WHERE id = refund_id [AND where] RETURNING *``."""
    statement = update(refund).where(refund.c.id == refund_id)
    if where is not None:
        statement = statement.where(where)
    return (await _run(session, statement.values(**values).returning(refund))).first()


async def bank_account_of(session: AsyncSession, *, property_id: UUID) -> Row[Any] | None:
    """The receiving account of a property."""
    return (await _run(session, select(bank_account).where(bank_account.c.property_id == property_id))).first()


async def bank_account_by_number(session: AsyncSession, bank_bin: str, account_number: str) -> Row[Any] | None:
    """The receiving account a bank notice names."""
    statement = select(bank_account).where(
        bank_account.c.bank_bin == bank_bin, bank_account.c.account_number == account_number
    )
    return (await _run(session, statement)).first()


async def insert_transfer(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Store a bank notice once by ``(bank_bin, transaction_id)``; whether it was new."""
    insert = upsert_insert(session)
    statement = (
        insert(bank_transfer)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["bank_bin", "transaction_id"])
        .returning(bank_transfer.c.transaction_id)
    )
    return (await _run(session, statement)).first() is not None


async def transfer(session: AsyncSession, bank_bin: str, transaction_id: str, *, lock: bool = False) -> Any:
    """One stored bank notice."""
    statement = select(bank_transfer).where(
        bank_transfer.c.bank_bin == bank_bin, bank_transfer.c.transaction_id == transaction_id
    )
    if lock and is_postgresql(session):
        statement = statement.with_for_update()
    return (await _run(session, statement)).first()


async def set_transfer(session: AsyncSession, bank_bin: str, transaction_id: str, values: dict[str, Any]) -> None:
    """Update one stored bank notice."""
    await _run(
        session,
        update(bank_transfer)
        .where(bank_transfer.c.bank_bin == bank_bin, bank_transfer.c.transaction_id == transaction_id)
        .values(**values),
    )


async def reservations_by_codes(session: AsyncSession, property_id: UUID, codes: list[str]) -> list[Row[Any]]:
    """The reservations of ``property_id`` among ``codes`` (ids and codes, in the order of ``codes``)."""
    if not codes:
        return []
    statement = select(reservation.c.id, reservation.c.code).where(
        reservation.c.property_id == property_id, reservation.c.code.in_(codes)
    )
    found = {row.code: row for row in (await _run(session, statement)).all()}
    return [found[code] for code in codes if code in found]


async def stuck_payments(
    session: AsyncSession, *, older_than: datetime, newer_than: datetime, limit: int = 200
) -> list[Row[Any]]:
    """Card payments still open (``creating``, ``pending``, ``processing``, ``failed``) started between
    ``newer_than`` and ``older_than`` whose reservation still waits for money, newest first: an attempt the guest
    walked away from stays open at Stripe and must not crowd out a recent one whose webhook was lost."""
    statement = (
        select(payment.c.id, payment.c.provider_ref, payment.c.status, payment.c.reservation_id)
        .select_from(payment.join(reservation, reservation.c.id == payment.c.reservation_id))
        .where(
            payment.c.method == "card",
            payment.c.status.in_(
                [PaymentStatus.CREATING, PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED]
            ),
            payment.c.created_at < older_than,
            payment.c.created_at > newer_than,
            reservation.c.status.in_(["held", "expired", "cancelled"]),
            reservation.c.paid_amount - reservation.c.refunded_amount < reservation.c.total_amount,
        )
        .order_by(payment.c.created_at.desc())
        .limit(limit)
    )
    return list((await _run(session, statement)).all())


async def requested_refunds(session: AsyncSession, *, older_than: datetime, limit: int = 200) -> list[UUID]:
    """Card refunds written but not yet accepted by Stripe, written before ``older_than``."""
    statement = (
        select(refund.c.id)
        .where(
            refund.c.status == RefundStatus.REQUESTED,
            refund.c.kind == "card_refund",
            refund.c.created_at < older_than,
        )
        .order_by(refund.c.created_at)
        .limit(limit)
    )
    return list((await _run(session, statement)).scalars().all())


async def unprocessed_events(session: AsyncSession, *, older_than: datetime, limit: int = 500) -> list[Row[Any]]:
    """Webhook events stored before ``older_than`` and not yet processed (fewer than 20 failed attempts)."""
    statement = (
        select(webhook_event.c.provider, webhook_event.c.event_id)
        .where(
            webhook_event.c.processed_at.is_(None),
            webhook_event.c.received_at < older_than,
            webhook_event.c.attempts < 20,
        )
        .order_by(webhook_event.c.received_at)
        .limit(limit)
    )
    return list((await _run(session, statement)).all())


async def claim_event(session: AsyncSession, provider: str, event_id: str, now: datetime) -> Row[Any] | None:
    """Mark one stored event processed (in the transaction of its effects) unless it already is; its ``type`` and
    ``payload``, or ``None`` when it was processed before. The row lock makes two runs of one event take turns."""
    statement = (
        update(webhook_event)
        .where(
            webhook_event.c.provider == provider,
            webhook_event.c.event_id == event_id,
            webhook_event.c.processed_at.is_(None),
        )
        .values(processed_at=now, attempts=webhook_event.c.attempts + 1)
        .returning(webhook_event.c.type, webhook_event.c.payload)
    )
    return (await _run(session, statement)).first()


async def event_failed(session: AsyncSession, provider: str, event_id: str, error: str) -> None:
    """Count a failed processing attempt of one event."""
    await _run(
        session,
        update(webhook_event)
        .where(webhook_event.c.provider == provider, webhook_event.c.event_id == event_id)
        .values(attempts=webhook_event.c.attempts + 1, last_error=error[:500]),
    )


def refundable_left() -> Any:
    """``captured_amount - refunded_amount`` of a payment (an SQL expression)."""
    return payment.c.captured_amount - payment.c.refunded_amount


def counted(status: str) -> bool:
    """Whether a ledger entry in ``status`` counts against the capture."""
    return status in COUNTED_REFUND_STATUSES


async def property_owned(session: AsyncSession, property_id: UUID, owner_id: UUID) -> bool:
    """Whether ``owner_id`` owns the property."""
    statement = select(property_.c.id).where(property_.c.id == property_id, property_.c.owner_id == owner_id)
    return (await _run(session, statement)).first() is not None


async def owner_transfers(session: AsyncSession, owner_id: UUID, status: str | None, limit: int) -> list[Row[Any]]:
    """Bank transfers received at the owner's properties (newest first), optionally of one ``status``."""
    statement = (
        select(bank_transfer, reservation.c.code.label("reservation_code"))
        .select_from(
            bank_transfer.join(property_, property_.c.id == bank_transfer.c.property_id).outerjoin(
                reservation, reservation.c.id == bank_transfer.c.reservation_id
            )
        )
        .where(property_.c.owner_id == owner_id)
        .order_by(bank_transfer.c.received_at.desc())
        .limit(limit)
    )
    if status is not None:
        statement = statement.where(bank_transfer.c.status == status)
    return list((await _run(session, statement)).all())


async def owner_payouts(
    session: AsyncSession,
    owner_id: UUID,
    *,
    status: str | None = None,
    refund_id: UUID | None = None,
    limit: int = 500,
) -> list[Row[Any]]:
    """Bank payouts (VietQR refunds the owner makes by hand) of the owner's properties, oldest first; with
    ``refund_id`` only that one (when it is the owner's)."""
    statement = (
        select(refund, reservation.c.code.label("reservation_code"))
        .select_from(
            refund.join(property_, property_.c.id == refund.c.property_id).outerjoin(
                reservation, reservation.c.id == refund.c.reservation_id
            )
        )
        .where(property_.c.owner_id == owner_id, refund.c.kind == "bank_payout")
        .order_by(refund.c.created_at)
        .limit(limit)
    )
    if status is not None:
        statement = statement.where(refund.c.status == status)
    if refund_id is not None:
        statement = statement.where(refund.c.id == refund_id)
    return list((await _run(session, statement)).all())


async def open_card_intents(session: AsyncSession, reservation_id: UUID) -> list[str]:
    """The PaymentIntent ids of the reservation's card payments that could still be paid (not succeeded,
    cancelled or processing)."""
    statement = select(payment.c.provider_ref).where(
        payment.c.reservation_id == reservation_id,
        payment.c.method == "card",
        payment.c.provider_ref.is_not(None),
        payment.c.status.in_([PaymentStatus.CREATING, PaymentStatus.PENDING, PaymentStatus.FAILED]),
    )
    return [str(ref) for ref in (await _run(session, statement)).scalars().all()]


async def close_open_transfers(session: AsyncSession, reservation_id: UUID, now: datetime) -> None:
    """Close the reservation's VietQR payments still waiting for a transfer (a cancellation): a transfer made
    anyway is parked for the owner as late."""
    await _run(
        session,
        update(payment)
        .where(
            payment.c.reservation_id == reservation_id,
            payment.c.method == "vietqr",
            payment.c.status == PaymentStatus.PENDING,
        )
        .values(status=PaymentStatus.CANCELED, updated_at=now),
    )
    await _run(
        session,
        update(reservation)
        .where(
            reservation.c.id == reservation_id,
            reservation.c.paid_amount == 0,
            reservation.c.payment_status.in_(["pending", "failed"]),
        )
        .values(payment_status="unpaid", updated_at=now),
    )


async def refunded_before(session: AsyncSession, dedup_prefix: str) -> bool:
    """Whether a ledger entry whose ``dedup_key`` starts with ``dedup_prefix`` exists (a night refunded before,
    from whichever payment); the caller holds the reservation's lock."""
    statement = select(refund.c.id).where(refund.c.dedup_key.startswith(dedup_prefix, autoescape=True)).limit(1)
    return (await _run(session, statement)).first() is not None
