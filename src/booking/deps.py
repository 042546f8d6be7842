"""How booking's services are provided to controllers."""

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.owner import OwnerService
from src.booking.service import PropertyService, ReservationService
from src.kernel.auth.guards import current_identity
from src.kernel.db import ReadPath, unit_of_work
from src.kernel.deps import clock
from src.kernel.i18n import negotiate


async def provide_property_service(
    state: State, response_locale: NamedDependency[str]
) -> AsyncIterator[PropertyService]:
    """A ``PropertyService`` on a reader of the request (``src.kernel.db.ReadPath``, no ORM session)."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield PropertyService(reader, response_locale, clock(state))


async def provide_booking_service(request: Request[Any, Any, Any]) -> AsyncIterator[ReservationService]:
    """A ``ReservationService`` on its own unit of work (committed after the handler, rolled back on error), for
    the app's booking routes: one dependency with no dependencies of its own, so Litestar resolves nothing
    concurrently for it (an anyio task group per request cost more than a statement, issue 7 profile)."""
    state = request.app.state
    locale = request.state.get("locale")
    engine = state.read_engine if request.method in ("GET", "HEAD") else state.engine
    async with unit_of_work(engine) as session:
        yield ReservationService(
            session,
            locale if isinstance(locale, str) else negotiate(None, request.headers.get("accept-language")),
            clock(state),
            lookup_key=state.token_codec.secret,
            hold_minutes=state.settings.hold_minutes,
            refunder=state.get("cancellation_refunder"),
        )


async def provide_reservation_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession], response_locale: NamedDependency[str]
) -> ReservationService:
    """A ``ReservationService`` on the request's unit of work (committed after the handler)."""
    state = request.app.state
    return ReservationService(
        session,
        response_locale,
        clock(state),
        lookup_key=state.token_codec.secret,
        hold_minutes=state.settings.hold_minutes,
        refunder=state.get("cancellation_refunder"),
    )


async def provide_owner_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> OwnerService:
    """An ``OwnerService`` for the authenticated owner on the request's unit of work."""
    return OwnerService(session, current_identity(request), clock(request.app.state))
