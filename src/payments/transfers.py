"""VietQR bank transfers: the bank feed's notices (``POST /v1/webhooks/bank-transfer``, API.md) and what the owner
does with the ones that could not be matched.

A notice is signed like Stripe's webhooks: ``X-Bank-Feed-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`` keyed by the receiving account's feed secret, checked with the Stripe SDK's own verifier
(``src.payments.stripe.verify_signature``; ``sign`` there makes one); several ``v1`` values are accepted (secret
rotation) and a timestamp older than the tolerance is refused (replay). It is stored once by ``(bank BIN,
transaction id)`` and matched at once: the reservation code in the memo (``vietqr.codes_in`` tolerates the spaces,
case and prefixes banks add) of a reservation of that account's property, and the exact amount due, while its hold
was live when the money was sent. Anything else is parked for the owner with a reason (underpaid, overpaid,
unmatched, late, already paid, currency), never confirmed silently. The owner attaches a parked transfer to a
reservation (confirming it through the same transition as every payment) or sends it back (a payout task).
"""

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import msgspec
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.models import ReservationStatus
from src.kernel.errors import InvalidParameter
from src.kernel.request_input import strict_json
from src.payments import repository as repo
from src.payments import settlement, vietqr
from src.payments.errors import InvalidWebhookSignature, TransferNotFound, TransferResolved
from src.payments.models import ParkReason, PaymentStatus, RefundKind, RefundStatus, TransferStatus
from src.payments.notices import tell_owner
from src.payments.provider import InvalidSignature

SIGNATURE_HEADER = "X-Bank-Feed-Signature"
#: C0 and C1 controls and bidirectional formatting characters (replaced by a space in a stored memo).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class BankNotice(msgspec.Struct, forbid_unknown_fields=False):
    """One incoming transfer (API.md): ``amount`` in minor units of ``currency``; ``transacted_at`` RFC 3339 with
    an offset."""

    transaction_id: str
    bank_bin: str
    account_number: str
    amount: int
    currency: str
    description: str
    transacted_at: datetime


def verify(payload: bytes, header: str | None, secret: str, *, tolerance: int) -> None:
    """Check one notice's ``X-Bank-Feed-Signature`` (the Stripe scheme, checked by ``src.payments.stripe``'s use of
    the SDK's verifier); ``InvalidWebhookSignature`` (400) when it is missing, malformed, stale or does not
    match."""
    if not header:
        raise InvalidWebhookSignature(f"{SIGNATURE_HEADER} is missing")
    from src.payments.stripe import verify_signature  # the SDK (0.6 s to import) only once a notice arrives

    try:
        verify_signature(payload, header, secret, tolerance)
    except InvalidSignature as exc:
        raise InvalidWebhookSignature(f"{SIGNATURE_HEADER}: {exc}") from None


def parse(payload: bytes) -> BankNotice:
    """The notice in ``payload``: 400 when it is not JSON, 422 when a field is missing or invalid."""
    notice = strict_json(payload, BankNotice)
    problems = []
    if not notice.transaction_id or len(notice.transaction_id) > 64:
        problems.append(("transaction_id", "1 to 64 characters"))
    if not (len(notice.bank_bin) == 6 and notice.bank_bin.isdigit()):
        problems.append(("bank_bin", "six digits"))
    if not (1 <= len(notice.account_number) <= 19 and notice.account_number.isalnum()):
        problems.append(("account_number", "1 to 19 letters or digits"))
    if not 0 < notice.amount <= vietqr.MAX_AMOUNT:
        problems.append(("amount", "a positive whole number of minor units"))
    if not (len(notice.currency) == 3 and notice.currency.isalpha()):
        problems.append(("currency", "an ISO 4217 code"))
    if len(notice.description) > 500:
        problems.append(("description", "at most 500 characters"))
    if notice.transacted_at.tzinfo is None:
        problems.append(("transacted_at", "an RFC 3339 timestamp with its offset"))
    elif not 2000 <= notice.transacted_at.year <= 2999:
        problems.append(("transacted_at", "a timestamp of this millennium"))
    if problems:
        raise InvalidParameter(
            "; ".join(f"{f}: {m}" for f, m in problems),
            errors=[{"field": f, "source": "body", "message": m} for f, m in problems],
        )
    # a memo is whatever the payer typed, passed on by the bank: keep it, but as one line of printable text (a NUL
    # cannot even be stored in PostgreSQL text); the reservation code is read from what remains
    notice.description = _CONTROLS.sub(" ", notice.description)
    return notice


