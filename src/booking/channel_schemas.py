"""Request and response shapes of channel sync (issue 7). Timestamps are aware UTC; nights are local dates in
Asia/Ho_Chi_Minh (ISO 8601 ``YYYY-MM-DD``)."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec


class IcalExportLink(msgspec.Struct):
    """The room type's iCalendar (RFC 5545) export URL, ``<base>/v1/ical/<secret>.ics``, to paste into another
    channel's "import calendar" field. Anyone holding it reads the booked nights (no guest data): rotate it to
    revoke."""

    export_url: str


class ChannelCalendarCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A feed to import: ``name`` shown to the owner (``Booking.com``), ``url`` the channel's iCal export
    (``http``/``https``, a public host, at most 2,000 characters)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class ChannelCalendarRead(msgspec.Struct):
    """An imported channel calendar and how its last sync went: ``last_status`` is ``ok``, ``not_modified``,
    ``error`` or ``None`` (never synced); ``last_error`` is ``code: detail`` of the last failure;
    ``blocked_nights`` how many nights it blocks now."""

    id: UUID
    room_type_id: UUID
    name: str
    url: str
    last_synced_at: datetime | None
    last_status: str | None
    last_error: str | None
    blocked_nights: int
    created_at: datetime


class ChannelSyncResult(msgspec.Struct):
    """What a sync did: ``status`` (``ok`` | ``not_modified``), nights ``added``/``removed``/``unchanged``, and
    ``conflicts`` (count) with ``conflict_nights``: nights of the feed where the rooms are over-committed
    (``allotment - sold < blocked``, e.g. another channel sold a room already sold here). Conflicts are recorded,
    never refused; resolve them with the guest or the channel."""

    status: str
    added: int
    removed: int
    unchanged: int
    conflicts: int
    conflict_nights: list[date]
    calendar: ChannelCalendarRead
