"""Booking's values as the API shows them, in the negotiated locale: money displayed by Babel, translated texts
picked along the fallback chain with their locale, a price snapshot and a policy applied to a stay."""

from datetime import date, time
from typing import Any

from src.booking import policy as policies
from src.booking.pricing import parse_tax_fees
from src.booking.schemas import (
    CancellationTerm,
    CancellationTerms,
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

    __slots__ = ("locale",)

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def money(self, amount: int, currency: str) -> Money:
        return money(amount, currency, self.locale)

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
        text, locale = self.text(values)
        return (text or "", locale or "vi")

    def commune(self, code: str, name: str, name_en: str | None, unit_type: str) -> CommuneRef:
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

    def tax_fee_rules(self, lines: list[dict[str, Any]], currency: str) -> list[TaxFeeRule]:
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