async def receive(
    session: AsyncSession, payload: bytes, header: str | None, *, tolerance: int, now: datetime
) -> dict[str, Any]:
    """Verify, store once and match one bank notice; the answer of API.md:
    ``{"status": "confirmed"|"parked"|"duplicate"|"ignored", "reason": str|None, "reservation": code|None}``."""
    notice = parse(payload)
    account = await repo.bank_account_by_number(session, notice.bank_bin, notice.account_number)
    if account is None:  # an account we do not know has no secret to verify with: the same 400 as a bad signature
        raise InvalidWebhookSignature("no receiving account with this bank BIN and number")
    verify(payload, header, account.feed_secret, tolerance=tolerance)
    transacted = notice.transacted_at.astimezone(UTC)
    new = await repo.insert_transfer(
        session,
        {
            "bank_bin": notice.bank_bin,
            "transaction_id": notice.transaction_id,
            "account_number": notice.account_number,
            "property_id": account.property_id,
            "amount": notice.amount,
            "currency": notice.currency.upper(),
            "description": notice.description,
            "transacted_at": transacted,
            "status": TransferStatus.PARKED,
            "reason": None,
            "received_at": now,
        },
    )
    if not new:
        stored = await repo.transfer(session, notice.bank_bin, notice.transaction_id)
        return {"status": "duplicate", "reason": stored.reason if stored else None, "reservation": None}
    status, reason, code = await _match(session, notice, account, transacted, now)
    return {"status": status, "reason": reason, "reservation": code}


async def _match(
    session: AsyncSession, notice: BankNotice, account: Any, transacted: datetime, now: datetime
) -> tuple[str, str | None, str | None]:
    codes = vietqr.codes_in(notice.description)
    candidates = await repo.reservations_by_codes(session, account.property_id, codes)
    reservation = None
    if candidates:
        reservation = await repo.reservation_for_update(session, reservation_id=candidates[0].id)
    reason: str | None = None
    if notice.currency.upper() != (reservation.currency if reservation is not None else "VND"):
        reason = ParkReason.CURRENCY
    elif reservation is None:
        reason = ParkReason.UNMATCHED
    else:
        due = reservation.total_amount - (reservation.paid_amount - reservation.refunded_amount)
        balance = reservation.status in (ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN)
        if due <= 0:
            reason = ParkReason.ALREADY_PAID
        elif balance:  # a balance on a confirmed stay (a walk-in, an accepted short transfer): the owner decides
            reason = ParkReason.ALREADY_PAID if notice.amount != due else None
        elif (
            reservation.status not in (ReservationStatus.HELD, ReservationStatus.EXPIRED)
            or reservation.hold_expires_at is None
            or transacted > reservation.hold_expires_at
        ):
            reason = ParkReason.LATE  # sent after the hold lapsed (or the booking was cancelled)
        elif notice.amount < due:
            reason = ParkReason.UNDERPAID
        elif notice.amount > due:
            reason = ParkReason.OVERPAID
    code = reservation.code if reservation is not None else None
    if reason is not None:
        await repo.set_transfer(
            session,
            notice.bank_bin,
            notice.transaction_id,
            {
                "status": TransferStatus.PARKED,
                "reason": reason,
                "reservation_id": reservation.id if reservation else None,
            },
        )
        if reservation is not None:
            await tell_owner(
                session,
                "transfer_parked",
                reservation,
                now,
                key=f"{notice.bank_bin}:{notice.transaction_id}",
                amount=notice.amount,
                reason=reason,
                memo=notice.description[:100],
            )
        return "parked", reason, code
    assert reservation is not None
    # sent while the hold was live: it pays the reservation, even when the bank feed told us after the expiry job
    # released the nights (``settle`` takes them again if they are free, else the money goes back as a payout)
    payment_id = await _transfer_payment(session, reservation, account, notice.amount, now)
    outcome = await settlement.settle(session, payment_id, notice.amount, now, reservation=reservation)
    if outcome in ("confirmed", "balance_paid", "already"):
        await repo.set_transfer(
            session,
            notice.bank_bin,
            notice.transaction_id,
            {"status": TransferStatus.CONFIRMED, "reservation_id": reservation.id, "payment_id": payment_id},
        )
        return "confirmed", None, code
    await repo.set_transfer(  # refunded in full by ``settle`` (resold meanwhile): a payout the owner makes
        session,
        notice.bank_bin,
        notice.transaction_id,
        {
            "status": TransferStatus.REFUNDED,
            "reason": ParkReason.LATE,
            "reservation_id": reservation.id,
            "payment_id": payment_id,
        },
    )
    return "parked", ParkReason.LATE, code


