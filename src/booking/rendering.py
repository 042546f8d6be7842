"""Booking's values as the API shows them, in the negotiated locale: money displayed by Babel, translated texts
picked along the fallback chain with their locale, a price snapshot and a policy applied to a stay."""

from datetime import date, time
from typing import Any

from src.booking import policy as policies
from src.booking.pricing import Quote, TaxFeeLine, parse_tax_fees
from src.booking.schemas import (
    CancellationTerm,
    CancellationTerms,
    PaymentState,
    PolicyOut,
    PriceBreakdown,
    PriceNight,
    RefundRuleOut,
    TaxFee,
    TaxFeeRule,
)
from src.guide.schemas import CommuneRef
from src.kernel.i18n import pick
from src.kernel.money import Money, money


class Renderer:
    """Renders for one ``locale`` (a served BCP 47 tag)."""

    __slots__ = ("_line_names", "locale")

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._line_names: dict[int, tuple[TaxFeeLine, str, str]] = {}

    def money(self, amount: int, currency: str) -> Money:
        """``amount`` in minor units of ``currency`` (ISO 4217; VND has none) with its Babel ``display``."""
        return money(amount, currency, self.locale)

    def payment_state(self, row: Any) -> PaymentState:
        """What was paid for a reservation row (``payment_status``, ``paid_amount``, ``refunded_amount`` in minor
        units of ``currency``, ``disputed``), as the API shows it."""
        return PaymentState(
            status=row.payment_status,
            paid=self.money(row.paid_amount, row.currency),
            refunded=self.money(row.refunded_amount, row.currency),
            disputed=row.disputed,
        )

    def text(self, values: dict[str, str] | None) -> tuple[str | None, str | None]:
        """``(text, locale it came from)`` along the fallback chain, or ``(None, None)`` when there is none."""
        picked = pick(values or {}, self.locale)
        if picked is None:
            if values:  # a text only in a locale outside the chain: better than nothing
                first = sorted(values)[0]
                return values[first], first
            return None, None
        return picked

    def name(self, values: dict[str, str]) -> tuple[str, str]:
        """``text`` for a name that must show: ``("", "vi")`` when there is none at all."""
        text, locale = self.text(values)
        return (text or "", locale or "vi")

    def commune(self, code: str, name: str, name_en: str | None, unit_type: str) -> CommuneRef:
        """The reference to a 2025 commune (5-digit ``code``): its Vietnamese name, or the English one for readers
        of any other locale (the catalogue holds no other)."""
        if self.locale != "vi" and name_en:
            return CommuneRef(code=code, name=name_en, name_locale="en", unit_type=unit_type)
        return CommuneRef(code=code, name=name, name_locale="vi", unit_type=unit_type)

    def price(self, snapshot: dict[str, Any]) -> PriceBreakdown:
        """A price snapshot (``src/booking/pricing.py``, ``Quote.snapshot()``) with money displayed."""
        currency = snapshot["currency"]
        nights = [
            PriceNight(
                date=date.fromisoformat(n["date"]),
                rate=self.money(n["rate"], currency),
                amount=self.money(n["amount"], currency),
            )
            for n in snapshot["nights"]
        ]
        lines = []
        for line in snapshot["taxes_and_fees"]:
            name, name_locale = self.name(line["name"])
            lines.append(
                TaxFee(
                    code=line["code"],
                    name=name,
                    name_locale=name_locale,
                    kind=line["kind"],
                    included=bool(line.get("included", False)),
                    amount=self.money(line["amount"], currency),
                    rate_bp=line.get("rate_bp"),
                    per=line.get("per"),
                )
            )
        return PriceBreakdown(
            currency=currency,
            rooms=snapshot["rooms"],
            nights=nights,
            subtotal=self.money(snapshot["subtotal"], currency),
            taxes_and_fees=lines,
            total=self.money(snapshot["total"], currency),
        )

    def quote(self, quote: Quote) -> PriceBreakdown:
        """A fresh ``Quote`` as the API shows it (the same shape as ``price`` of its snapshot, built without the
        snapshot's intermediate dictionaries: availability renders one per offer)."""
        currency = quote.currency
        money_of = self.money
        nights = [
            PriceNight(date=n.night, rate=money_of(n.rate, currency), amount=money_of(n.amount, currency))
            for n in quote.nights
        ]
        lines = []
        for charge in quote.charges:
            line = charge.line
            name, name_locale = self._line_name(line)
            lines.append(
                TaxFee(
                    code=line.code,
                    name=name,
                    name_locale=name_locale,
                    kind=line.kind,
                    included=line.included,
                    amount=money_of(charge.amount, currency),
                    rate_bp=line.rate_bp,
                    per=line.per,
                )
            )
        return PriceBreakdown(
            currency=currency,
            rooms=quote.rooms,
            nights=nights,
            subtotal=money_of(quote.subtotal, currency),
            taxes_and_fees=lines,
            total=money_of(quote.total, currency),
        )

    def _line_name(self, line: TaxFeeLine) -> tuple[str, str]:
        cached = self._line_names.get(id(line))
        if cached is None or cached[0] is not line:
            cached = self._line_names[id(line)] = (line, *self.name(line.name))
        return cached[1], cached[2]

    def tax_fee_rules(self, lines: list[dict[str, Any]], currency: str) -> list[TaxFeeRule]:
        """A property's stored tax and fee lines (``src/booking/pricing.py``) as the API shows them, fixed amounts
        as money in ``currency``; ``ValueError``/``msgspec.ValidationError`` for a stored line that is invalid."""
        out = []
        for line in parse_tax_fees(lines):
            name, name_locale = self.name(line.name)
            out.append(
                TaxFeeRule(
                    code=line.code,
                    name=name,
                    name_locale=name_locale,
                    kind=line.kind,
                    included=line.included,
                    rate_bp=line.rate_bp,
                    fixed_amount=self.money(line.fixed_amount, currency) if line.fixed_amount is not None else None,
                    per=line.per,
                )
            )
        return out


def policy_rules(value: dict[str, Any]) -> PolicyOut:
    """A stored policy as the API shows it."""
    parsed = policies.parse_policy(value)
    return PolicyOut(
        rules=[RefundRuleOut(days_before=r.days_before, refund_percent=r.refund_percent) for r in parsed.rules],
        no_show_refund_percent=parsed.no_show_refund_percent,
    )


def cancellation_terms(value: dict[str, Any], check_in: date, check_in_time: time) -> CancellationTerms:
    """A stored policy applied to a stay starting ``check_in`` (deadlines at ``check_in_time``, local)."""
    parsed = policies.parse_policy(value)
    return CancellationTerms(
        terms=[
            CancellationTerm(until=t["until"], refund_percent=t["refund_percent"])
            for t in policies.terms(parsed, check_in, check_in_time)
        ],
        free_cancellation_until=policies.free_cancellation_until(parsed, check_in, check_in_time),
        no_show_refund_percent=parsed.no_show_refund_percent,
    )
