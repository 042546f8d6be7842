"""The price of a stay: nightly rates, the property's tax and fee lines, the total. Pure functions, integers only.

Amounts are integers in the minor unit of the property's currency (ISO 4217; ``VND`` has none). Each property sets
its own lines (``Property.tax_fees``, validated by ``TaxFeeLine``); no rate is hard-coded here:

- ``percent``: ``rate_bp`` basis points (800 = 8 %) of the room subtotal (every night's rate × rooms).
  ``included`` lines are already inside the rates: their amount is the part of the subtotal they represent,
  ``subtotal × r / (1 + r)``, shown but not added. Added lines are ``subtotal × r``.
- ``fixed``: ``fixed_amount`` per ``stay``, ``night``, ``room_night`` or ``guest_night`` (adults and children alike);
  included fixed lines are shown, not added.

Rounding: each line is rounded to a whole minor unit, half up (``ROUND_HALF_UP``), on its own; the total is the
subtotal plus the rounded added lines, so the lines shown always add up to the total exactly.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

import msgspec

MAX_RATE_BP = 10_000  # 100 %
MAX_FIXED_AMOUNT = 100_000_000  # minor units; a sanity bound per line, far above any real fee


class TaxFeeLine(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One tax or fee line of a property (``Property.tax_fees`` items).

    ``code`` is a short stable key (``vat``, ``service_charge``, ``environment_fee``); ``name`` is
    ``{locale: text}``. ``kind="percent"`` needs ``rate_bp``; ``kind="fixed"`` needs ``fixed_amount`` (minor units)
    and ``per``.
    """

    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    name: dict[str, Annotated[str, msgspec.Meta(min_length=1, max_length=100)]]
    kind: Literal["percent", "fixed"]
    included: bool = False
    rate_bp: Annotated[int, msgspec.Meta(ge=0, le=MAX_RATE_BP)] | None = None
    fixed_amount: Annotated[int, msgspec.Meta(ge=0, le=MAX_FIXED_AMOUNT)] | None = None
    per: Literal["stay", "night", "room_night", "guest_night"] | None = None

    def __post_init__(self) -> None:
        if self.kind == "percent" and (self.rate_bp is None or self.fixed_amount is not None or self.per is not None):
            raise ValueError("a percent line has rate_bp and neither fixed_amount nor per")
        if self.kind == "fixed" and (self.fixed_amount is None or self.per is None or self.rate_bp is not None):
            raise ValueError("a fixed line has fixed_amount and per and no rate_bp")
        if not self.name:
            raise ValueError("a line needs a name in at least one locale")


def parse_tax_fees(lines: Sequence[dict[str, Any]]) -> list[TaxFeeLine]:
    """Validate stored or submitted lines; raises ``msgspec.ValidationError`` (or ``ValueError``) on a bad one, and
    ``ValueError`` when two lines share a code."""
    parsed = [msgspec.convert(line, TaxFeeLine) for line in lines]
    codes = [line.code for line in parsed]
    if len(set(codes)) != len(codes):
        raise ValueError("tax and fee codes must be unique within a property")
    return parsed


@dataclass(frozen=True, slots=True)
class NightLine:
    """One night of the stay: the rate of one room and ``amount = rate × rooms``."""

    night: date
    rate: int
    amount: int


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One tax or fee as applied to this stay; ``amount`` is rounded, and added to the total unless ``included``."""

    line: TaxFeeLine
    amount: int


@dataclass(frozen=True, slots=True)
class Quote:
    """The price of a stay: ``nights``, ``subtotal`` (sum of night amounts), ``charges`` and ``total`` (subtotal +
    added charges), all in ``currency`` minor units."""

    currency: str
    rooms: int
    nights: tuple[NightLine, ...]
    subtotal: int
    charges: tuple[ChargeLine, ...]
    total: int

    def snapshot(self) -> dict[str, Any]:
        """The JSON form kept on a reservation (``Reservation.price``): what the guest accepted, never recomputed."""
        return {
            "currency": self.currency,
            "rooms": self.rooms,
            "nights": [{"date": n.night.isoformat(), "rate": n.rate, "amount": n.amount} for n in self.nights],
            "subtotal": self.subtotal,
            "taxes_and_fees": [
                {**msgspec.to_builtins(c.line), "included": c.line.included, "amount": c.amount} for c in self.charges
            ],
            "total": self.total,
        }


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def charge(line: TaxFeeLine, subtotal: int, *, nights: int, rooms: int, guests: int) -> int:
    """The rounded amount of ``line`` for a stay of ``nights`` nights, ``rooms`` rooms and ``guests`` guests whose
    room subtotal is ``subtotal``."""
    if line.kind == "percent":
        rate = Decimal(line.rate_bp or 0)
        if line.included:
            return _round(Decimal(subtotal) * rate / (Decimal(MAX_RATE_BP) + rate))
        return _round(Decimal(subtotal) * rate / Decimal(MAX_RATE_BP))
    units = {"stay": 1, "night": nights, "room_night": nights * rooms, "guest_night": nights * guests}[
        line.per or "stay"
    ]
    return (line.fixed_amount or 0) * units


def quote(
    rates: Sequence[tuple[date, int]],
    *,
    rooms: int,
    adults: int,
    children: int,
    lines: Sequence[TaxFeeLine],
    currency: str,
) -> Quote:
    """Price ``rooms`` rooms at ``rates`` (``(night, rate of one room)`` in night order) with the property's
    ``lines``."""
    night_lines = tuple(NightLine(night=night, rate=rate, amount=rate * rooms) for night, rate in rates)
    subtotal = sum(n.amount for n in night_lines)
    charges = tuple(
        ChargeLine(line, charge(line, subtotal, nights=len(night_lines), rooms=rooms, guests=adults + children))
        for line in lines
    )
    total = subtotal + sum(c.amount for c in charges if not c.line.included)
    return Quote(currency=currency, rooms=rooms, nights=night_lines, subtotal=subtotal, charges=charges, total=total)
