"""The rules of payments for the app, the owner portal and admins: start paying, "I paid", QR images, refunds on
cancellation and by hand, receiving accounts, parked transfers and payouts.

Starting a card payment is claim-first: the payment row (one per reservation attempt, ``UNIQUE (reservation_id,
method, attempt)``) is written and committed before Stripe is called, and the PaymentIntent is created with the
idempotency key ``laocai-payment-<payment id>``, so a double tap or a retry after a timeout lands on the same
attempt and the same intent (https://docs.stripe.com/api/idempotent_requests). The request's ``Idempotency-Key``
replays the first answer on top of that (``src/kernel/idempotency.py``).
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking import codes as reservation_codes
from src.booking.errors import HoldExpired, PropertyNotFound, ReservationNotFound
from src.booking.models import ReservationStatus
from src.booking.rendering import Renderer
from src.booking.schemas import RefundOut
from src.booking.service import effective_status, may_see
from src.booking.stays import parse_local_date
from src.kernel import idempotency
from src.kernel.auth.identity import Identity
from src.kernel.db import unit_of_work, upsert_insert
from src.kernel.errors import Conflict, InvalidParameter
from src.kernel.jobs import enqueue
from src.kernel.money import money
from src.kernel.text import clean_text
from src.payments import ledger, settlement, transfers, vietqr
from src.payments import repository as repo
from src.payments.errors import (
    AlreadyPaid,
    AmountTooLarge,
    NotPayable,
    PaymentMethodUnavailable,
    PaymentNotFound,
    PayoutNotFound,
    ProviderDown,
    ProviderRejected,
    RefundExceedsCapture,
)
from src.payments.models import PaymentStatus, RefundStatus
from src.payments.notices import tell_guest
from src.payments.provider import CardProvider, PaymentMethod, ProviderRefused, ProviderUnavailable
from src.payments.schemas import (
    BankAccountOut,
    BankAccountWrite,
    BankDetails,
    PaymentConfirmation,
    PaymentStarted,
    PayoutList,
    PayoutOut,
    RefundCreate,
    RefundList,
    TransferList,
    TransferOut,
    TransferResolution,
)


@dataclass(frozen=True, slots=True)
class PaymentConfig:
    """How long starting a payment extends the hold, per method."""

    card_settlement: timedelta = timedelta(minutes=15)
    vietqr_settlement: timedelta = timedelta(minutes=30)


#: The job that cancels a PaymentIntent at Stripe (``src/payments/jobs.py`` registers its handler).
CANCEL_INTENT_NAME = "payments.cancel_intent"


def intent_key(payment_id: UUID) -> str:
    """Our idempotency key of the PaymentIntent creation of one payment attempt."""
    return f"laocai-payment-{payment_id}"


def refund_out(row: Any, locale: str, method: str | None = None) -> RefundOut:
    """A ledger row as the API shows it."""
    return RefundOut(
        id=row.id,
        amount=money(row.amount, row.currency, locale),
        status=row.status,
        method=method or ("card" if row.kind == "card_refund" else "vietqr"),
        reason=row.reason,
        created_at=row.created_at,
    )


def bank_details(account: Any) -> BankDetails:
    """A receiving account as the API shows it (the feed secret never)."""
    bank = vietqr.bank(account.bank_bin)
    return BankDetails(
        bank_bin=account.bank_bin,
        bank_name=bank.name if bank else None,
        bank_short_name=bank.short_name if bank else None,
        account_number=account.account_number,
        account_name=account.account_name,
        is_sample=account.is_sample,
    )


async def locked_reservation(session: AsyncSession, code: str, allowed: Callable[[Any], bool]) -> Any:
    """The reservation ``code`` (in any spelling ``src/booking/codes.py`` reads), its row locked
    (``repository.reservation_for_update``), when ``allowed(row)``; ``ReservationNotFound`` (404) otherwise, the
    same for a code that does not exist and one the caller may not see."""
    canonical = reservation_codes.normalise(code)
    row = await repo.reservation_for_update(session, code=canonical) if canonical else None
    if row is None or not allowed(row):
        raise ReservationNotFound(f"no reservation {code!r}")
    return row


async def create_intent(engine: AsyncEngine, card: CardProvider, payment: Any, code: str, now: datetime) -> Any:
    """Create the PaymentIntent of one payment attempt at Stripe (idempotency key ``laocai-payment-<payment id>``:
    a retry after a timeout or a crash returns the same intent) and store it on the payment unless a concurrent
    creator stored one first; the payment row as stored. ``ProviderUnavailable``/``ProviderRefused`` as the
    provider raises them."""
    intent = await card.create_intent(
        amount=payment.amount,
        currency=payment.currency,
        metadata={"reservation_code": code, "payment_id": str(payment.id)},
        idempotency_key=intent_key(payment.id),
    )
    async with unit_of_work(engine) as session:
        stored = await repo.set_payment(
            session,
            payment.id,
            {
                "provider_ref": intent.id,
                "client_secret": intent.client_secret,
                "status": PaymentStatus.PENDING,
                "updated_at": now,
            },
            where=repo.payment.c.provider_ref.is_(None),
        )
        return stored if stored is not None else await repo.payment_by_id(session, payment.id)


class PaymentService:
    """Payments for one request. Card calls go to ``card`` (``None`` when no Stripe keys are configured)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        card: CardProvider | None,
        config: PaymentConfig,
        locale: str,
        now: datetime,
        base_url: str = "",
    ) -> None:
        self.engine = engine
        self.card = card
        self.config = config
        self.locale = locale
        self.now = now
        self.base_url = base_url

    async def _reservation(self, session: AsyncSession, code: str, token: str | None, identity: Identity | None) -> Any:
        return await locked_reservation(session, code, lambda row: may_see(row, token, identity))

    def _started(self, payment: Any, reservation: Any, account: Any = None) -> PaymentStarted:
        amount = money(payment.amount, payment.currency, self.locale)
        hold = reservation.hold_expires_at if reservation.status == ReservationStatus.HELD else None
        if payment.method == PaymentMethod.CARD:
            return PaymentStarted(
                payment_id=payment.id,
                method=payment.method,
                status=payment.status,
                amount=amount,
                hold_expires_at=hold,
                client_secret=payment.client_secret,
                publishable_key=self.card.publishable_key if self.card else None,
            )
        base = f"{self.base_url}/v1/payments/{payment.id}"
        return PaymentStarted(
            payment_id=payment.id,
            method=payment.method,
            status=payment.status,
            amount=amount,
            hold_expires_at=hold,
            payload=payment.payload,
            qr_svg_url=f"{base}/qr.svg",
            qr_png_url=f"{base}/qr.png",
            memo=vietqr.memo_for(reservation.code),
            bank=bank_details(account) if account is not None else None,
        )

    async def start(
        self,
        code: str,
        method: str,
        idempotency_key: str | None,
        token: str | None,
        identity: Identity | None,
    ) -> tuple[int, dict[str, Any], bool]:
        """``POST /v1/bookings/{code}/payments``: ``(status, body, replayed)``. Errors: 400 without a key, 404,
        ``AlreadyPaid`` (409), ``HoldExpired`` (410), ``NotPayable`` (409), ``PaymentMethodUnavailable`` (409),
        ``AmountTooLarge`` (422), ``ProviderDown`` (424), ``ProviderRejected`` (422)."""
        key = idempotency.check_key(idempotency_key)
        route = f"POST /v1/bookings/{code}/payments"
        digest = idempotency.fingerprint(route, {"method": method})
        scope = idempotency.scope_of(identity.id if identity is not None else None)
        now = self.now
        async with unit_of_work(self.engine) as session:
            found = await idempotency.stored_answer(session, scope=scope, key=key)
            replay = idempotency.replay_of(found, route=route, fingerprint=digest, now=now)
            if replay is not None:
                return replay.status_code, dict(replay.body), True
            reservation = await self._reservation(session, code, token, identity)
            status = effective_status(reservation.status, reservation.hold_expires_at, now)
            held = reservation.paid_amount - reservation.refunded_amount
            if status in (ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN) or (
                held >= reservation.total_amount > 0
            ):
                raise AlreadyPaid(f"reservation {reservation.code} is paid")
            if status == ReservationStatus.EXPIRED:
                raise HoldExpired(f"the hold of {reservation.code} lapsed; book again")
            if status != ReservationStatus.HELD:
                raise NotPayable(f"a reservation that is {status} cannot be paid")
            due = reservation.total_amount - held
            account = None
            if method == PaymentMethod.CARD:
                if self.card is None:
                    raise PaymentMethodUnavailable("card payments are not configured (no Stripe keys)", method=method)
                limit = self.card.max_amount(reservation.currency)
                if due > limit:
                    raise AmountTooLarge(
                        f"{due} {reservation.currency} is more than one card charge may carry ({limit})",
                        max_amount=limit,
                    )
                settlement_time = self.config.card_settlement
            else:
                account = await repo.bank_account_of(session, property_id=reservation.property_id)
                if account is None:
                    raise PaymentMethodUnavailable("this property has set no account for bank transfers", method=method)
                if due > vietqr.MAX_AMOUNT:
                    raise AmountTooLarge(f"{due} is more than a VietQR amount may be", max_amount=vietqr.MAX_AMOUNT)
                settlement_time = self.config.vietqr_settlement
            payment = await self._attempt(session, reservation, method, due, account)
            extended = max(reservation.hold_expires_at, now + settlement_time)
            await repo.set_reservation(
                session,
                reservation.id,
                {"hold_expires_at": extended, "payment_status": "pending", "updated_at": now},
                where=repo.reservation.c.status == ReservationStatus.HELD,
            )
            reservation = SimpleNamespace(**{**reservation._mapping, "hold_expires_at": extended})
        if method == PaymentMethod.CARD and payment.provider_ref is None:
            payment = await self._create_intent(payment, reservation.code)
        body = msgspec.to_builtins(self._started(payment, reservation, account))
        async with unit_of_work(self.engine) as session:
            await idempotency.record(
                session, scope=scope, key=key, route=route, fingerprint=digest, status_code=201, body=body, now=now
            )
        return 201, body, False

    async def _attempt(self, session: AsyncSession, reservation: Any, method: str, due: int, account: Any) -> Any:
        """The open attempt of ``method`` (reused: the same intent, the same QR), or a new one claimed with
        ``INSERT ... ON CONFLICT DO NOTHING`` (a concurrent double tap lands on the same row)."""
        now = self.now
        latest = await repo.latest_payment(session, reservation.id, method)
        reusable = (PaymentStatus.CREATING, PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED)
        if latest is not None and latest.status in reusable and latest.amount == due:
            return latest
        attempt = (latest.attempt + 1) if latest is not None else 1
        values: dict[str, Any] = {
            "id": uuid4(),
            "reservation_id": reservation.id,
            "method": method,
            "attempt": attempt,
            "status": PaymentStatus.CREATING if method == PaymentMethod.CARD else PaymentStatus.PENDING,
            "amount": due,
            "currency": reservation.currency,
            "created_at": now,
            "updated_at": now,
        }
        if account is not None:
            values.update(
                bank_bin=account.bank_bin,
                account_number=account.account_number,
                payload=vietqr.payload(
                    bank_bin=account.bank_bin,
                    account_number=account.account_number,
                    amount=due,
                    memo=vietqr.memo_for(reservation.code),
                ),
            )
        await repo.insert_payment(session, values)
        return await repo.latest_payment(session, reservation.id, method)

    async def _create_intent(self, payment: Any, code: str) -> Any:
        """``create_intent`` with the provider's errors as HTTP problems (424 unreachable, 422 refused)."""
        assert self.card is not None
        try:
            return await create_intent(self.engine, self.card, payment, code, self.now)
        except ProviderUnavailable as exc:
            raise ProviderDown(str(exc)) from None
        except ProviderRefused as exc:
            raise ProviderRejected(str(exc), provider_code=exc.code) from None

    async def confirm(self, code: str, token: str | None, identity: Identity | None) -> PaymentConfirmation:
        """The app's "I paid": re-read the reservation's latest card PaymentIntent from Stripe and apply it through
        the same idempotent transition as the webhook; the reservation's status and payment state."""
        async with unit_of_work(self.engine) as session:
            reservation = await self._reservation(session, code, token, identity)
            latest = await repo.latest_payment(session, reservation.id, PaymentMethod.CARD)
        if latest is not None and latest.provider_ref and self.card is not None:
            try:
                intent = await self.card.retrieve_intent(latest.provider_ref)
            except ProviderUnavailable as exc:
                raise ProviderDown(str(exc)) from None
            except ProviderRefused as exc:
                raise ProviderRejected(str(exc), provider_code=exc.code) from None
            async with unit_of_work(self.engine) as session:
                await settlement.apply_intent(
                    session,
                    intent_id=intent.id,
                    status=intent.status,
                    amount_received=intent.amount_received,
                    metadata=intent.metadata,
                    now=self.now,
                )
        async with unit_of_work(self.engine) as session:
            reservation = await repo.reservation_for_update(session, reservation_id=reservation.id)
            assert reservation is not None
            return PaymentConfirmation(
                code=reservation.code,
                status=effective_status(reservation.status, reservation.hold_expires_at, self.now),
                payment=Renderer(self.locale).payment_state(reservation),
            )

    async def qr_payload(self, payment_id: UUID) -> str:
        """The EMVCo payload of a VietQR payment still waiting for its transfer (its id is the unguessable
        capability); ``PaymentNotFound`` (404) for any other (unknown, paid, or closed by a cancellation)."""
        async with unit_of_work(self.engine) as session:
            found = await repo.payment_by_id(session, payment_id)
        if found is None or found.payload is None or found.status != PaymentStatus.PENDING:
            raise PaymentNotFound(f"no VietQR payment {payment_id} waiting for a transfer")
        return str(found.payload)


