"""Money at the edge: integer minor units with an ISO 4217 code, plus a ``display`` string formatted by Babel (CLDR).

Amounts are always integers in the currency's minor unit as ISO 4217 defines it (``VND`` has none: 1,850,000 ₫ is
``1850000``; ``USD`` has two: $18.50 is ``1850``). Arithmetic happens on those integers only; ``display`` is made
for the negotiated locale at the last moment and never parsed back (API.md, "Money").
"""

from decimal import Decimal
from functools import cache, lru_cache

import msgspec
from babel.numbers import format_currency, get_currency_precision

from src.kernel.i18n import catalog_dir_name

#: The currency every rate and price of the province is set in (ISO 4217, numeric 704).
VND = "VND"


class Money(msgspec.Struct, frozen=True):
    """``{"amount": 1850000, "currency": "VND", "display": "1.850.000 ₫"}``: ``amount`` in minor units."""

    amount: int
    currency: str
    display: str


def minor_unit_digits(currency: str) -> int:
    """Digits after the decimal point of ``currency``'s minor unit per CLDR/ISO 4217 (``VND`` 0, ``USD`` 2)."""
    return int(get_currency_precision(currency))


@lru_cache(maxsize=16_384)
def format_money(amount: int, currency: str, locale: str) -> str:
    """``amount`` (minor units of ``currency``) as the reader of ``locale`` (a served BCP 47 tag) writes it:
    ``format_money(1850000, "VND", "vi") == "1.850.000 ₫"``, ``"₫1,850,000"`` in ``en``."""
    value = Decimal(amount).scaleb(-_digits(currency))
    return str(format_currency(value, currency, locale=_babel_locale(locale), currency_digits=True))


@cache
def _digits(currency: str) -> int:
    return minor_unit_digits(currency)


@cache
def _babel_locale(locale: str) -> str:
    return catalog_dir_name(locale)


@lru_cache(maxsize=16_384)
def money(amount: int, currency: str, locale: str) -> Money:
    """A ``Money`` of ``amount`` minor units, displayed for ``locale`` (memoised: a pure function of its arguments,
    and a price list repeats the same few rates; Babel's ``format_currency`` costs ~90 µs a call, issue 7 profile)."""
    return Money(amount=amount, currency=currency, display=format_money(amount, currency, locale))
