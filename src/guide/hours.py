"""Opening hours of destinations: OpenStreetMap ``opening_hours`` expressions, evaluated in Asia/Ho_Chi_Minh.

Syntax: https://wiki.openstreetmap.org/wiki/Key:opening_hours/specification, parsed and evaluated by the maintained
``opening-hours-py`` (bindings of the Rust ``opening-hours`` crate). Times are local wall-clock times of Vietnam
(UTC+7, no DST): an instant is converted to local time before evaluation, and results come back with ``+07:00``.

**Public holidays (``PH``) come from the shipped holiday file** (``data/calendar/vn_public_holidays_2025_2027.csv``,
data/SOURCES.md §6), not from the library's own calendar: with ``country="VN"`` the library (2.1.4) still called
2026-02-17, Tết, an ordinary Tuesday. So a rule whose selector is ``PH`` (``PH off``, ``PH 08:00-12:00``) is
rewritten before parsing into the same rule over the shipped dates, as year-qualified month-day ranges
(``2026 Feb 16-Feb 20,2026 Apr 26-Apr 27,... off``). Limits, said plainly:

- ``PH`` must be a rule's whole selector; combined forms (``Mo-Fr,PH 10:00-12:00``, ``PH Mo``) are refused (422)
  with the advice to write the PH rule on its own. ``SH`` (school holidays) is refused: no school calendar ships.
- Dates outside the file (before 2025, after 2027) are not known holidays: ``PH`` matches nothing there, and
  ``HOLIDAYS_KNOWN`` says which years are covered.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import opening_hours
from opening_hours import OpeningHours

from src.kernel.config import PROJECT_ROOT
from src.kernel.errors import InvalidParameter
from src.kernel.localtime import VIETNAM

#: What the parser raises for a bad expression (``opening_hours.ParserError``, absent from its type stubs).
_PARSE_ERRORS: tuple[type[Exception], ...] = (
    SyntaxError,
    ValueError,
    getattr(opening_hours, "ParserError", SyntaxError),
)
HOLIDAYS_FILE = PROJECT_ROOT / "data" / "calendar" / "vn_public_holidays_2025_2027.csv"
MAX_EXPRESSION = 500
_PH = re.compile(r"\bPH\b")
_SH = re.compile(r"\bSH\b")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Holiday:
    """One official day off: its local date and its names (English, Vietnamese) as the file gives them."""

    day: date
    name_en: str
    name_vi: str


@cache
def public_holidays(path: Path = HOLIDAYS_FILE) -> tuple[Holiday, ...]:
    """The shipped public holidays, by date (read once)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [Holiday(date.fromisoformat(r["date"]), r["name_en"], r["name_vi"]) for r in csv.DictReader(handle)]
    return tuple(sorted(rows, key=lambda h: h.day))


def holiday_years() -> tuple[int, int]:
    """The first and last year the holiday file covers."""
    days = [h.day for h in public_holidays()]
    return min(days).year, max(days).year


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@cache
def holiday_selector() -> str:
    """The shipped holidays as an ``opening_hours`` wide-range selector (``2026 Feb 16-Feb 20,2026 Apr 27``)."""
    parts = []
    for first, last in _runs(h.day for h in public_holidays()):
        start = f"{first.year} {_MONTHS[first.month - 1]} {first.day:02d}"
        if first == last:
            parts.append(start)
        elif first.year == last.year:
            parts.append(f"{start}-{_MONTHS[last.month - 1]} {last.day:02d}")
        else:
            parts.append(f"{start}-{last.year} {_MONTHS[last.month - 1]} {last.day:02d}")
    return ",".join(parts)


def _invalid(message: str) -> InvalidParameter:
    return InvalidParameter(
        f"opening_hours: {message}", errors=[{"field": "opening_hours", "source": "body", "message": message}]
    )


def with_shipped_holidays(expression: str) -> str:
    """``expression`` with every ``PH`` rule selector replaced by the shipped holiday dates (module docstring);
    ``InvalidParameter`` (422) for ``PH`` inside a combined selector or for ``SH``."""
    if _SH.search(expression):
        raise _invalid("SH (school holidays) is not supported: no school calendar is shipped")
    rules = []
    for rule in re.split(r"(;|\|\|)", expression):
        stripped = rule.strip()
        if stripped in (";", "||"):
            rules.append(stripped + " ")
            continue
        if _PH.search(stripped):
            head, _, rest = stripped.partition(" ")
            if head != "PH" or _PH.search(rest):
                raise _invalid("write public holidays as a rule of their own (e.g. '...; PH off')")
            stripped = f"{holiday_selector()} {rest}".strip()
        rules.append(stripped)
    return "".join(rules)


def validate(expression: str) -> str:
    """A cleaned ``opening_hours`` expression (at most 500 characters, parsed by the library); ``InvalidParameter``
    (422) with the parser's message otherwise."""
    expression = " ".join(expression.split())
    if not expression or len(expression) > MAX_EXPRESSION:
        raise _invalid(f"1 to {MAX_EXPRESSION} characters of OpenStreetMap opening_hours syntax")
    _parsed(expression)
    return expression


@cache
def _parsed(expression: str) -> OpeningHours:
    try:
        return OpeningHours(with_shipped_holidays(expression))
    except _PARSE_ERRORS as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot be parsed"
        raise _invalid(f"not OpenStreetMap opening_hours syntax ({first})") from exc


@dataclass(frozen=True)
class HoursState:
    """The state of an expression at an instant: ``open_now`` (``None`` when the expression says unknown),
    ``opens_at``/``closes_at`` (the next change to open / to closed, aware ``+07:00``; ``None`` when none comes
    within the library's horizon), and the expression's comment at that time (``""`` when none)."""

    open_now: bool | None
    opens_at: datetime | None
    closes_at: datetime | None
    comment: str


def hours_state(expression: str, at: datetime) -> HoursState:
    """Evaluate ``expression`` at ``at`` (aware) in Vietnam's local time; ``InvalidParameter`` (422) when invalid."""
    oh = _parsed(expression)
    local = at.astimezone(VIETNAM).replace(tzinfo=None)
    _state, comment = oh.state(local)
    open_now = None if oh.is_unknown(local) else oh.is_open(local)
    change = oh.next_change(local)
    aware = change.replace(tzinfo=VIETNAM) if change is not None else None
    opens_at = aware if open_now is False and change is not None and oh.is_open(change) else None
    closes_at = aware if open_now is True else None
    return HoursState(open_now=open_now, opens_at=opens_at, closes_at=closes_at, comment=comment or "")
