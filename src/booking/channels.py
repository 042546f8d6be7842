"""Channel sync (issue 7): each room type's booked nights as an iCalendar feed (RFC 5545) behind a secret URL, and
the feeds of other channels (Booking.com, Airbnb style) imported as blocked nights.

Export (``export_calendar``)
    One ``VEVENT`` per reservation that occupies the room type (``held`` and not lapsed, ``confirmed``,
    ``checked_in``), all-day dates (``DTSTART;VALUE=DATE`` = check-in, ``DTEND;VALUE=DATE`` = check-out, so the
    event covers the nights ``check_in <= night < check_out``), ``SUMMARY:Reserved`` and nothing about the guest;
    plus one ``VEVENT`` ``Not available`` per run of consecutive stop-sell nights. Nights blocked by imported
    calendars are **not** exported: a channel would receive its own and the other channels' bookings back, and
    two channels importing each other would keep a night blocked after its booking was cancelled.

Import (``parse_feed``, ``apply_import``, ``sync_calendar``)
    A feed is fetched (conditional on its ``ETag``/``Last-Modified``, RFC 9110 §13.1), parsed into the set of
    local nights it marks as taken, and that set **replaces** the calendar's ``external_block`` rows in one
    transaction, ``inventory_night.blocked`` following with one conditional ``UPDATE`` per changed night. The same
    feed imported again changes nothing. A feed that cannot be fetched or parsed changes nothing either: the
    previous blocks stay (safer than unblocking nights another channel has sold) and the calendar records the error.

Dates are local dates in Asia/Ho_Chi_Minh (``src/kernel/localtime.py``): an event given in date-times (``DTSTART``
``20261210T070000Z``) is taken on its Vietnamese dates.

Lock order (STACK-NOTES.md "Concurrency"; ``src/booking/inventory.py``): the channel calendar's row first (a
no-op conditional ``UPDATE``, so two imports of one calendar run one after the other and never count a night
twice), then inventory rows by ``(room_type_id, night)`` ascending.
"""

import asyncio
import hashlib
import ipaddress
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from uuid import UUID

import httpx
from icalendar import Calendar, Event
from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.errors import CalendarNotFound, ChannelCalendarExists, FeedUnavailable, FeedUrlRefused, InvalidFeed
from src.booking.models import (
    ChannelCalendar,
    ExternalBlock,
    InventoryNight,
    Property,
    Reservation,
    ReservationStatus,
    RoomType,
)
from src.kernel.auth.guards import ensure_owned
from src.kernel.auth.identity import Identity
from src.kernel.db import unit_of_work, utcnow
from src.kernel.errors import DomainError, NotFound
from src.kernel.localtime import VIETNAM, local_today
from src.kernel.localtime import nights as stay_nights

#: ``PRODID`` of the exported calendars (RFC 5545 §3.7.3).
PRODID = "-//Lao Cai Travel//Channel sync//EN"
#: Domain part of the exported ``UID``s (RFC 5545 §3.8.4.7: globally unique, stable across exports).
UID_DOMAIN = "laocai.travel"
#: Exported and imported nights: from ``PAST_DAYS`` before today (export only) to ``FUTURE_DAYS`` after it.
PAST_DAYS = 30
FUTURE_DAYS = 500
#: Largest feed body read, bytes (a busy listing's feed for 500 days is a few tens of kilobytes).
MAX_FEED_BYTES = 2 * 1024 * 1024
#: Most nights a feed may yield (counted per event and night before merging).
MAX_FEED_NIGHTS = 5_000
#: Seconds for the whole fetch of one hop (connect, send, read) and redirects followed at most.
FETCH_TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3
USER_AGENT = "LaoCaiTravel-ChannelSync/1.0 (+https://laocai.travel)"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_inventory = InventoryNight.__table__  # type: ignore[attr-defined]
_blocks = ExternalBlock.__table__  # type: ignore[attr-defined]
_calendars = ChannelCalendar.__table__  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------------ export


