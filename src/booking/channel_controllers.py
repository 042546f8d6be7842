"""HTTP endpoints of channel sync (issue 7): the public iCalendar export of a room type behind its secret URL, and
the owner's management of exports and imported channel calendars.

Controllers read inputs, make one call to ``src/booking/channels.py`` and convert its result. Owner routes need
the ``owner`` role (403 otherwise); a room type or calendar of someone else's property is a 404 exactly like a
missing one. Owner responses are ``Cache-Control: no-store``.
"""

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import CacheControlHeader, State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking import channels
from src.booking.channel_schemas import ChannelCalendarCreate, ChannelCalendarRead, ChannelSyncResult, IcalExportLink
from src.booking.models import ChannelCalendar
from src.kernel.auth.deps import provide_identity
from src.kernel.auth.guards import requires_role
from src.kernel.auth.identity import Identity
from src.kernel.db import utcnow
from src.kernel.errors import problem_responses

#: Litestar appends ``; charset=utf-8`` to ``text/*`` types itself (the feed is UTF-8, RFC 5545 §3.1.4).
ICAL_MEDIA_TYPE = "text/calendar"
#: The export may be kept by the fetching client for 5 minutes, never by shared caches (the URL is a secret).
EXPORT_CACHE_CONTROL = "private, max-age=300"
NO_STORE = CacheControlHeader(no_store=True)


def _export_url(request: Request[Any, Any, Any], secret: str) -> IcalExportLink:
    return IcalExportLink(export_url=f"{str(request.base_url).rstrip('/')}/v1/ical/{secret}.ics")


def _read(calendar: ChannelCalendar, blocked: int) -> ChannelCalendarRead:
    return ChannelCalendarRead(
        id=calendar.id,
        room_type_id=calendar.room_type_id,
        name=calendar.name,
        url=calendar.url,
        last_synced_at=calendar.last_synced_at,
        last_status=calendar.last_status,
        last_error=calendar.last_error,
        blocked_nights=blocked,
        created_at=calendar.created_at,
    )


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison of ``If-None-Match`` with the current tag."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


class IcalExportController(Controller):
    """The public feed other channels poll."""

    path = "/v1/ical"
    tags = ["channels"]

    @get(
        "/{secret:str}",
        security=[],
        media_type=ICAL_MEDIA_TYPE,
        responses=problem_responses(404),
        status_code=200,
    )
    async def export(
        self,
        session: NamedDependency[AsyncSession],
        secret: Annotated[
            str, Parameter(max_length=100, description="The room type's export secret (`.ics` optional).")
        ],
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", max_length=1000, description="RFC 9110 §13.1.2.")
        ] = None,
    ) -> Response[bytes]:
        """The room type's booked nights as an iCalendar feed (RFC 5545): one all-day `VEVENT` per reservation
        (`SUMMARY:Reserved`, no guest data) and per run of closed nights, from 30 days ago to 500 days ahead
        (Vietnam's dates). `/v1/ical/<secret>` and `/v1/ical/<secret>.ics` are the same feed. `ETag` and
        `If-None-Match` (304) are supported. 404 for an unknown or rotated secret."""
        body = await channels.export_calendar(session, secret.removesuffix(".ics"))
        etag = channels.entity_tag(body)
        headers = {"ETag": etag, "Cache-Control": EXPORT_CACHE_CONTROL}
        if _matches(if_none_match, etag):
            return Response(b"", status_code=304, headers=headers, media_type=ICAL_MEDIA_TYPE)
        return Response(body, headers=headers, media_type=ICAL_MEDIA_TYPE)


