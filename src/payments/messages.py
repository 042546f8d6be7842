"""The email payments send to guests and property owners, rendered in the recipient's locale and written to the
kernel's outbox (``src/kernel/outbox.py``) in the transaction of the change they announce.

Every sentence is a gettext message marked with ``N_`` here (``pybabel extract`` finds it; see ``babel.cfg``) and
translated at render time with named placeholders (``%(code)s``), so a translator can reorder them. Money is
formatted by Babel for the recipient's locale (``1.850.000 ₫`` in ``vi``, ``₫1,850,000`` in ``en``), stay dates with
Babel's ``full`` date format (``Thứ Năm, 24 tháng 12, 2026``).
"""

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from babel.dates import format_date
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel import outbox
from src.kernel.i18n import DEFAULT_LOCALE, N_, SUPPORTED_LOCALES, catalog_dir_name, gettext
from src.kernel.money import format_money

Kind = Literal[
    "reservation_confirmed",
    "reservation_confirmed_owner",
    "reservation_cancelled",
    "refund_issued",
    "payment_refunded_resold",
    "transfer_parked",
    "refund_failed_owner",
]
KINDS: tuple[Kind, ...] = (
    "reservation_confirmed",
    "reservation_confirmed_owner",
    "reservation_cancelled",
    "refund_issued",
    "payment_refunded_resold",
    "transfer_parked",
    "refund_failed_owner",
)


