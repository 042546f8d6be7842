"""Stay dates as the API takes them: ``YYYY-MM-DD`` local dates in Asia/Ho_Chi_Minh (API.md, "Stay dates").

A stay is ``check_in`` (the first night) to ``check_out`` (the morning of departure); ``nights = check_out -
check_in`` must be 1 to ``MAX_NIGHTS``. Check-in may not be in the past as judged by Vietnam's calendar, whatever
the client's zone: at 17:30 UTC on 23 December it is already the 24th in Lào Cai, so a check-in on the 24th is
accepted and one on the 23rd is not. A timestamp, a week date or any other form where a date belongs is a 422.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from src.kernel.errors import InvalidParameter
from src.kernel.localtime import local_today

MIN_NIGHTS = 1
MAX_NIGHTS = 30
#: How far ahead a stay may start (days after today in Vietnam): calendars are not opened further than this.
MAX_DAYS_AHEAD = 500

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True, slots=True)
class Stay:
    """A validated stay: local dates, ``nights`` = ``(check_out - check_in).days``."""

    check_in: date
    check_out: date

    @property
    def nights(self) -> int:
        """Nights of the stay, ``(check_out - check_in).days``."""
        return (self.check_out - self.check_in).days


def parse_local_date(value: str, field: str, *, source: str = "query") -> date:
    """``value`` as a calendar date in ``YYYY-MM-DD`` form only (RFC 3339 ``full-date``); ``InvalidParameter`` (422)
    for a timestamp (``2026-12-24T00:00:00Z``), another form or an impossible date (``2026-02-30``)."""
    if not isinstance(value, str) or not _DATE.match(value):
        raise InvalidParameter.of_field(
            field, "must be a local date YYYY-MM-DD (Asia/Ho_Chi_Minh), not a timestamp", source
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter.of_field(field, "is not a calendar date", source) from None


def validate_stay(
    check_in: date, check_out: date, *, now: datetime | None = None, source: str = "query", allow_past: bool = False
) -> Stay:
    """A ``Stay`` when the dates make one; ``InvalidParameter`` (422) naming the field otherwise: check-out not
    after check-in, more than ``MAX_NIGHTS`` nights, check-in before today in Vietnam (unless ``allow_past``, for
    owners' records) or more than ``MAX_DAYS_AHEAD`` days ahead."""
    nights = (check_out - check_in).days
    if nights < MIN_NIGHTS:
        raise InvalidParameter.of_field("check_out", "must be after check_in (at least 1 night)", source)
    if nights > MAX_NIGHTS:
        raise InvalidParameter.of_field("check_out", f"a stay is at most {MAX_NIGHTS} nights", source)
    today = local_today(now)
    if not allow_past and check_in < today:
        raise InvalidParameter.of_field("check_in", f"is in the past (today is {today.isoformat()} in Vietnam)", source)
    if check_in > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidParameter.of_field("check_in", f"is more than {MAX_DAYS_AHEAD} days ahead", source)
    return Stay(check_in=check_in, check_out=check_out)
