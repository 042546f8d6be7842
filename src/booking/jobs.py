"""Booking's background jobs (ARCHITECTURE.md rule 4: a one-shot effect paired with a converging sweep).

- ``booking.release_expired_holds`` (global, every minute): expire held reservations whose hold lapsed and give
  their nights back, in batches. Availability and new holds never wait for it (they release or add back lapsed
  holds themselves, ``src/booking/inventory.py``); it keeps ``sold`` honest for owners' calendars and reports.
"""

import logging

from src.booking import inventory
from src.kernel.db import unit_of_work, utcnow
from src.kernel.jobs import JobContext, JobRegistry, PeriodicJob, RetryPolicy

logger = logging.getLogger("laocai.booking.jobs")

#: Holds released per transaction; the job loops until none is left (bounded, so one run cannot hold locks long).
RELEASE_BATCH = 200
MAX_BATCHES = 50


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


def register(registry: JobRegistry) -> None:
    """Declare booking's jobs in ``registry``."""
    registry.add_periodic(RELEASE_EXPIRED_HOLDS)