def _room_type_label(property_name: str, name: dict[str, str]) -> str:
    label = name.get("vi") or name.get("en") or next(iter(name.values()), "")
    return f"{property_name} - {label}" if label else property_name


def _runs(nights: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive runs of sorted ``nights`` as ``[(first, day after last)]``."""
    runs: list[tuple[date, date]] = []
    for night in nights:
        if runs and runs[-1][1] == night:
            runs[-1] = (runs[-1][0], night + timedelta(days=1))
        else:
            runs.append((night, night + timedelta(days=1)))
    return runs


def _event(uid: str, start: date, end: date, summary: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("transp", "OPAQUE")
    return event


async def export_calendar(session: AsyncSession, secret: str, now: datetime | None = None) -> bytes:
    """The iCalendar (RFC 5545) feed of the room type whose ``ical_secret`` is ``secret``, as UTF-8 bytes.

    ``VCALENDAR`` with ``PRODID``, ``VERSION:2.0``, ``CALSCALE:GREGORIAN``, ``METHOD:PUBLISH`` and
    ``X-WR-CALNAME`` (property and room type name). Events, ordered by ``DTSTART`` then ``UID``:

    - each occupying reservation (``held`` with ``hold_expires_at > now``, ``confirmed``, ``checked_in``):
      ``UID:<reservation id>@laocai.travel``, all-day ``DTSTART`` check-in and ``DTEND`` check-out,
      ``SUMMARY:Reserved``, ``DTSTAMP`` its ``updated_at`` (UTC). No guest name, e-mail, phone or passport.
    - each run of consecutive stop-sell nights: ``UID:closed-<room type id>-<first night>@laocai.travel``,
      ``SUMMARY:Not available``, ``DTSTAMP`` the latest ``updated_at`` of the run.

    Nights blocked by imported channel calendars are left out on purpose (module docstring: echoing them back
    would hand each channel its own and the others' bookings). Only stays overlapping today (Vietnam) - 30 days to
    today + 500 days are exported. The same state gives the same bytes.

    Raises:
        CalendarNotFound: no room type has this secret, or it is inactive (404).
    """
    now = now or utcnow()
    found = (
        await session.exec(
            select(RoomType.id, RoomType.name, Property.name)
            .join(Property, col(Property.id) == col(RoomType.property_id))
            .where(col(RoomType.ical_secret) == secret, col(RoomType.is_active).is_(True))
        )
    ).first()
    if found is None or not secret:
        raise CalendarNotFound("no calendar at this address; the owner may have rotated its URL")
    room_type_id, room_name, property_name = found
    today = local_today(now)
    first, last = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)

    reservations = (
        await session.exec(
            select(
                col(Reservation.id), col(Reservation.check_in), col(Reservation.check_out), col(Reservation.updated_at)
            )
            .where(
                col(Reservation.room_type_id) == room_type_id,
                col(Reservation.check_out) > first,
                col(Reservation.check_in) <= last,
                (col(Reservation.status).in_((ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN)))
                | ((col(Reservation.status) == ReservationStatus.HELD) & (col(Reservation.hold_expires_at) > now)),
            )
            .order_by(col(Reservation.check_in), col(Reservation.id))
        )
    ).all()
    closed = (
        await session.exec(
            select(col(InventoryNight.night), col(InventoryNight.updated_at))
            .where(
                col(InventoryNight.room_type_id) == room_type_id,
                col(InventoryNight.stop_sell).is_(True),
                col(InventoryNight.night) >= first,
                col(InventoryNight.night) <= last,
            )
            .order_by(col(InventoryNight.night))
        )
    ).all()

    events: list[tuple[date, str, Event]] = []
    for reservation_id, check_in, check_out, updated_at in reservations:
        uid = f"{reservation_id}@{UID_DOMAIN}"
        events.append((check_in, uid, _event(uid, check_in, check_out, "Reserved", updated_at)))
    stamps = dict(closed)
    for start, end in _runs([night for night, _ in closed]):
        uid = f"closed-{room_type_id}-{start.isoformat()}@{UID_DOMAIN}"
        stamp = max(stamps[night] for night in stay_nights(start, end))
        events.append((start, uid, _event(uid, start, end, "Not available", stamp)))

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _room_type_label(property_name, dict(room_name)))
    for _, _, event in sorted(events, key=lambda item: (item[0], item[1])):
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def entity_tag(body: bytes) -> str:
    """A strong entity tag (RFC 9110 §8.8.3) of an exported feed: a quoted SHA-256 prefix of its bytes."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


# ------------------------------------------------------------------------------------------------------- parse


@dataclass(frozen=True, slots=True)
class ImportedNight:
    """One local night (Asia/Ho_Chi_Minh) a feed marks as taken, with the ``UID`` and ``SUMMARY`` of the first
    event covering it (``summary`` may be ``None``)."""

    night: date
    uid: str
    summary: str | None


def _local_date(value: Any) -> date:
    """The Vietnamese local date of an iCalendar ``DATE`` or ``DATE-TIME`` value (a floating date-time is taken as
    local time in Vietnam already)."""
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM).date() if value.tzinfo is not None else value.date()
    if isinstance(value, date):
        return value
    raise InvalidFeed(f"expected a date or date-time, got {type(value).__name__}")


def _event_nights(event: Any) -> tuple[date, date] | None:
    """``(first night, day after the last night)`` of a VEVENT, or ``None`` when it has no ``DTSTART``."""
    start_property = event.get("DTSTART")
    if start_property is None:
        return None
    raw_start = start_property.dt
    start = _local_date(raw_start)
    end_property = event.get("DTEND")
    if end_property is not None:
        end = _local_date(end_property.dt)
    elif (duration := event.get("DURATION")) is not None and isinstance(duration.dt, timedelta):
        end = _local_date(raw_start + duration.dt)
    else:
        end = start + timedelta(days=1)  # RFC 5545 §3.6.1: an all-day event without DTEND lasts one day
    # A same-day event in date-times (14:00 to 18:00) still takes the night it is on.
    return start, max(end, start + timedelta(days=1))


def parse_feed(body: bytes, today: date | None = None) -> list[ImportedNight]:
    """The nights an iCalendar feed (RFC 5545) marks as taken, sorted by night, one entry per night.

    Each ``VEVENT`` covers the local nights ``DTSTART <= night < DTEND`` (``DATE`` or ``DATE-TIME`` values, the
    latter converted to Asia/Ho_Chi_Minh; without ``DTEND``, ``DTSTART + DURATION`` or one night). Events with
    ``STATUS:CANCELLED``, or without ``DTSTART``, are skipped; nights before ``today`` (Vietnam) or more than 500
    days after it are ignored. When several events cover a night, the first one in the feed names it.

    Raises:
        InvalidFeed: larger than 2 MB, not one ``VCALENDAR``, an unreadable date, or more than 5,000 nights (422).
    """
    if len(body) > MAX_FEED_BYTES:
        raise InvalidFeed(f"the feed is larger than {MAX_FEED_BYTES} bytes")
    today = today or local_today()
    last = today + timedelta(days=FUTURE_DAYS)
    try:
        calendar = Calendar.from_ical(body)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidFeed(f"not an iCalendar feed: {str(exc)[:200]}") from exc
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise InvalidFeed("not an iCalendar feed: no VCALENDAR")
    found: dict[date, ImportedNight] = {}
    counted = 0
    for event in calendar.walk("VEVENT"):
        try:
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            span = _event_nights(event)
        except (ValueError, TypeError, OverflowError) as exc:  # icalendar's BrokenCalendarProperty is a ValueError
            raise InvalidFeed(f"an event's dates cannot be read: {str(exc)[:200]}") from exc
        if span is None:
            continue
        uid = str(event.get("UID") or f"no-uid-{span[0].isoformat()}")[:500]
        summary_value = event.get("SUMMARY")
        summary = str(summary_value)[:300] if summary_value is not None else None
        for night in stay_nights(max(span[0], today), min(span[1], last + timedelta(days=1))):
            counted += 1
            if counted > MAX_FEED_NIGHTS:
                raise InvalidFeed(f"the feed marks more than {MAX_FEED_NIGHTS} nights")
            found.setdefault(night, ImportedNight(night=night, uid=uid, summary=summary))
    return [found[night] for night in sorted(found)]


# ------------------------------------------------------------------------------------------------------- apply


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import changed: nights ``added``, ``removed`` and ``unchanged`` (counts), and the nights of the
    feed in ``conflicts``: over-committed after the import (``allotment - sold < blocked``: typically another
    channel sold a room we had already sold). Conflicts are recorded and reported, never refused, and never
    oversell on our side: ``sold <= allotment`` holds whatever channels send."""

    added: int = 0
    removed: int = 0
    unchanged: int = 0
    conflicts: tuple[date, ...] = ()


async def lock_calendar(session: AsyncSession, calendar_id: UUID) -> UUID | None:
    """Take the calendar's row lock (a no-op conditional ``UPDATE``: PostgreSQL row lock; SQLite's writer lock is
    already held since ``BEGIN IMMEDIATE``) and return its room type id, or ``None`` when it does not exist. Every
    writer of a calendar's blocks calls it first (lock order: calendar, then inventory nights)."""
    statement = (
        update(_calendars)
        .where(_calendars.c.id == calendar_id)
        .values(room_type_id=_calendars.c.room_type_id)
        .returning(_calendars.c.room_type_id)
    )
    row = (await session.exec(statement)).first()
    return None if row is None else UUID(str(row[0]))