# ------------------------------------------------------------------------------------------------- refunds


async def refund_on_cancel(
    session: AsyncSession, reservation: Any, refund_percent: int, now: datetime, *, by: UUID | None
) -> RefundOut | None:
    """Booking's ``CancellationRefunder``: refund ``floor(held * percent / 100)`` of the cancelled reservation,
    where ``held`` is what was paid and not yet refunded (an earlier partial refund is not refunded twice), over
    its succeeded payments (largest first), once per reservation (dedup key ``cancel:<reservation id>:<payment
    id>``); tell the guest that it was cancelled."""
    locked = await repo.reservation_for_update(session, reservation_id=reservation.id)
    if locked is None:
        return None
    due = ledger.percent_of(locked.paid_amount - locked.refunded_amount, refund_percent)
    first: Any = None
    left = due
    for payment in await repo.succeeded_payments(session, locked.id):
        if left <= 0:
            break
        amount = min(left, payment.captured_amount - payment.refunded_amount)
        entry = await ledger.add_refund(
            session,
            payment=payment,
            reservation=locked,
            amount=amount,
            reason="cancellation",
            dedup_key=f"cancel:{locked.id}:{payment.id}",
            now=now,
            by=by,
            tell=False,
        )
        if entry is not None:
            left -= amount
            first = first or entry
    await tell_guest(
        session,
        "reservation_cancelled",
        locked,
        now,
        key=str(locked.id),
        refund_amount=due if due > 0 else None,
        reason="unpaid" if locked.paid_amount == 0 else None,
    )
    await repo.close_open_transfers(session, locked.id, now)  # its QR stops being served
    for intent_id in await repo.open_card_intents(session, locked.id):  # and its card intents can't be paid
        enqueue(session, CANCEL_INTENT_NAME, dedup_key=f"cancel-intent:{intent_id}", intent_id=intent_id)
    if first is None:
        return None
    out = refund_out(first, locked.guest_locale)
    if due != first.amount:
        out = msgspec.structs.replace(out, amount=money(due, locked.currency, locked.guest_locale))
    return out


