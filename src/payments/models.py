"""Tables of payments: payments per reservation attempt, the refund ledger, bank-transfer notices, the properties'
receiving accounts and the provider webhook log.

Conventions: money is an integer in the minor unit of ``currency`` (ISO 4217; VND has none, so 1,850,000 ₫ is
``1850000``); timestamps are aware UTC.

Invariants the database keeps (``CHECK`` constraints under the conditional updates of ``src/payments/service.py``):
``0 <= refunded_amount <= captured_amount`` on every payment, so the ledger can never refund more than was taken;
``payment.refunded_amount`` is the sum of the payment's refunds that are not ``failed`` or ``canceled``.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from src.kernel.db import UTCDateTime, utcnow


def _in(column: str, values: Any) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class PaymentStatus(StrEnum):
    """A payment's life. ``creating``: claimed, the provider not yet asked (or the process died in between; the
    reconciliation job finishes it); ``pending``: waiting for the guest (a card not yet confirmed, a transfer not yet
    seen); ``processing``: the provider is settling it (never shown as failed); ``succeeded``: money captured
    (terminal: refunds are recorded beside it, in the ledger); ``failed``: the last try failed (a card intent can
    still be retried by the guest, so it may yet succeed); ``canceled``: the intent was cancelled."""

    CREATING = "creating"
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


#: Payments still waiting for an outcome (what the reconciliation job re-reads).
OPEN_PAYMENT_STATUSES: tuple[str, ...] = (
    PaymentStatus.CREATING,
    PaymentStatus.PENDING,
    PaymentStatus.PROCESSING,
    PaymentStatus.FAILED,
)


class Payment(SQLModel, table=True):
    """One attempt at paying one reservation with one method (``card`` or ``vietqr``).

    ``attempt`` numbers the attempts of a reservation and method: a double tap or a retry lands on the same
    attempt (``UNIQUE (reservation_id, method, attempt)``) and so on the same Stripe PaymentIntent, whose creation
    carries the idempotency key ``laocai-payment-<id>``. ``provider_ref`` is the PaymentIntent id (``pi_...``) of a
    card payment. ``payload`` is the EMVCo string of a VietQR payment and ``bank_bin``/``account_number`` the
    property's account it pays into. ``amount`` is what was asked; ``captured_amount`` what arrived;
    ``refunded_amount`` what the ledger gives back. ``dispute_status`` is Stripe's status of a dispute on the
    charge (``needs_response``, ``won``, ``lost``...), shown to the owner.
    """

    __tablename__ = "payment"
    __table_args__ = (
        UniqueConstraint("reservation_id", "method", "attempt"),
        CheckConstraint(_in("method", ["card", "vietqr"]), name="method_known"),
        CheckConstraint(_in("status", [s.value for s in PaymentStatus]), name="status_known"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("captured_amount >= 0", name="captured_not_negative"),
        CheckConstraint("refunded_amount >= 0", name="refunded_not_negative"),
        CheckConstraint("refunded_amount <= captured_amount", name="refund_within_capture"),
        Index(
            "ix_payment_open",
            "created_at",
            postgresql_where=text("status IN ('creating', 'pending', 'processing', 'failed')"),
            sqlite_where=text("status IN ('creating', 'pending', 'processing', 'failed')"),
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    reservation_id: UUID = Field(foreign_key="reservation.id", index=True)
    method: str = Field(max_length=16)
    attempt: int = 1
    status: str = Field(default=PaymentStatus.CREATING, max_length=16)
    amount: int
    currency: str = Field(max_length=3)
    provider_ref: str | None = Field(default=None, max_length=255, unique=True)
    client_secret: str | None = Field(default=None, max_length=255)
    payload: str | None = Field(default=None, max_length=512)
    bank_bin: str | None = Field(default=None, max_length=6)
    account_number: str | None = Field(default=None, max_length=19)
    captured_amount: int = 0
    refunded_amount: int = 0
    dispute_status: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    succeeded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class RefundStatus(StrEnum):
    """A ledger entry's life: ``requested`` (written, the provider not yet asked: the refund job asks it),
    ``pending`` (Stripe accepted it, or a bank payout the owner has still to make), ``succeeded``, ``failed``,
    ``canceled``. Only ``failed`` and ``canceled`` give the amount back to what may still be refunded."""

    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundKind(StrEnum):
    """``card_refund``: through Stripe; ``bank_payout``: a transfer back that the property's owner makes by hand
    (VietQR money went straight to the owner's account) and marks done."""

    CARD_REFUND = "card_refund"
    BANK_PAYOUT = "bank_payout"


class Refund(SQLModel, table=True):
    """One entry of the refund ledger: ``amount`` of one payment given back.

    ``provider_ref`` is Stripe's refund id (``re_...``; refunds made in Stripe's dashboard are recorded by it when
    their events arrive). ``dedup_key`` names the cause (``cancel:<reservation id>``, ``resold:<payment id>``...), so
    that one cause never refunds twice however often it is processed. ``reason`` is ``cancellation``, ``owner``,
    ``admin``, ``resold``, ``duplicate``, ``dashboard`` or ``transfer``. A bank transfer sent back that matched no
    payment (an unmatched transfer the owner returns) has no ``payment_id``; ``bank_transfer`` names it
    (``<bank BIN>:<transaction id>``).
    """

    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("status", [s.value for s in RefundStatus]), name="status_known"),
        CheckConstraint(_in("kind", [k.value for k in RefundKind]), name="kind_known"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    property_id: UUID = Field(foreign_key="property.id", index=True)
    payment_id: UUID | None = Field(default=None, foreign_key="payment.id", index=True)
    reservation_id: UUID | None = Field(default=None, foreign_key="reservation.id", index=True)
    bank_transfer: str | None = Field(default=None, max_length=80)
    kind: str = Field(max_length=16)
    status: str = Field(default=RefundStatus.REQUESTED, max_length=16)
    amount: int
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=32)
    dedup_key: str = Field(max_length=200, unique=True)
    provider_ref: str | None = Field(default=None, max_length=255, unique=True)
    requested_by: UUID | None = Field(default=None, foreign_key="user_account.id")
    note: str | None = Field(default=None, max_length=500)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class BankAccount(SQLModel, table=True):
    """The account a property receives VietQR transfers on (set by its owner in the portal): ``bank_bin`` is the
    6-digit NAPAS bank identification number (``data/payments/napas_banks.csv``), ``account_number`` the account,
    ``account_name`` the holder's name as the bank shows it. ``feed_secret`` keys the HMAC-SHA256 signature of the
    bank feed's notices for this account (API.md). ``is_sample`` marks the fictional accounts of sample properties.
    One account receives for one property (``UNIQUE (bank_bin, account_number)``)."""

    __tablename__ = "bank_account"
    __table_args__ = (UniqueConstraint("bank_bin", "account_number"),)

    property_id: UUID = Field(foreign_key="property.id", primary_key=True, ondelete="CASCADE")
    bank_bin: str = Field(max_length=6)
    account_number: str = Field(max_length=19)
    account_name: str = Field(max_length=100)
    feed_secret: str = Field(max_length=128)
    is_sample: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class TransferStatus(StrEnum):
    """A bank notice's outcome: ``confirmed`` (matched code and exact amount: the reservation is paid),
    ``parked`` (kept for the owner with a ``reason``), ``attached`` (the owner attached it to a reservation),
    ``refunded`` (the owner sends it back), ``ignored`` (not a transfer in)."""

    CONFIRMED = "confirmed"
    PARKED = "parked"
    ATTACHED = "attached"
    REFUNDED = "refunded"
    IGNORED = "ignored"