async def _step_blocked(session: AsyncSession, room_type_id: UUID, night: date, delta: int, now: datetime) -> Any:
    """``blocked += delta`` on one night (never below zero); the row after it, or ``None`` when there is no row
    (or nothing to remove)."""
    conditions = [_inventory.c.room_type_id == room_type_id, _inventory.c.night == night]
    if delta < 0:
        conditions.append(_inventory.c.blocked >= -delta)
    statement = (
        update(_inventory)
        .where(*conditions)
        .values(blocked=_inventory.c.blocked + delta, updated_at=now)
        .returning(_inventory.c.allotment, _inventory.c.sold, _inventory.c.blocked)
    )
    return (await session.exec(statement)).first()


async def apply_import(
    session: AsyncSession, calendar_id: UUID, nights: Iterable[ImportedNight], now: datetime
) -> ImportReport:
    """Make ``nights`` the calendar's ``external_block`` rows, in the caller's transaction, and keep
    ``inventory_night.blocked`` in step: each added night ``+1``, each removed night ``-1`` (conditional
    ``UPDATE``s in night order, after the calendar's row lock). Importing the same nights again changes nothing.

    A night without an inventory row is not for sale anyway: its block is recorded but no counter moves. Note for
    the owner calendar (issue 8): when such a night is opened later, its row must start with ``blocked`` = the
    number of ``external_block`` rows of that room type and night, or the counter and the blocks disagree.

    Raises:
        CalendarNotFound: the calendar no longer exists (404).
    """
    room_type_id = await lock_calendar(session, calendar_id)
    if room_type_id is None:
        raise CalendarNotFound(f"channel calendar {calendar_id} does not exist")
    wanted = {item.night: item for item in nights}
    stored = {
        block.night: block
        for block in (await session.exec(select(ExternalBlock).where(col(ExternalBlock.calendar_id) == calendar_id)))
    }
    removed = sorted(set(stored) - set(wanted))
    added = sorted(set(wanted) - set(stored))
    kept = sorted(set(wanted) & set(stored))
    conflicts: set[date] = set()
    added_set = set(added)
    for night in sorted([*removed, *added]):
        if night in added_set:
            row = await _step_blocked(session, room_type_id, night, +1, now)
            if row is not None and row.allotment - row.sold < row.blocked:
                conflicts.add(night)
        else:
            await _step_blocked(session, room_type_id, night, -1, now)
    if removed:
        await session.exec(delete(_blocks).where(_blocks.c.calendar_id == calendar_id, _blocks.c.night.in_(removed)))
    for night in added:
        item = wanted[night]
        session.add(
            ExternalBlock(
                calendar_id=calendar_id, night=night, room_type_id=room_type_id, uid=item.uid, summary=item.summary
            )
        )
    for night in kept:  # same night, maybe another event now: keep the label current (no counter moves)
        block, item = stored[night], wanted[night]
        if (block.uid, block.summary) != (item.uid, item.summary):
            block.uid, block.summary = item.uid, item.summary
            session.add(block)
    if kept:
        over = await session.exec(
            select(col(InventoryNight.night)).where(
                col(InventoryNight.room_type_id) == room_type_id,
                col(InventoryNight.night).in_(kept),
                col(InventoryNight.allotment) - col(InventoryNight.sold) < col(InventoryNight.blocked),
            )
        )
        conflicts.update(over.all())
    await session.flush()
    return ImportReport(added=len(added), removed=len(removed), unchanged=len(kept), conflicts=tuple(sorted(conflicts)))


