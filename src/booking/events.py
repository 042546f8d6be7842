"""Events booking announces to downstream domains, as jobs enqueued in the writer's unit of work (sent only after
it commits). Booking never imports its readers: search registers a job of this name to keep property documents
fresh (ARCHITECTURE.md, "Who imports whom")."""

from collections.abc import Iterable
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.jobs import enqueue

#: Job name of "properties changed" (created, edited, listed or unlisted, deleted, room types changed). Keyword
#: argument: ``property_ids``, a sorted list of UUID strings.
PROPERTY_CHANGED = "booking.property_changed"


def property_changed(session: AsyncSession, property_ids: Iterable[UUID]) -> None:
    """Announce that these properties changed in ``session``'s unit of work (nothing is sent on rollback)."""
    enqueue(session, PROPERTY_CHANGED, property_ids=sorted({str(pid) for pid in property_ids}))
