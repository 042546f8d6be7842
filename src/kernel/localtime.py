"""Vietnam's civil calendar: stay nights, market days and "today" are local dates in ``Asia/Ho_Chi_Minh`` (UTC+7,
no daylight saving time since 1975), whatever zone the client or the server runs in.

A stay's nights are the local dates ``check_in <= night < check_out``; at 17:30 UTC on 23 December it is already
24 December in Lào Cai, so a check-in on the 24th is not in the past.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from src.kernel.db import utcnow

#: The IANA zone of every local date and time of the province.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def local_now(now: datetime | None = None) -> datetime:
    """``now`` (aware; default the current time) in Vietnam's zone."""
    return (now or utcnow()).astimezone(VIETNAM)


def local_today(now: datetime | None = None) -> date:
    """Today's date in Vietnam at ``now`` (aware; default the current time)."""
    return local_now(now).date()


def nights(check_in: date, check_out: date) -> Iterator[date]:
    """The stay nights ``check_in, check_in + 1 day, ..., check_out - 1 day`` (none when ``check_out <= check_in``)."""
    day = check_in
    while day < check_out:
        yield day
        day += timedelta(days=1)
