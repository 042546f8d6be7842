"""Channel sync (issue 7) on both engines: the iCal export parses with ``icalendar`` and carries no guest data; a
feed served by a real loopback HTTP server re-imports as the same blocked nights; re-imports change nothing; a
dropped booking unblocks; conflicts are reported, never oversold; bad feeds and private hosts are refused."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from icalendar import Calendar
from litestar import Litestar
from sqlalchemy import update
from sqlmodel import col, select

from src.app import job_registry
from src.booking import channels, inventory
from src.booking import jobs as booking_jobs
from src.booking.errors import InvalidFeed
from src.booking.models import ChannelCalendar, ExternalBlock, InventoryNight, Reservation, ReservationStatus, RoomType
from src.kernel.db import create_engine, unit_of_work, utcnow
from src.kernel.jobs import JobContext, JobRegistry, PendingJob
from src.kernel.jobs import bind as bind_jobs
from src.kernel.localtime import local_today
from src.kernel.localtime import nights as stay_nights
from tests.booking.support import (
    FeedServer,
    future,
    make_owner,
    make_property,
    make_room_type,
    open_calendar,
    serve_feed,
)
from tests.kernel.auth_support import bearer, login

GUEST: dict[str, Any] = {
    "guest_name": "Nguyễn Thị Secret",
    "guest_email": "secret.guest@example.vn",
    "guest_phone": "+84912345678",
    "guest_passport_number": "C1234567",
}


# ------------------------------------------------------------------------------------------------ loopback feed


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    with serve_feed() as server:
        yield server


@pytest.fixture
def private_hosts(app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let feed URLs name loopback (``LAOCAI_CHANNEL_ALLOW_PRIVATE_HOSTS``) for this test."""
    monkeypatch.setattr(app.state.settings, "channel_allow_private_hosts", True)


# ------------------------------------------------------------------------------------------------------ helpers


@dataclass
class Owner:
    id: UUID
    headers: dict[str, str]
    property_id: UUID


async def owner(app: Litestar, client: httpx.AsyncClient) -> Owner:
    owner_id, email = await make_owner(app)
    property_id = await make_property(app, owner_id, name="Sapa Cloud Homestay")
    return Owner(owner_id, bearer((await login(client, email))["access_token"]), property_id)


async def room_type(app: Litestar, who: Owner, *, days: int = 40, allotment: int = 1) -> UUID:
    room_type_id = await make_room_type(app, who.property_id, name={"vi": "Phòng đôi", "en": "Double room"})
    await open_calendar(app, room_type_id, future(0), future(days), allotment=allotment)
    return room_type_id


async def reserve(
    app: Litestar,
    room_type_id: UUID,
    start: int,
    end: int,
    *,
    status: str = ReservationStatus.CONFIRMED,
    hold_minutes: int = 15,
) -> UUID:
    """A reservation of one room on ``future(start)..future(end)`` straight in the database; nights taken when
    the status occupies inventory (a lapsed hold keeps its nights until released, as in production)."""
    now = utcnow()
    async with unit_of_work(app.state.engine) as session:
        if status in (ReservationStatus.HELD, ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN):
            taken = await inventory.take_stay(session, room_type_id, future(start), future(end), 1, now)
            assert isinstance(taken, list), taken
        found = await session.get(RoomType, room_type_id)
        assert found is not None
        reservation = Reservation(
            code=uuid4().hex[:12].upper(),
            property_id=found.property_id,
            room_type_id=room_type_id,
            status=status,
            check_in=future(start),
            check_out=future(end),
            nights=end - start,
            guest_nationality="VN",
            lookup_token_hash="0" * 64,
            total_amount=0,
            price={},
            cancellation_policy={},
            hold_expires_at=now + timedelta(minutes=hold_minutes) if status == ReservationStatus.HELD else None,
            **GUEST,
        )
        session.add(reservation)
    return reservation.id