async def _transfer_payment(session: AsyncSession, reservation: Any, account: Any, amount: int, now: datetime) -> UUID:
    """The VietQR payment a transfer settles: the reservation's open one (started by the app), else a new one."""
    latest = await repo.latest_payment(session, reservation.id, "vietqr")
    if latest is not None and latest.status != PaymentStatus.SUCCEEDED:
        return UUID(str(latest.id))
    attempt = (latest.attempt + 1) if latest is not None else 1
    payment_id = uuid4()
    await repo.insert_payment(
        session,
        {
            "id": payment_id,
            "reservation_id": reservation.id,
            "method": "vietqr",
            "attempt": attempt,
            "status": PaymentStatus.PENDING,
            "amount": amount,
            "currency": reservation.currency,
            "bank_bin": account.bank_bin,
            "account_number": account.account_number,
            "created_at": now,
            "updated_at": now,
        },
    )
    return payment_id


async def _parked(session: AsyncSession, owner_id: UUID, bank_bin: str, transaction_id: str) -> Any:
    found = await repo.transfer(session, bank_bin, transaction_id, lock=True)
    if found is None:
        raise TransferNotFound(f"no bank transfer {bank_bin}:{transaction_id}")
    owned = await repo.property_owned(session, found.property_id, owner_id)
    if not owned:
        raise TransferNotFound(f"no bank transfer {bank_bin}:{transaction_id}")
    if found.status != TransferStatus.PARKED:
        raise TransferResolved(f"the transfer is {found.status}")
    return found


async def attach(
    session: AsyncSession, owner_id: UUID, bank_bin: str, transaction_id: str, code: str, now: datetime
) -> tuple[str, str]:
    """The owner attaches a parked transfer to reservation ``code`` of the same property: it is settled as that
    reservation's payment (a short amount accepted by the owner; an excess refunded as a payout; nights resold
    meanwhile: refunded as a payout). Returns ``(settle outcome, reservation code)``."""
    from src.booking import codes as reservation_codes

    found = await _parked(session, owner_id, bank_bin, transaction_id)
    canonical = reservation_codes.normalise(code)
    matches = await repo.reservations_by_codes(session, found.property_id, [canonical] if canonical else [])
    if not matches:
        raise InvalidParameter.of_field("code", "no reservation with this code at the transfer's property")
    reservation = await repo.reservation_for_update(session, reservation_id=matches[0].id)
    assert reservation is not None
    if found.currency != reservation.currency:
        raise InvalidParameter.of_field(
            "code", f"the transfer is in {found.currency}, the booking in {reservation.currency}"
        )
    account = await repo.bank_account_of(session, property_id=found.property_id) or SimpleNamespace(
        bank_bin=found.bank_bin, account_number=found.account_number
    )
    payment_id = await _transfer_payment(session, reservation, account, found.amount, now)
    outcome = await settlement.settle(session, payment_id, found.amount, now, short_ok=True, reservation=reservation)
    await repo.set_transfer(
        session,
        bank_bin,
        transaction_id,
        {
            "status": TransferStatus.ATTACHED,
            "reservation_id": reservation.id,
            "payment_id": payment_id,
            "resolved_by": owner_id,
            "resolved_at": now,
        },
    )
    return outcome, reservation.code


async def send_back(session: AsyncSession, owner_id: UUID, bank_bin: str, transaction_id: str, now: datetime) -> Any:
    """The owner sends a parked transfer back: a payout task for its whole amount (the owner transfers it and
    marks it done). Returns the ledger entry."""
    found = await _parked(session, owner_id, bank_bin, transaction_id)
    refund_id = uuid4()
    await repo.insert_refund(
        session,
        {
            "id": refund_id,
            "property_id": found.property_id,
            "payment_id": None,
            "reservation_id": found.reservation_id,
            "bank_transfer": f"{bank_bin}:{transaction_id}",
            "kind": RefundKind.BANK_PAYOUT,
            "status": RefundStatus.PENDING,
            "amount": found.amount,
            "currency": found.currency,
            "reason": "transfer",
            "dedup_key": f"transfer:{bank_bin}:{transaction_id}",
            "requested_by": owner_id,
            "created_at": now,
            "updated_at": now,
        },
    )
    await repo.set_transfer(
        session,
        bank_bin,
        transaction_id,
        {"status": TransferStatus.REFUNDED, "resolved_by": owner_id, "resolved_at": now},
    )
    return await repo.refund_by(session, refund_id=refund_id)