@dataclass(frozen=True)
class MessageContext:
    """What a payments message tells: the reservation (``code``, ``property_name``, ``guest_name``, stay dates,
    ``nights``), ``amount`` (integer minor units of ``currency``; VND has none), ``refund_amount`` when money goes
    back, ``reason`` (why a transfer was parked: one of ``PARK_REASONS``), the transfer ``memo``, and ``method``
    (``card`` or ``vietqr``: where a refund goes)."""

    code: str
    property_name: str
    guest_name: str
    check_in: date
    check_out: date
    nights: int
    amount: int
    currency: str
    refund_amount: int | None = None
    reason: str | None = None
    memo: str | None = None
    method: str | None = None


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for the outbox: subject, plain text body and its HTML alternative."""

    subject: str
    body_text: str
    body_html: str | None


#: Why a bank transfer could not be matched automatically, as the owner reads it.
PARK_REASONS: dict[str, str] = {
    "underpaid": N_("the amount is less than the amount due"),
    "overpaid": N_("the amount is more than the amount due"),
    "unmatched": N_("the transfer memo names no booking we know"),
    "late": N_("it arrived after the booking's hold had expired"),
    "already_paid": N_("the booking was already paid"),
    "currency": N_("it is not in the booking's currency"),
}

#: Where a refund goes, as the guest reads it.
REFUND_METHODS: dict[str, str] = {
    "card": N_("the card you paid with"),
    "vietqr": N_("the bank account your transfer came from"),
}

_HELLO_GUEST = N_("Hello %(guest_name)s,")
_HELLO_OWNER = N_("Hello,")
_SIGNATURE = N_("The Lào Cai Travel team")
_LINE_CODE = N_("Booking code: %(code)s")
_LINE_PROPERTY = N_("Property: %(property_name)s")
_LINE_GUEST = N_("Guest: %(guest_name)s")
_LINE_CHECK_IN = N_("Check-in: %(check_in)s")
_LINE_CHECK_OUT = N_("Check-out: %(check_out)s")
_LINE_NIGHTS = N_("Nights: %(nights)s")
_LINE_PAID = N_("Amount paid: %(amount)s")
_LINE_AMOUNT = N_("Amount: %(amount)s")


def _stay() -> list[str]:
    return [_LINE_CODE, _LINE_PROPERTY, _LINE_CHECK_IN, _LINE_CHECK_OUT, _LINE_NIGHTS]


def _confirmed(context: MessageContext) -> tuple[str, list[str], list[str]]:
    return (
        N_("Your booking %(code)s at %(property_name)s is confirmed"),
        [_HELLO_GUEST, N_("Your booking at %(property_name)s is confirmed and paid. We look forward to your stay.")],
        [*_stay(), _LINE_PAID],
    )


def _confirmed_owner(context: MessageContext) -> tuple[str, list[str], list[str]]:
    return (
        N_("New confirmed booking %(code)s at %(property_name)s"),
        [_HELLO_OWNER, N_("A new booking at %(property_name)s is confirmed and paid.")],
        [*_stay(), _LINE_GUEST, _LINE_PAID],
    )


def _cancelled(context: MessageContext) -> tuple[str, list[str], list[str]]:
    if context.refund_amount:
        refund = N_("A refund of %(refund)s is on its way to you.")
    elif context.reason == "unpaid":
        refund = N_("Nothing was paid for this booking, so there is nothing to refund.")
    else:
        refund = N_("No refund is due under the booking's cancellation policy.")
    return (
        N_("Your booking %(code)s has been cancelled"),
        [_HELLO_GUEST, N_("Your booking %(code)s at %(property_name)s has been cancelled."), refund],
        [_LINE_CODE, _LINE_PROPERTY, _LINE_CHECK_IN, _LINE_CHECK_OUT],
    )


def _refund(context: MessageContext) -> tuple[str, list[str], list[str]]:
    lines = [_HELLO_GUEST, N_("We have refunded %(refund)s for your booking %(code)s at %(property_name)s.")]
    if context.method in REFUND_METHODS:
        lines.append(N_("The money goes back to %(method)s; banks may take a few business days to show it."))
    return (N_("Refund for your booking %(code)s"), lines, [_LINE_CODE, _LINE_PROPERTY])


def _resold(context: MessageContext) -> tuple[str, list[str], list[str]]:
    return (
        N_("Your payment for booking %(code)s is being refunded"),
        [
            _HELLO_GUEST,
            N_(
                "Your payment of %(amount)s for booking %(code)s at %(property_name)s arrived after your hold had "
                "expired, and by then the room had been booked by another guest."
            ),
            N_("We are refunding your payment in full, %(refund)s. We are sorry for the inconvenience."),
        ],
        [_LINE_CODE, _LINE_PROPERTY, _LINE_CHECK_IN, _LINE_CHECK_OUT],
    )


def _parked(context: MessageContext) -> tuple[str, list[str], list[str]]:
    facts = [N_("Reason: %(reason)s"), _LINE_AMOUNT, N_("Transfer memo: %(memo)s")]
    if context.code:
        facts.insert(0, _LINE_CODE)
    return (
        N_("A bank transfer to %(property_name)s needs your review"),
        [
            _HELLO_OWNER,
            N_("A bank transfer to %(property_name)s could not be matched to a booking automatically."),
            N_("Please check it in the owner portal, then confirm the booking or refund the transfer."),
        ],
        facts,
    )


def _refund_failed(context: MessageContext) -> tuple[str, list[str], list[str]]:
    return (
        N_("A refund for booking %(code)s failed"),
        [
            _HELLO_OWNER,
            N_("Stripe could not refund %(refund)s for booking %(code)s at %(property_name)s."),
            N_("The money is still with you: please refund the guest another way and note it in the owner portal."),
        ],
        [_LINE_CODE, _LINE_PROPERTY],
    )


_TEMPLATES: dict[str, Callable[[MessageContext], tuple[str, list[str], list[str]]]] = {
    "reservation_confirmed": _confirmed,
    "reservation_confirmed_owner": _confirmed_owner,
    "reservation_cancelled": _cancelled,
    "refund_issued": _refund,
    "payment_refunded_resold": _resold,
    "transfer_parked": _parked,
    "refund_failed_owner": _refund_failed,
}


def _values(context: MessageContext, locale: str) -> dict[str, str]:
    babel_locale = catalog_dir_name(locale)
    refund = context.refund_amount if context.refund_amount is not None else context.amount
    method = REFUND_METHODS.get(context.method or "")
    reason = PARK_REASONS.get(context.reason or "")
    return {
        "code": context.code,
        "property_name": context.property_name,
        "guest_name": context.guest_name,
        "check_in": format_date(context.check_in, format="full", locale=babel_locale),
        "check_out": format_date(context.check_out, format="full", locale=babel_locale),
        "nights": str(context.nights),
        "amount": format_money(context.amount, context.currency, locale),
        "refund": format_money(refund, context.currency, locale),
        "method": gettext(method, locale) if method else "",
        "reason": gettext(reason, locale) if reason else (context.reason or ""),
        "memo": context.memo or "",
    }


def render(kind: Kind, context: MessageContext, locale: str = DEFAULT_LOCALE) -> RenderedMessage:
    """The message ``kind`` about ``context`` in ``locale`` (one of ``SUPPORTED_LOCALES``; others render in ``vi``).

    Raises:
        KeyError: ``kind`` is not one of ``KINDS``.
    """
    if locale not in SUPPORTED_LOCALES:
        locale = DEFAULT_LOCALE
    subject_template, paragraph_templates, fact_templates = _TEMPLATES[kind](context)
    values = _values(context, locale)

    def say(template: str) -> str:
        return gettext(template, locale) % values

    subject = say(subject_template)
    paragraphs = [say(t) for t in paragraph_templates]
    facts = [say(t) for t in fact_templates]
    signature = say(_SIGNATURE)
    text = "\n\n".join([*paragraphs, "\n".join(facts), signature]) + "\n"
    escaped = html.escape
    body_html = (
        f'<!DOCTYPE html>\n<html lang="{escaped(locale)}"><head><meta charset="utf-8">'
        f"<title>{escaped(subject)}</title></head><body>\n"
        + "".join(f"<p>{escaped(p)}</p>\n" for p in paragraphs)
        + "<ul>\n"
        + "".join(f"<li>{escaped(f)}</li>\n" for f in facts)
        + f"</ul>\n<p>{escaped(signature)}</p>\n</body></html>\n"
    )
    return RenderedMessage(subject=subject, body_text=text, body_html=body_html)


async def queue(
    session: AsyncSession,
    kind: Kind,
    *,
    to_address: str,
    locale: str,
    context: MessageContext,
    dedup_key: str,
    now: datetime,
) -> bool:
    """Render ``kind`` in ``locale`` and write it to the outbox in ``session``'s transaction (sent after commit);
    whether it was new (``False``: a message with ``dedup_key`` was written before, nothing changed)."""
    rendered = render(kind, context, locale)
    return await outbox.add_message(
        session,
        dedup_key=dedup_key,
        category=kind,
        to_address=to_address,
        locale=locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE,
        subject=rendered.subject[:300],  # the column's length (a property name may be 200 characters long)
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        reference=context.code or None,
        now=now,
    )