async def cancel(app: Litestar, reservation_id: UUID) -> None:
    async with unit_of_work(app.state.engine) as session:
        reservation = await session.get(Reservation, reservation_id)
        assert reservation is not None
        reservation.status = ReservationStatus.CANCELLED
        reservation.updated_at = utcnow()
        session.add(reservation)
        await inventory.give_back(
            session, reservation.room_type_id, reservation.check_in, reservation.check_out, 1, utcnow()
        )


async def secret_of(app: Litestar, room_type_id: UUID) -> str:
    async with unit_of_work(app.state.engine) as session:
        found = await session.get(RoomType, room_type_id)
        assert found is not None
        return found.ical_secret


async def blocks(app: Litestar, calendar_id: str) -> set[date]:
    async with unit_of_work(app.state.engine) as session:
        rows = await session.exec(
            select(col(ExternalBlock.night)).where(col(ExternalBlock.calendar_id) == UUID(calendar_id))
        )
        return set(rows.all())


async def counters(app: Litestar, room_type_id: UUID) -> dict[date, tuple[int, int, int]]:
    """``{night: (allotment, sold, blocked)}`` of every inventory row of the room type."""
    async with unit_of_work(app.state.engine) as session:
        rows = await session.exec(select(InventoryNight).where(col(InventoryNight.room_type_id) == room_type_id))
        return {row.night: (row.allotment, row.sold, row.blocked) for row in rows.all()}


def days(*spans: tuple[int, int]) -> set[date]:
    return {night for start, end in spans for night in stay_nights(future(start), future(end))}


