"""Request and response shapes of payments (API.md). Money is ``{"amount", "currency", "display"}`` with ``amount``
in integer minor units of an ISO 4217 currency (VND has none); timestamps are RFC 3339 UTC."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from src.booking.schemas import PaymentState, RefundOut
from src.kernel.money import Money


class PaymentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/bookings/{code}/payments``: ``method`` is ``card`` (Stripe) or ``vietqr`` (bank transfer)."""

    method: Literal["card", "vietqr"]


class BankDetails(msgspec.Struct):
    """Where a VietQR transfer goes: the NAPAS ``bank_bin``, the bank's names, the account and its holder."""

    bank_bin: str
    bank_name: str | None
    bank_short_name: str | None
    account_number: str
    account_name: str
    is_sample: bool


class PaymentStarted(msgspec.Struct, omit_defaults=True):
    """A started payment (API.md): ``method``, ``status`` (``pending``, ``processing``, ``succeeded``,
    ``failed``...), ``amount`` due; for ``card`` the PaymentIntent ``client_secret`` and Stripe
    ``publishable_key`` for the mobile SDK; for ``vietqr`` the EMVCo ``payload``, QR image URLs, the transfer
    ``memo`` and the receiving ``bank``. ``hold_expires_at`` is the hold, extended by the method's settlement time."""

    payment_id: UUID
    method: str
    status: str
    amount: Money
    hold_expires_at: datetime | None = None
    client_secret: str | None = None
    publishable_key: str | None = None
    payload: str | None = None
    qr_svg_url: str | None = None
    qr_png_url: str | None = None
    memo: str | None = None
    bank: BankDetails | None = None


class PaymentConfirmation(msgspec.Struct):
    """The outcome of the app's "I paid" call: the reservation ``status`` and its payment state."""

    code: str
    status: str
    payment: PaymentState


class BankAccountWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The property's receiving account: ``bank_bin`` from the NAPAS list, ``account_number`` (1–19 letters or
    digits), ``account_name`` as the bank shows it."""

    bank_bin: Annotated[str, msgspec.Meta(min_length=6, max_length=6)]
    account_number: Annotated[str, msgspec.Meta(min_length=1, max_length=19)]
    account_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class BankAccountOut(msgspec.Struct, omit_defaults=True):
    """A receiving account; ``feed_secret`` (the bank feed's HMAC key) only when it was just set or rotated."""

    bank: BankDetails
    updated_at: datetime
    feed_secret: str | None = None


class RefundCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An owner's or admin's refund: ``amount`` (minor units) or ``nights`` (stay dates, each refunded by its share
    of what was paid, see ``src/payments/ledger.py``), and a ``note``."""

    amount: Annotated[int, msgspec.Meta(ge=1, le=10**13)] | None = None
    nights: Annotated[list[str], msgspec.Meta(min_length=1, max_length=366)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class RefundList(msgspec.Struct):
    """Ledger entries of a reservation, oldest first."""

    items: list[RefundOut]


class TransferOut(msgspec.Struct):
    """A bank transfer received at one of the owner's properties."""

    bank_bin: str
    transaction_id: str
    account_number: str
    amount: Money
    description: str
    transacted_at: datetime
    received_at: datetime
    status: str
    reason: str | None
    reservation_code: str | None


class TransferList(msgspec.Struct):
    """Transfers, newest first."""

    items: list[TransferOut]


class TransferAttach(msgspec.Struct, forbid_unknown_fields=True):
    """Attach a parked transfer to the reservation ``code``."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class TransferResolution(msgspec.Struct, omit_defaults=True):
    """What resolving a parked transfer did: ``outcome`` and the reservation or payout it led to."""

    outcome: str
    reservation_code: str | None = None
    payout: RefundOut | None = None


class PayoutOut(msgspec.Struct):
    """A bank payout the owner has to make (or made): a VietQR refund."""

    id: UUID
    amount: Money
    status: str
    reason: str
    reservation_code: str | None
    bank_transfer: str | None
    created_at: datetime
    completed_at: datetime | None


class PayoutList(msgspec.Struct):
    """Payouts, oldest first."""

    items: list[PayoutOut]


class WebhookAck(msgspec.Struct):
    """The answer to a stored Stripe event: its ``id`` and whether it was a redelivery."""

    received: bool
    event_id: str
    duplicate: bool


class BankNoticeAck(msgspec.Struct):
    """The answer to a bank notice (API.md): ``status`` ``confirmed``, ``parked``, ``duplicate`` or ``ignored``,
    the park ``reason`` and the matched ``reservation`` code."""

    status: str
    reason: str | None
    reservation: str | None