class ParkReason(StrEnum):
    """Why a transfer was not matched automatically."""

    UNDERPAID = "underpaid"
    OVERPAID = "overpaid"
    UNMATCHED = "unmatched"
    LATE = "late"
    ALREADY_PAID = "already_paid"
    CURRENCY = "currency"


class BankTransfer(SQLModel, table=True):
    """One incoming transfer as the bank feed reported it (API.md), stored once by ``(bank_bin, transaction_id)``.
    ``amount`` in ``currency`` minor units; ``description`` is the memo as the bank passed it on; ``transacted_at``
    the bank's time (UTC)."""

    __tablename__ = "bank_transfer"
    __table_args__ = (
        CheckConstraint(_in("status", [s.value for s in TransferStatus]), name="status_known"),
        Index("ix_bank_transfer_property_status", "property_id", "status"),
    )

    bank_bin: str = Field(primary_key=True, max_length=6)
    transaction_id: str = Field(primary_key=True, max_length=64)
    account_number: str = Field(max_length=19)
    property_id: UUID = Field(foreign_key="property.id")
    amount: int
    currency: str = Field(max_length=3)
    description: str = Field(max_length=500)
    transacted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    reservation_id: UUID | None = Field(default=None, foreign_key="reservation.id", index=True)
    payment_id: UUID | None = Field(default=None, foreign_key="payment.id")
    resolved_by: UUID | None = Field(default=None, foreign_key="user_account.id")
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class WebhookEvent(SQLModel, table=True):
    """The log of provider webhook events, each stored once by ``(provider, event_id)`` before it is processed
    (ARCHITECTURE.md, example 5). ``payload`` is the raw body as received; ``processed_at`` is set in the same
    transaction as the event's effects."""

    __tablename__ = "webhook_event"
    __table_args__ = (
        Index(
            "ix_webhook_event_unprocessed",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    provider: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    processed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


__all__ = [
    "OPEN_PAYMENT_STATUSES",
    "BankAccount",
    "BankTransfer",
    "ParkReason",
    "Payment",
    "PaymentStatus",
    "Refund",
    "RefundKind",
    "RefundStatus",
    "TransferStatus",
    "WebhookEvent",
]