async def remove_calendar(session: AsyncSession, calendar_id: UUID, now: datetime) -> int:
    """Delete a channel calendar with its blocks, giving each blocked night back (``blocked - 1``, night order)
    in the caller's transaction; the number of nights unblocked. ``CalendarNotFound`` when it does not exist."""
    report = await apply_import(session, calendar_id, [], now)
    await session.exec(delete(_calendars).where(_calendars.c.id == calendar_id))
    return report.removed


async def blocked_nights(session: AsyncSession, calendar_ids: Sequence[UUID]) -> dict[UUID, int]:
    """How many nights each calendar blocks now (calendars without blocks are absent)."""
    if not calendar_ids:
        return {}
    rows = await session.exec(
        select(col(ExternalBlock.calendar_id), func.count())
        .where(col(ExternalBlock.calendar_id).in_(calendar_ids))
        .group_by(col(ExternalBlock.calendar_id))
    )
    return {calendar_id: int(count) for calendar_id, count in rows.all()}


# ------------------------------------------------------------------------------------------------------- fetch


def check_feed_url(url: str, *, allow_private_hosts: bool) -> str:
    """``url`` if it may be imported: ``http``/``https``, a host, no user info, at most 2,000 characters, and no
    literal private, loopback, link-local or reserved address unless ``allow_private_hosts``. Host names are
    resolved and checked at fetch time (``fetch_feed``).

    Raises:
        FeedUrlRefused: otherwise (422).
    """
    if len(url) > 2000:
        raise FeedUrlRefused("the URL is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FeedUrlRefused(f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedUrlRefused("only http:// and https:// URLs with a host can be imported")
    if parts.username is not None or parts.password is not None:
        raise FeedUrlRefused("URLs with user names or passwords are not accepted")
    if port == 0:
        raise FeedUrlRefused("port 0 is not a port")
    if not allow_private_hosts:
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            address = None
        if address is not None and not _public(address):
            raise FeedUrlRefused(f"{parts.hostname} is not a public address")
    return url


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def _check_host(url: str, allow_private_hosts: bool) -> None:
    """Refuse ``url`` when its host resolves to any non-public address (SSRF guard). A host that resolves to a
    public address now and to a private one at connect time (DNS rebinding) is not caught: the window is one
    resolution, and the response is only ever parsed as a calendar, never shown."""
    check_feed_url(url, allow_private_hosts=allow_private_hosts)
    if allow_private_hosts:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FeedUnavailable(f"{host} could not be resolved: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not _public(address):
            raise FeedUrlRefused(f"{host} resolves to {address}, which is not a public address")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched feed: ``body`` (``None`` for 304 Not Modified) and the validators to send next time."""

    body: bytes | None
    etag: str | None
    last_modified: str | None


def channel_http_client() -> httpx.AsyncClient:
    """The HTTP client of feed fetches: 10 s timeout, no automatic redirects (``fetch_feed`` follows and checks
    each hop), no proxy or credentials from the environment."""
    return httpx.AsyncClient(
        timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}
    )


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allow_private_hosts: bool = False,
) -> Fetched:
    """GET ``url`` with ``If-None-Match``/``If-Modified-Since`` (RFC 9110 §13.1) from the stored validators,
    following at most 3 redirects, each hop checked by the SSRF guard; the body is read up to 2 MB.

    Raises:
        FeedUrlRefused: a hop is not a public http(s) URL, or too many redirects (422).
        FeedUnavailable: a network error, a timeout, or a status other than 200/304 (502).
        InvalidFeed: the body is larger than 2 MB (422).
    """
    headers = {"Accept": "text/calendar, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _hop in range(MAX_REDIRECTS + 1):
        await _check_host(url, allow_private_hosts)
        try:
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code == 304:
                    return Fetched(body=None, etag=etag, last_modified=last_modified)
                if response.status_code != 200:
                    raise FeedUnavailable(f"the channel answered HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
                    raise InvalidFeed(f"the feed is larger than {MAX_FEED_BYTES} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        raise InvalidFeed(f"the feed is larger than {MAX_FEED_BYTES} bytes")
                    chunks.append(chunk)
                return Fetched(
                    body=b"".join(chunks),
                    etag=(response.headers.get("etag") or "")[:200] or None,
                    last_modified=(response.headers.get("last-modified") or "")[:100] or None,
                )
        except httpx.InvalidURL as exc:
            raise FeedUrlRefused(f"not a URL: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"the channel could not be reached: {type(exc).__name__} {exc}"[:300]) from exc
    raise FeedUrlRefused(f"more than {MAX_REDIRECTS} redirects")


# -------------------------------------------------------------------------------------------------------- sync


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """How one sync ended: ``status`` ``ok``, ``not_modified`` or ``error`` (also stored on the calendar as
    ``last_status``), the ``report`` of what changed (empty unless ``ok``), and the ``error`` when it failed."""

    status: str
    report: ImportReport
    error: DomainError | None = None


async def _record(engine: AsyncEngine, calendar_id: UUID, now: datetime, status: str, error: str | None) -> None:
    async with unit_of_work(engine) as session:
        await session.exec(
            update(_calendars)
            .where(_calendars.c.id == calendar_id)
            .values(last_synced_at=now, last_status=status, last_error=error)
        )


async def sync_calendar(
    engine: AsyncEngine,
    calendar_id: UUID,
    client: httpx.AsyncClient,
    now: datetime | None = None,
    *,
    allow_private_hosts: bool = False,
    identity: Identity | None = None,
) -> SyncOutcome:
    """Fetch, parse and apply one channel calendar, each database step in its own unit of work (no transaction is
    open while the channel's server is awaited, so SQLite's writer lock is never held across the network).

    Stores ``last_synced_at``, ``last_status`` (``ok`` | ``not_modified`` | ``error``), ``last_error`` (``code:
    detail``, at most 500 characters, ``None`` unless an error) and, on ``ok``, the new ``etag``/``last_modified``.
    A 304 or an error leaves the blocks as they were. With ``identity`` (the owner's sync-now), a calendar of
    someone else's property is ``NotFound`` (404) exactly like a missing one.

    Raises:
        CalendarNotFound: the calendar does not exist (404; ``NotFound`` with ``identity``). Feed and network errors are
        not raised: they are stored and returned in the outcome.
    """
    now = now or utcnow()
    async with unit_of_work(engine) as session:
        statement = (
            select(ChannelCalendar, Property.owner_id)
            .join(RoomType, col(RoomType.id) == col(ChannelCalendar.room_type_id))
            .join(Property, col(Property.id) == col(RoomType.property_id))
            .where(col(ChannelCalendar.id) == calendar_id)
        )
        found = (await session.exec(statement)).first()
    if identity is not None:
        ensure_owned(None if found is None else found[1], identity, CALENDAR_NOT_FOUND)
    if found is None:
        raise CalendarNotFound(f"channel calendar {calendar_id} does not exist")
    calendar = found[0]
    try:
        fetched = await fetch_feed(
            client,
            calendar.url,
            etag=calendar.etag,
            last_modified=calendar.last_modified,
            allow_private_hosts=allow_private_hosts,
        )
        if fetched.body is None:
            await _record(engine, calendar_id, now, "not_modified", None)
            return SyncOutcome(status="not_modified", report=ImportReport())
        nights = parse_feed(fetched.body, local_today(now))
    except (InvalidFeed, FeedUrlRefused, FeedUnavailable) as exc:
        await _record(engine, calendar_id, now, "error", f"{exc.code}: {exc.detail}"[:500])
        return SyncOutcome(status="error", report=ImportReport(), error=exc)
    async with unit_of_work(engine) as session:
        report = await apply_import(session, calendar_id, nights, now)
        await session.exec(
            update(_calendars)
            .where(_calendars.c.id == calendar_id)
            .values(
                last_synced_at=now,
                last_status="ok",
                last_error=None,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
            )
        )
    return SyncOutcome(status="ok", report=report)


# ------------------------------------------------------------------------------------------------- owner rules

#: Detail of every "not yours or missing" answer, identical for both cases (``ensure_owned``).
ROOM_TYPE_NOT_FOUND = "no room type with this id among your properties"
CALENDAR_NOT_FOUND = "no channel calendar with this id among your room types"


async def owned_room_type(session: AsyncSession, room_type_id: UUID, identity: Identity) -> RoomType:
    """The room type if it belongs to a property of the caller; ``NotFound`` (404) for a missing one and for
    someone else's alike (``ensure_owned``)."""
    found = (
        await session.exec(
            select(RoomType, Property.owner_id)
            .join(Property, col(Property.id) == col(RoomType.property_id))
            .where(col(RoomType.id) == room_type_id)
        )
    ).first()
    ensure_owned(None if found is None else found[1], identity, ROOM_TYPE_NOT_FOUND)
    assert found is not None
    return found[0]


async def owned_calendar(session: AsyncSession, calendar_id: UUID, identity: Identity) -> ChannelCalendar:
    """The channel calendar if its room type belongs to the caller; ``NotFound`` (404) otherwise."""
    found = (
        await session.exec(
            select(ChannelCalendar, Property.owner_id)
            .join(RoomType, col(RoomType.id) == col(ChannelCalendar.room_type_id))
            .join(Property, col(Property.id) == col(RoomType.property_id))
            .where(col(ChannelCalendar.id) == calendar_id)
        )
    ).first()
    ensure_owned(None if found is None else found[1], identity, CALENDAR_NOT_FOUND)
    assert found is not None
    return found[0]


def new_secret() -> str:
    """A fresh export secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


async def rotate_secret(session: AsyncSession, room_type_id: UUID, identity: Identity, now: datetime) -> str:
    """Give the owner's room type a new export secret (the old URL answers 404 from the commit on); the secret."""
    room_type = await owned_room_type(session, room_type_id, identity)
    room_type.ical_secret = new_secret()
    room_type.updated_at = now
    session.add(room_type)
    await session.flush()
    return room_type.ical_secret


async def list_calendars(session: AsyncSession, room_type_id: UUID, identity: Identity) -> list[ChannelCalendar]:
    """The channel calendars the owner's room type imports, oldest first."""
    await owned_room_type(session, room_type_id, identity)
    rows = await session.exec(
        select(ChannelCalendar)
        .where(col(ChannelCalendar.room_type_id) == room_type_id)
        .order_by(col(ChannelCalendar.created_at), col(ChannelCalendar.id))
    )
    return list(rows.all())


async def add_calendar(
    session: AsyncSession, room_type_id: UUID, identity: Identity, name: str, url: str, *, allow_private_hosts: bool
) -> ChannelCalendar:
    """Start importing the feed at ``url`` (checked by ``check_feed_url``) into the owner's room type; nothing is
    fetched here (the next periodic sync, or ``POST .../sync``, does).

    Raises:
        NotFound: not the owner's room type (404). FeedUrlRefused: the URL (422).
        ChannelCalendarExists: the room type already imports this URL (409).
    """
    await owned_room_type(session, room_type_id, identity)
    url = check_feed_url(url.strip(), allow_private_hosts=allow_private_hosts)
    exists = (
        await session.exec(
            select(ChannelCalendar.id).where(
                col(ChannelCalendar.room_type_id) == room_type_id, col(ChannelCalendar.url) == url
            )
        )
    ).first()
    if exists is not None:
        raise ChannelCalendarExists("this room type already imports this URL", calendar_id=str(exists))
    calendar = ChannelCalendar(room_type_id=room_type_id, name=name.strip(), url=url)
    session.add(calendar)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same URL added by a concurrent request
        raise ChannelCalendarExists("this room type already imports this URL") from exc
    return calendar


async def delete_calendar(session: AsyncSession, calendar_id: UUID, identity: Identity, now: datetime) -> int:
    """Stop importing the owner's channel calendar: its blocks go, each night's ``blocked`` is given back, in the
    caller's transaction; the number of nights unblocked. ``NotFound`` (404) when not the owner's."""
    await owned_calendar(session, calendar_id, identity)
    try:
        return await remove_calendar(session, calendar_id, now)
    except CalendarNotFound as exc:  # deleted by a concurrent request since the ownership check
        raise NotFound(CALENDAR_NOT_FOUND) from exc


async def describe_calendars(
    session: AsyncSession, calendars: Sequence[ChannelCalendar]
) -> list[tuple[ChannelCalendar, int]]:
    """Each calendar with the number of nights it blocks now."""
    counts = await blocked_nights(session, [calendar.id for calendar in calendars])
    return [(calendar, counts.get(calendar.id, 0)) for calendar in calendars]


async def sync_owned_calendar(
    engine: AsyncEngine,
    calendar_id: UUID,
    identity: Identity,
    client: httpx.AsyncClient,
    *,
    allow_private_hosts: bool,
    now: datetime | None = None,
) -> tuple[SyncOutcome, ChannelCalendar, int]:
    """The owner's "sync now": ``sync_calendar`` for the caller's calendar, then the calendar as it now stands
    with its blocked-night count. The outcome is stored before any error is raised.

    Raises:
        NotFound: not the caller's calendar (404). InvalidFeed, FeedUrlRefused (422), FeedUnavailable (502): the
        sync failed; ``last_status`` is ``error`` and the blocks are unchanged.
    """
    outcome = await sync_calendar(
        engine, calendar_id, client, now, allow_private_hosts=allow_private_hosts, identity=identity
    )
    if outcome.error is not None:
        raise outcome.error
    async with unit_of_work(engine) as session:
        calendar = await owned_calendar(session, calendar_id, identity)
        [(calendar, blocked)] = await describe_calendars(session, [calendar])
    return outcome, calendar, blocked


__all__ = [
    "FUTURE_DAYS",
    "MAX_FEED_BYTES",
    "MAX_FEED_NIGHTS",
    "PAST_DAYS",
    "Fetched",
    "ImportReport",
    "ImportedNight",
    "SyncOutcome",
    "add_calendar",
    "apply_import",
    "blocked_nights",
    "channel_http_client",
    "check_feed_url",
    "delete_calendar",
    "describe_calendars",
    "entity_tag",
    "export_calendar",
    "fetch_feed",
    "list_calendars",
    "lock_calendar",
    "new_secret",
    "owned_calendar",
    "owned_room_type",
    "parse_feed",
    "remove_calendar",
    "rotate_secret",
    "sync_calendar",
    "sync_owned_calendar",
]