class OwnerRoomTypeIcalController(Controller):
    """An owner's room type: its export URL and the channel calendars it imports."""

    path = "/v1/owner/room-types"
    tags = ["owner", "channels"]
    guards = [requires_role("owner")]
    cache_control = NO_STORE
    dependencies = {"identity": Provide(provide_identity)}

    @get("/{room_type_id:uuid}/ical", responses=problem_responses(401, 403, 404))
    async def export_link(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        identity: NamedDependency[Identity],
        room_type_id: FromPath[UUID],
    ) -> IcalExportLink:
        """The room type's iCal export URL (a secret: whoever holds it reads the booked nights)."""
        room_type = await channels.owned_room_type(session, room_type_id, identity)
        return _export_url(request, room_type.ical_secret)

    @post("/{room_type_id:uuid}/ical/rotate", status_code=200, responses=problem_responses(401, 403, 404))
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        identity: NamedDependency[Identity],
        room_type_id: FromPath[UUID],
    ) -> IcalExportLink:
        """Replace the export secret; the old URL answers 404 from now on. Returns the new URL."""
        secret = await channels.rotate_secret(session, room_type_id, identity, utcnow())
        return _export_url(request, secret)

    @get("/{room_type_id:uuid}/channel-calendars", responses=problem_responses(401, 403, 404))
    async def list_calendars(
        self, session: NamedDependency[AsyncSession], identity: NamedDependency[Identity], room_type_id: FromPath[UUID]
    ) -> list[ChannelCalendarRead]:
        """The channel calendars this room type imports, oldest first, with their last sync."""
        calendars = await channels.list_calendars(session, room_type_id, identity)
        return [_read(calendar, blocked) for calendar, blocked in await channels.describe_calendars(session, calendars)]

    @post(
        "/{room_type_id:uuid}/channel-calendars",
        status_code=201,
        responses=problem_responses(401, 403, 404, 409, 413),
    )
    async def add_calendar(
        self,
        state: State,
        session: NamedDependency[AsyncSession],
        identity: NamedDependency[Identity],
        room_type_id: FromPath[UUID],
        data: JSONBody[ChannelCalendarCreate],
    ) -> ChannelCalendarRead:
        """Import another channel's iCal feed into this room type: each night it marks as booked blocks one room
        here. 422 for a URL that is not http(s) on a public host; 409 when this URL is already imported. The
        first sync happens with the next periodic run, or now with `POST /v1/owner/channel-calendars/{id}/sync`."""
        calendar = await channels.add_calendar(
            session,
            room_type_id,
            identity,
            data.name,
            data.url,
            allow_private_hosts=state.settings.channel_allow_private_hosts,
        )
        return _read(calendar, 0)


class ChannelCalendarController(Controller):
    """One imported channel calendar of an owner."""

    path = "/v1/owner/channel-calendars"
    tags = ["owner", "channels"]
    guards = [requires_role("owner")]
    cache_control = NO_STORE
    dependencies = {"identity": Provide(provide_identity)}

    @delete("/{calendar_id:uuid}", status_code=204, responses=problem_responses(401, 403, 404))
    async def remove(
        self, session: NamedDependency[AsyncSession], identity: NamedDependency[Identity], calendar_id: FromPath[UUID]
    ) -> None:
        """Stop importing this calendar: the nights it blocked are free again (in the same transaction)."""
        await channels.delete_calendar(session, calendar_id, identity, utcnow())

    @post("/{calendar_id:uuid}/sync", status_code=200, responses=problem_responses(401, 403, 404, 424))
    async def sync(
        self, state: State, identity: NamedDependency[Identity], calendar_id: FromPath[UUID]
    ) -> ChannelSyncResult:
        """Fetch and import the feed now (conditional on its `ETag`/`Last-Modified`). 422 `invalid_feed` or
        `feed_url_refused`, 424 `feed_unavailable` when it failed: the failure is stored on the calendar
        (`last_status: error`) and its blocks stay as they were."""
        async with channels.channel_http_client() as client:
            outcome, calendar, blocked = await channels.sync_owned_calendar(
                state.engine,
                calendar_id,
                identity,
                client,
                allow_private_hosts=state.settings.channel_allow_private_hosts,
            )
        report = outcome.report
        return ChannelSyncResult(
            status=outcome.status,
            added=report.added,
            removed=report.removed,
            unchanged=report.unchanged,
            conflicts=len(report.conflicts),
            conflict_nights=list(report.conflicts),
            calendar=_read(calendar, blocked),
        )