class RefundService:
    """Refunds by hand: the property's owner (their reservations) or an admin (any)."""

    def __init__(self, session: AsyncSession, identity: Identity, locale: str, now: datetime) -> None:
        self.session = session
        self.identity = identity
        self.locale = locale
        self.now = now

    async def _reservation(self, code: str) -> Any:
        identity = self.identity
        return await locked_reservation(
            self.session, code, lambda row: row.owner_id == identity.id or "admin" in identity.roles
        )

    async def entries(self, code: str) -> RefundList:
        """The reservation's ledger entries."""
        reservation = await self._reservation(code)
        rows = await repo.refunds_of(self.session, reservation.id)
        return RefundList(items=[refund_out(r, self.locale) for r in rows])

    async def refund(
        self, code: str, body: RefundCreate, idempotency_key: str | None
    ) -> tuple[int, list[dict[str, Any]], bool]:
        """Refund ``amount`` or the shares of ``nights`` (``src/payments/ledger.py``) of what was paid for the stay,
        over the reservation's succeeded payments, largest first, under the caller's ``Idempotency-Key`` (the same
        key and body replays the first answer). A night is refunded at most once. Returns ``(201, entries,
        replayed)``. Errors: 400 without a key; 422 for neither or both of ``amount`` and ``nights``, or a night
        outside the stay; ``RefundExceedsCapture`` (409) beyond what is left, or for nights all refunded before."""
        key = idempotency.check_key(idempotency_key)
        route = f"POST /v1/owner/reservations/{code}/refunds"
        digest = idempotency.fingerprint(route, msgspec.to_builtins(body))
        scope = idempotency.scope_of(self.identity.id)
        found = await idempotency.stored_answer(self.session, scope=scope, key=key)
        replay = idempotency.replay_of(found, route=route, fingerprint=digest, now=self.now)
        if replay is not None:
            return replay.status_code, list(replay.body["items"]), True
        if (body.amount is None) == (body.nights is None):
            raise InvalidParameter.of_field("amount", "give either amount or nights")
        note = clean_text(body.note, "note", allow_empty=True) if body.note is not None else None
        reservation = await self._reservation(code)
        payments = await repo.succeeded_payments(self.session, reservation.id)
        left = sum(p.captured_amount - p.refunded_amount for p in payments)
        parts: list[tuple[int, str]] = []  # (amount, dedup key) per cause
        if body.amount is not None:
            caller = hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()[:32]  # keys may be 255 characters
            parts.append((body.amount, f"manual:{reservation.id}:{caller}"))
        else:
            stay = ledger.nightly_rates(reservation.price, reservation.check_in, reservation.nights)
            paid_for_stay = min(sum(p.captured_amount for p in payments), reservation.total_amount)
            shares = dict(
                zip(
                    [night for night, _ in stay],
                    ledger.night_shares(paid_for_stay, [rate for _, rate in stay]),
                    strict=True,
                )
            )
            for text in body.nights or []:
                night = parse_local_date(text, "nights", source="body")
                if night not in shares:
                    raise InvalidParameter.of_field("nights", f"{night.isoformat()} is not a night of this stay")
                part = (shares[night], f"night:{reservation.id}:{night.isoformat()}")
                if part not in parts and not await repo.refunded_before(self.session, part[1] + ":"):
                    parts.append(part)
        if not parts:
            raise RefundExceedsCapture("every night asked for was refunded before", refundable=left)
        asked = sum(amount for amount, _ in parts)
        if asked > left or asked <= 0:
            raise RefundExceedsCapture(f"{asked} is more than the {left} left to refund", refundable=left)
        reason = "admin" if reservation.owner_id != self.identity.id else "owner"
        made: list[RefundOut] = []
        for amount, cause in parts:
            remaining = amount
            for payment in await repo.succeeded_payments(self.session, reservation.id):
                part = min(remaining, payment.captured_amount - payment.refunded_amount)
                if part <= 0:
                    continue
                entry = await ledger.add_refund(
                    self.session,
                    payment=payment,
                    reservation=reservation,
                    amount=part,
                    reason=reason,
                    dedup_key=f"{cause}:{payment.id}",
                    now=self.now,
                    by=self.identity.id,
                    note=note,
                )
                if entry is None:  # this cause (a night) was refunded before
                    break
                made.append(refund_out(entry, self.locale))
                remaining -= part
                if remaining <= 0:
                    break
        if not made:
            raise RefundExceedsCapture("every night asked for was refunded before", refundable=left)
        items = [msgspec.to_builtins(entry) for entry in made]
        await idempotency.record(
            self.session,
            scope=scope,
            key=key,
            route=route,
            fingerprint=digest,
            status_code=201,
            body={"items": items},
            now=self.now,
        )
        return 201, items, False


