"""Jobs of booking (ARCHITECTURE.md rule 4: a one-shot effect paired with a converging sweep).

- ``booking.release_expired_holds`` (global, every minute): expire held reservations whose hold lapsed and give
  their nights back, in batches. Availability and new holds never wait for it (they release or add back lapsed
  holds themselves, ``src/booking/inventory.py``); it keeps ``sold`` honest for owners' calendars and reports.
- ``booking.sync_channel_calendars`` (global periodic, every ``LAOCAI_CHANNEL_SYNC_MINUTES``, once across all
  processes): enqueues one ``booking.sync_channel_calendar`` per channel calendar of an active room type, each
  with the deduplication key ``channel-sync:<calendar id>`` (on Redis a calendar still queued or syncing is not
  queued twice).
- ``booking.sync_channel_calendar`` (``calendar_id``: the UUID as a string): fetch, parse and apply one feed
  (``src/booking/channels.py``, ``sync_calendar``). Idempotent: importing the same feed twice changes nothing. A
  feed that cannot be fetched or parsed is recorded on the calendar (``last_status = "error"``), not retried:
  the next period tries again. A calendar deleted meanwhile is skipped.

Handlers find the import's network settings in ``ctx.resources["channel_sync"]`` (a ``ChannelSyncConfig``; the
assembly puts it there from ``Settings``); without it private hosts are refused.
"""

import logging
from dataclasses import dataclass
from uuid import UUID

from sqlmodel import col, select

from src.booking import inventory
from src.booking.channels import channel_http_client, sync_calendar
from src.booking.errors import CalendarNotFound
from src.booking.models import ChannelCalendar, RoomType
from src.kernel.db import unit_of_work, utcnow
from src.kernel.jobs import Job, JobContext, JobRegistry, PeriodicJob, RetryPolicy, enqueue

logger = logging.getLogger("laocai.booking.jobs")

#: Holds released per transaction; the job loops until none is left (bounded, so one run cannot hold locks long).
RELEASE_BATCH = 200
MAX_BATCHES = 50

#: Key of the channel import's settings in the job system's resources.
RESOURCE = "channel_sync"


@dataclass(frozen=True, slots=True)
class ChannelSyncConfig:
    """``allow_private_hosts``: ``LAOCAI_CHANNEL_ALLOW_PRIVATE_HOSTS`` (see ``src/kernel/config.py``)."""

    allow_private_hosts: bool = False


def every_minutes(minutes: int) -> str:
    """A cron expression (UTC) running every ``minutes`` minutes: ``*/m`` below an hour, ``0 */h`` for whole
    hours under a day, else once a day at 00:00. ``ValueError`` when ``minutes < 1``."""
    if minutes < 1:
        raise ValueError("minutes must be at least 1")
    if minutes < 60:
        return f"*/{minutes} * * * *"
    if minutes < 24 * 60:
        return f"0 */{max(minutes // 60, 1)} * * *"
    return "0 0 * * *"


async def sync_channel_calendar(ctx: JobContext, *, calendar_id: str) -> None:
    """Sync one channel calendar (``calendar_id``: UUID string)."""
    config = ctx.resources.get(RESOURCE)
    allow_private = bool(config.allow_private_hosts) if isinstance(config, ChannelSyncConfig) else False
    async with channel_http_client() as client:
        try:
            outcome = await sync_calendar(ctx.engine, UUID(calendar_id), client, allow_private_hosts=allow_private)
        except CalendarNotFound:
            logger.info("channel calendar %s no longer exists: skipped", calendar_id)
            return
    report = outcome.report
    logger.info(
        "channel calendar %s: %s (+%d -%d =%d, %d conflicts)%s",
        calendar_id,
        outcome.status,
        report.added,
        report.removed,
        report.unchanged,
        len(report.conflicts),
        f": {outcome.error.code}" if outcome.error else "",
    )


async def sync_channel_calendars(ctx: JobContext) -> None:
    """Enqueue one sync per channel calendar of an active room type (sent once this unit of work commits)."""
    async with unit_of_work(ctx.engine) as session:
        ids = (
            await session.exec(
                select(ChannelCalendar.id)
                .join(RoomType, col(RoomType.id) == col(ChannelCalendar.room_type_id))
                .where(col(RoomType.is_active).is_(True))
                .order_by(col(ChannelCalendar.id))
            )
        ).all()
        for calendar_id in ids:
            enqueue(
                session, SYNC_CHANNEL_CALENDAR, dedup_key=f"channel-sync:{calendar_id}", calendar_id=str(calendar_id)
            )
    logger.info("channel sync: %d calendars queued", len(ids))


#: Fetch timeouts are 10 s per hop and at most 4 hops; the attempt gets room for that plus the import.
SYNC_CHANNEL_CALENDAR = Job(
    "booking.sync_channel_calendar", sync_channel_calendar, RetryPolicy(retries=1, timeout_seconds=90)
)


def sync_channel_calendars_job(minutes: int = 30) -> PeriodicJob:
    """The periodic sweep, every ``minutes`` minutes."""
    return PeriodicJob(
        "booking.sync_channel_calendars",
        sync_channel_calendars,
        cron=every_minutes(minutes),
        retry=RetryPolicy(retries=1, timeout_seconds=120),
    )


async def release_expired_holds(ctx: JobContext) -> None:
    """Release every lapsed hold, ``RELEASE_BATCH`` per transaction (each released once: ``inventory``)."""
    total = 0
    for _ in range(MAX_BATCHES):
        async with unit_of_work(ctx.engine) as session:
            released = await inventory.release_expired_holds(session, utcnow(), limit=RELEASE_BATCH)
        total += len(released)
        if len(released) < RELEASE_BATCH:
            break
    if total:
        logger.info("released %d lapsed holds", total)


RELEASE_EXPIRED_HOLDS = PeriodicJob(
    "booking.release_expired_holds",
    release_expired_holds,
    cron="* * * * *",
    retry=RetryPolicy(retries=1, timeout_seconds=120),
)


def register(registry: JobRegistry, *, sync_minutes: int = 30) -> None:
    """Declare booking's jobs in ``registry``; the channel sweep runs every ``sync_minutes`` minutes
    (``Settings.channel_sync_minutes``)."""
    registry.add_periodic(RELEASE_EXPIRED_HOLDS)
    registry.add(SYNC_CHANNEL_CALENDAR)
    registry.add_periodic(sync_channel_calendars_job(sync_minutes))


__all__ = [
    "RELEASE_EXPIRED_HOLDS",
    "RESOURCE",
    "SYNC_CHANNEL_CALENDAR",
    "ChannelSyncConfig",
    "every_minutes",
    "register",
    "release_expired_holds",
    "sync_channel_calendar",
    "sync_channel_calendars",
    "sync_channel_calendars_job",
]