async def add_calendar(client: httpx.AsyncClient, who: Owner, room_type_id: UUID, url: str) -> str:
    response = await client.post(
        f"/v1/owner/room-types/{room_type_id}/channel-calendars",
        json={"name": "Booking.com", "url": url},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def sync(client: httpx.AsyncClient, who: Owner, calendar_id: str) -> httpx.Response:
    return await client.post(f"/v1/owner/channel-calendars/{calendar_id}/sync", headers=who.headers)


# ------------------------------------------------------------------------------------------------------- export


async def test_the_export_parses_carries_no_guest_data_and_only_occupying_stays(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    who = await owner(app, client)
    room_type_id = await room_type(app, who, allotment=2)
    confirmed = await reserve(app, room_type_id, 3, 5)
    held = await reserve(app, room_type_id, 7, 8, status=ReservationStatus.HELD)
    await reserve(app, room_type_id, 10, 12, status=ReservationStatus.HELD, hold_minutes=-5)  # lapsed
    await reserve(app, room_type_id, 14, 15, status=ReservationStatus.CANCELLED)
    checked_in = await reserve(app, room_type_id, 0, 2, status=ReservationStatus.CHECKED_IN)
    async with unit_of_work(app.state.engine) as session:
        await session.exec(
            update(InventoryNight)
            .where(col(InventoryNight.room_type_id) == room_type_id, col(InventoryNight.night).in_(days((20, 22))))
            .values(stop_sell=True)
        )
    secret = await secret_of(app, room_type_id)

    response = await client.get(f"/v1/ical/{secret}.ics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    plain = await client.get(f"/v1/ical/{secret}")
    assert plain.content == response.content  # with or without .ics, and deterministic

    body = response.content
    for value in GUEST.values():
        assert value.encode() not in body
        assert value.encode("utf-16-le") not in body
    calendar = Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert "PRODID" in calendar
    assert "Phòng đôi" in str(calendar["X-WR-CALNAME"])
    events = [
        (str(e["UID"]), e.decoded("DTSTART"), e.decoded("DTEND"), str(e["SUMMARY"])) for e in calendar.walk("VEVENT")
    ]
    assert events == [
        (f"{checked_in}@laocai.travel", future(0), future(2), "Reserved"),
        (f"{confirmed}@laocai.travel", future(3), future(5), "Reserved"),
        (f"{held}@laocai.travel", future(7), future(8), "Reserved"),
        (f"closed-{room_type_id}-{future(20).isoformat()}@laocai.travel", future(20), future(22), "Not available"),
    ]
    assert b"DTSTART;VALUE=DATE:" in body
    assert b"DTEND;VALUE=DATE:" in body
    assert all(e.get("DTSTAMP") is not None for e in calendar.walk("VEVENT"))

    again = await client.get(f"/v1/ical/{secret}.ics", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == response.headers["etag"]


async def test_an_unknown_rotated_or_inactive_secret_is_404(app: Litestar, client: httpx.AsyncClient) -> None:
    who = await owner(app, client)
    room_type_id = await room_type(app, who)
    missing = await client.get("/v1/ical/no-such-secret.ics")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "calendar_not_found"

    link = await client.get(f"/v1/owner/room-types/{room_type_id}/ical", headers=who.headers)
    assert link.status_code == 200
    old_url = link.json()["export_url"]
    assert old_url.endswith(f"/v1/ical/{await secret_of(app, room_type_id)}.ics")
    assert link.headers["cache-control"] == "no-store"
    rotated = await client.post(f"/v1/owner/room-types/{room_type_id}/ical/rotate", headers=who.headers)
    assert rotated.status_code == 200
    new_url = rotated.json()["export_url"]
    assert new_url != old_url
    assert (await client.get(old_url.removeprefix("http://testserver"))).status_code == 404
    assert (await client.get(new_url.removeprefix("http://testserver"))).status_code == 200

    async with unit_of_work(app.state.engine) as session:
        await session.exec(update(RoomType).where(col(RoomType.id) == room_type_id).values(is_active=False))
    assert (await client.get(new_url.removeprefix("http://testserver"))).status_code == 404


# ---------------------------------------------------------------------------------------------- import (HTTP)


@pytest.mark.usefixtures("private_hosts")
async def test_an_export_reimports_as_the_same_blocked_nights(
    app: Litestar, client: httpx.AsyncClient, feed: FeedServer
) -> None:
    who = await owner(app, client)
    source = await room_type(app, who, allotment=2)
    target = await room_type(app, who, allotment=2)
    first = await reserve(app, source, 2, 5)
    await reserve(app, source, 9, 10, status=ReservationStatus.HELD)
    await reserve(app, source, 12, 14, status=ReservationStatus.CANCELLED)
    booked = days((2, 5), (9, 10))
    feed.body = (await client.get(f"/v1/ical/{await secret_of(app, source)}.ics")).content
    calendar_id = await add_calendar(client, who, target, feed.url)

    response = await sync(client, who, calendar_id)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["status"], result["added"], result["removed"], result["unchanged"]) == ("ok", 4, 0, 0)
    assert result["conflicts"] == 0
    assert result["calendar"]["blocked_nights"] == 4
    assert result["calendar"]["last_status"] == "ok"
    assert await blocks(app, calendar_id) == booked
    blocked = {night for night, (_, _, b) in (await counters(app, target)).items() if b}
    assert blocked == booked
    assert {b for _, _, b in (await counters(app, target)).values()} == {0, 1}

    # Again: the server answers 304 to the stored ETag, and nothing changes.
    again = (await sync(client, who, calendar_id)).json()
    assert (again["status"], again["added"], again["removed"]) == ("not_modified", 0, 0)
    assert feed.requests[-1].get("if-none-match", "").startswith('"')
    # Without validators the same feed is parsed again, and still nothing changes.
    feed.etags = False
    plain = (await sync(client, who, calendar_id)).json()
    assert (plain["status"], plain["added"], plain["removed"], plain["unchanged"]) == ("ok", 0, 0, 4)
    assert {n for n, (_, _, b) in (await counters(app, target)).items() if b == 1} == booked

    # A booking the channel drops unblocks its nights.
    await cancel(app, first)
    feed.body = (await client.get(f"/v1/ical/{await secret_of(app, source)}.ics")).content
    dropped = (await sync(client, who, calendar_id)).json()
    assert (dropped["added"], dropped["removed"], dropped["unchanged"]) == (0, 3, 1)
    assert await blocks(app, calendar_id) == days((9, 10))
    assert {n for n, (_, _, b) in (await counters(app, target)).items() if b} == days((9, 10))

    # Deleting the calendar gives the rest back in the same transaction.
    deleted = await client.delete(f"/v1/owner/channel-calendars/{calendar_id}", headers=who.headers)
    assert deleted.status_code == 204
    assert await blocks(app, calendar_id) == set()
    assert {b for _, _, b in (await counters(app, target)).values()} == {0}
    listed = await client.get(f"/v1/owner/room-types/{target}/channel-calendars", headers=who.headers)
    assert listed.json() == []


@pytest.mark.usefixtures("private_hosts")
async def test_a_block_on_a_night_sold_here_is_a_reported_conflict(
    app: Litestar, client: httpx.AsyncClient, feed: FeedServer
) -> None:
    who = await owner(app, client)
    target = await room_type(app, who, allotment=1)
    await reserve(app, target, 4, 5)  # our only room is sold on night 4
    feed.body = ical([(future(3), future(6), "Airbnb booking")])
    calendar_id = await add_calendar(client, who, target, f"http://127.0.0.1:{feed.port}/moved")

    result = (await sync(client, who, calendar_id)).json()
    assert (result["added"], result["conflicts"]) == (3, 1)
    assert result["conflict_nights"] == [future(4).isoformat()]
    state = await counters(app, target)
    assert state[future(4)] == (1, 1, 1)  # recorded, never oversold: sold <= allotment
    assert state[future(3)] == (1, 0, 1)
    feed.etags = False
    again = (await sync(client, who, calendar_id)).json()  # still reported while it lasts, nothing added twice
    assert (again["status"], again["added"], again["conflicts"]) == ("ok", 0, 1)
    assert (await counters(app, target))[future(4)] == (1, 1, 1)
    assert len(feed.requests) >= 2
    assert feed.requests[0].get("user-agent", "").startswith("LaoCaiTravel")


@pytest.mark.usefixtures("private_hosts")
async def test_a_malformed_feed_is_422_stored_as_error_and_keeps_the_blocks(
    app: Litestar, client: httpx.AsyncClient, feed: FeedServer
) -> None:
    who = await owner(app, client)
    target = await room_type(app, who)
    feed.body = ical([(future(5), future(7), "Reserved")])
    calendar_id = await add_calendar(client, who, target, feed.url)
    assert (await sync(client, who, calendar_id)).status_code == 200

    feed.body = b"<html><body>Maintenance</body></html>"
    response = await sync(client, who, calendar_id)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_feed"
    [listed] = (await client.get(f"/v1/owner/room-types/{target}/channel-calendars", headers=who.headers)).json()
    assert listed["last_status"] == "error"
    assert listed["last_error"].startswith("invalid_feed: ")
    assert listed["blocked_nights"] == 2
    assert await blocks(app, calendar_id) == days((5, 7))

    feed.status, feed.etags = 500, False
    upstream = await sync(client, who, calendar_id)
    assert upstream.status_code == 424
    assert upstream.json()["code"] == "feed_unavailable"
    assert await blocks(app, calendar_id) == days((5, 7))


async def test_private_hosts_are_refused_unless_allowed(
    app: Litestar, client: httpx.AsyncClient, feed: FeedServer
) -> None:
    who = await owner(app, client)
    target = await room_type(app, who)
    feed.body = ical([(future(5), future(7), "Reserved")])
    url = f"/v1/owner/room-types/{target}/channel-calendars"
    for bad in (
        feed.url,
        "ftp://example.com/cal.ics",
        "not a url",
        "http://user:pw@example.com/x.ics",
        "http://[::1]/",
    ):
        refused = await client.post(url, json={"name": "X", "url": bad}, headers=who.headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["code"] == "feed_url_refused"
    assert (
        await client.post(url, json={"name": "", "url": "https://example.com"}, headers=who.headers)
    ).status_code in (
        400,
        422,
    )
    # A host name passes the form but not the fetch: localhost resolves to loopback.
    calendar_id = await add_calendar(client, who, target, f"http://localhost:{feed.port}/feed.ics")
    response = await sync(client, who, calendar_id)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "feed_url_refused"
    assert feed.requests == []
    [listed] = (await client.get(url, headers=who.headers)).json()
    assert (listed["last_status"], listed["last_error"][:16]) == ("error", "feed_url_refused")
    assert await blocks(app, calendar_id) == set()


async def test_adding_the_same_url_twice_is_409(app: Litestar, client: httpx.AsyncClient) -> None:
    who = await owner(app, client)
    target = await room_type(app, who)
    url = f"/v1/owner/room-types/{target}/channel-calendars"
    body = {"name": "Airbnb", "url": "https://www.airbnb.com/calendar/ical/123.ics?s=abc"}
    assert (await client.post(url, json=body, headers=who.headers)).status_code == 201
    again = await client.post(url, json=body, headers=who.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "channel_calendar_exists"


# ---------------------------------------------------------------------------------------------------- the jobs


@pytest.mark.usefixtures("private_hosts")
async def test_the_job_syncs_one_calendar_and_skips_a_deleted_one(app: Litestar, feed: FeedServer) -> None:
    owner_id, _ = await make_owner(app)
    target = await make_room_type(app, await make_property(app, owner_id))
    await open_calendar(app, target, future(0), future(20))
    feed.body = ical([(future(2), future(4), "Reserved")])
    async with unit_of_work(app.state.engine) as session:
        calendar = ChannelCalendar(room_type_id=target, name="Booking.com", url=feed.url)
        session.add(calendar)
    context = JobContext(
        engine=app.state.engine,
        name=booking_jobs.SYNC_CHANNEL_CALENDAR.name,
        attempt=1,
        resources={booking_jobs.RESOURCE: booking_jobs.ChannelSyncConfig(allow_private_hosts=True)},
    )
    await booking_jobs.sync_channel_calendar(context, calendar_id=str(calendar.id))
    await booking_jobs.sync_channel_calendar(context, calendar_id=str(calendar.id))  # idempotent
    assert await blocks(app, str(calendar.id)) == days((2, 4))
    assert {n for n, (_, _, b) in (await counters(app, target)).items() if b == 1} == days((2, 4))
    async with unit_of_work(app.state.engine) as session:
        stored = await session.get(ChannelCalendar, calendar.id)
        assert stored is not None
        assert stored.last_status == "not_modified"
        assert stored.etag
    await booking_jobs.sync_channel_calendar(context, calendar_id=str(uuid4()))  # gone: skipped quietly


def test_the_sweep_is_registered_on_the_configured_schedule() -> None:
    registry = job_registry()
    assert registry.periodic["booking.sync_channel_calendars"].cron == "*/30 * * * *"
    assert "booking.sync_channel_calendar" in registry.jobs
    assert booking_jobs.every_minutes(120) == "0 */2 * * *"
    assert booking_jobs.every_minutes(1440) == "0 0 * * *"


# ------------------------------------------------------------------------------------------------ parse (pure)


def ical(events: Sequence[tuple[date | datetime, date | datetime | None, str]], *, extra: str = "") -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Channel//EN"]
    for index, (start, end, summary) in enumerate(events):
        lines += ["BEGIN:VEVENT", f"UID:event-{index}@channel.example", "DTSTAMP:20261201T000000Z"]
        for name, value in (("DTSTART", start), ("DTEND", end)):
            if isinstance(value, datetime):
                lines.append(f"{name}:{value.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}")
            elif value is not None:
                lines.append(f"{name};VALUE=DATE:{value.strftime('%Y%m%d')}")
        lines += [f"SUMMARY:{summary}", "END:VEVENT"]
    if extra:
        lines += extra.strip().splitlines()
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def test_parse_reads_dates_datetimes_in_vietnam_and_skips_cancelled_and_out_of_range() -> None:
    today = local_today()
    # 18:00 UTC on the day before today+10 is 01:00 on today+10 in Vietnam.
    evening = datetime.combine(today + timedelta(days=9), datetime.min.time(), tzinfo=UTC) + timedelta(hours=18)
    cancelled = (
        "BEGIN:VEVENT\r\nUID:gone@channel.example\r\nDTSTART;VALUE=DATE:"
        + (today + timedelta(days=30)).strftime("%Y%m%d")
        + "\r\nSTATUS:CANCELLED\r\nEND:VEVENT"
    )
    body = ical(
        [
            (today + timedelta(days=3), today + timedelta(days=5), "Reserved"),
            (evening, evening + timedelta(days=2), "Airbnb (Not available)"),
            (today + timedelta(days=20), None, "One night"),
            (today - timedelta(days=5), today + timedelta(days=1), "Started in the past"),
            (today + timedelta(days=600), today + timedelta(days=602), "Too far ahead"),
            (today + timedelta(days=4), today + timedelta(days=6), "Overlapping"),
        ],
        extra=cancelled,
    )
    got = channels.parse_feed(body, today)
    assert [(n.night - today).days for n in got] == [0, 3, 4, 5, 10, 11, 20]
    assert {n.uid for n in got if (n.night - today).days == 4} == {"event-0@channel.example"}
    assert got[-1].summary == "One night"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>502 Bad Gateway</html>",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:2026x1210\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261210\r\nEND:VEVENT\r\n",
        b"\xff\xfe\x00garbage",
        b"X" * (channels.MAX_FEED_BYTES + 1),
    ],
)
def test_parse_refuses_what_is_not_a_calendar(body: bytes) -> None:
    with pytest.raises(InvalidFeed):
        channels.parse_feed(body)


def test_parse_caps_the_nights_of_a_feed() -> None:
    today = local_today()
    many = [(today, today + timedelta(days=400), f"Block {i}") for i in range(13)]  # 13 x 400 > 5,000
    with pytest.raises(InvalidFeed):
        channels.parse_feed(ical(many), today)


class RecordingBackend:
    """A job backend that keeps what is sent (the sweep's own output; running the syncs is tested above)."""

    def __init__(self, registry: JobRegistry) -> None:
        self.registry = registry
        self.sent: list[PendingJob] = []

    async def send(self, jobs: Iterable[PendingJob]) -> None:
        self.sent.extend(jobs)


async def test_the_sweep_queues_one_deduplicated_sync_per_feed_of_an_active_room_type(
    app: Litestar, database_url: str
) -> None:
    owner_id, _ = await make_owner(app)
    property_id = await make_property(app, owner_id)
    active, retired = await make_room_type(app, property_id), await make_room_type(app, property_id, is_active=False)
    async with unit_of_work(app.state.engine) as session:
        kept = ChannelCalendar(room_type_id=active, name="Airbnb", url="https://example.com/a.ics")
        skipped = ChannelCalendar(room_type_id=retired, name="Airbnb", url="https://example.com/b.ics")
        session.add_all([kept, skipped])
    engine = create_engine(database_url)
    backend = RecordingBackend(job_registry())
    bind_jobs(engine, backend)
    try:
        context = JobContext(engine=engine, name="booking.sync_channel_calendars", attempt=1, resources={})
        await booking_jobs.sync_channel_calendars(context)
    finally:
        bind_jobs(engine, None)
        await engine.dispose()
    mine = {job.kwargs["calendar_id"]: job for job in backend.sent}
    assert str(kept.id) in mine
    assert str(skipped.id) not in mine
    assert mine[str(kept.id)].name == "booking.sync_channel_calendar"
    assert mine[str(kept.id)].key == f"channel-sync:{kept.id}"