class OwnerPaymentService:
    """The owner's receiving accounts, transfers and payouts."""

    def __init__(self, session: AsyncSession, identity: Identity, locale: str, now: datetime) -> None:
        self.session = session
        self.identity = identity
        self.locale = locale
        self.now = now

    async def _owned(self, property_id: UUID) -> None:
        if not await repo.property_owned(self.session, property_id, self.identity.id):
            raise PropertyNotFound(f"no property {property_id} of yours")

    async def bank_account(self, property_id: UUID) -> BankAccountOut:
        """The property's receiving account (404 when none is set)."""
        await self._owned(property_id)
        account = await repo.bank_account_of(self.session, property_id=property_id)
        if account is None:
            raise PaymentNotFound(f"property {property_id} has no receiving account")
        return BankAccountOut(bank=bank_details(account), updated_at=account.updated_at)

    async def set_bank_account(
        self, property_id: UUID, body: BankAccountWrite, *, rotate: bool = False
    ) -> BankAccountOut:
        """Set (or replace) the receiving account; a new feed secret is made when the account is new or changes,
        or when ``rotate``, and shown once. 422 for a BIN not on the NAPAS list or a malformed account number;
        409 when another property receives on that account."""
        await self._owned(property_id)
        if vietqr.bank(body.bank_bin) is None:
            raise InvalidParameter.of_field("bank_bin", "not a bank BIN of the NAPAS list")
        number = body.account_number.strip()
        if not number.isalnum() or not number.isascii():
            raise InvalidParameter.of_field("account_number", "letters and digits only")
        name = clean_text(body.account_name, "account_name")
        current = await repo.bank_account_of(self.session, property_id=property_id)
        changed = current is None or (current.bank_bin, current.account_number) != (body.bank_bin, number)
        secret = secrets.token_urlsafe(32) if changed or rotate else None
        values: dict[str, Any] = {
            "property_id": property_id,
            "bank_bin": body.bank_bin,
            "account_number": number,
            "account_name": name,
            "feed_secret": secret or (current.feed_secret if current is not None else ""),
            "is_sample": False,
            "created_at": self.now,
            "updated_at": self.now,
        }
        insert = upsert_insert(self.session)
        statement = insert(repo.bank_account).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["property_id"],
            set_={k: v for k, v in values.items() if k not in ("property_id", "created_at")},
        )
        try:
            async with self.session.begin_nested():
                await self.session.exec(statement)
        except IntegrityError:
            raise Conflict("another property receives transfers on this account") from None
        account = await repo.bank_account_of(self.session, property_id=property_id)
        assert account is not None
        return BankAccountOut(bank=bank_details(account), updated_at=account.updated_at, feed_secret=secret)

    def _payout(self, row: Any) -> PayoutOut:
        return PayoutOut(
            id=row.id,
            amount=money(row.amount, row.currency, self.locale),
            status=row.status,
            reason=row.reason,
            reservation_code=row.reservation_code,
            bank_transfer=row.bank_transfer,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )

    async def payouts(self, status: str | None) -> PayoutList:
        """The owner's bank payouts (VietQR refunds to make by hand), oldest first."""
        rows = await repo.owner_payouts(self.session, self.identity.id, status=status, limit=500)
        return PayoutList(items=[self._payout(r) for r in rows])

    async def payout_done(self, refund_id: UUID) -> PayoutOut:
        """Mark a pending payout made; ``PayoutNotFound`` (404) for another owner's, or one failed or cancelled."""
        found = await repo.owner_payouts(self.session, self.identity.id, refund_id=refund_id)
        if not found:
            raise PayoutNotFound(f"no payout {refund_id}")
        entry = found[0]
        if entry.status == RefundStatus.PENDING:
            if entry.reservation_id is not None:
                await repo.reservation_for_update(self.session, reservation_id=entry.reservation_id)
            await ledger.move_refund(self.session, entry, RefundStatus.SUCCEEDED, self.now)
            entry = (await repo.owner_payouts(self.session, self.identity.id, refund_id=refund_id))[0]
        elif entry.status != RefundStatus.SUCCEEDED:
            raise PayoutNotFound(f"payout {refund_id} is {entry.status}")
        return self._payout(entry)

    async def transfers(self, status: str | None) -> TransferList:
        """Bank transfers received at the owner's properties, newest first, optionally of one ``status``."""
        rows = await repo.owner_transfers(self.session, self.identity.id, status, 500)
        return TransferList(
            items=[
                TransferOut(
                    bank_bin=r.bank_bin,
                    transaction_id=r.transaction_id,
                    account_number=r.account_number,
                    amount=money(r.amount, r.currency, self.locale),
                    description=r.description,
                    transacted_at=r.transacted_at,
                    received_at=r.received_at,
                    status=r.status,
                    reason=r.reason,
                    reservation_code=r.reservation_code,
                )
                for r in rows
            ]
        )

    async def attach(self, bank_bin: str, transaction_id: str, code: str) -> TransferResolution:
        """Attach a parked transfer to reservation ``code`` (``transfers.attach``)."""
        outcome, reservation_code = await transfers.attach(
            self.session, self.identity.id, bank_bin, transaction_id, code, self.now
        )
        return TransferResolution(outcome=outcome, reservation_code=reservation_code)

    async def send_back(self, bank_bin: str, transaction_id: str) -> TransferResolution:
        """Send a parked transfer back as a payout (``transfers.send_back``)."""
        entry = await transfers.send_back(self.session, self.identity.id, bank_bin, transaction_id, self.now)
        return TransferResolution(outcome="payout_due", payout=refund_out(entry, self.locale, method="vietqr"))
