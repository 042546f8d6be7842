"""HTTP endpoints of the owner portal (``/v1/owner/...``, role ``owner``): properties, room types, the inventory and
rate calendar, reservations (list, CSV, detail, check-in, no-show) and walk-in bookings.

Owner responses are the owner's working copy (and hold guests' personal data): never stored by a cache
(``Cache-Control: no-store``). Someone else's property, room type or reservation is a 404, like a missing one.
"""

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter

from src.booking.deps import provide_owner_service, provide_reservation_service
from src.booking.models import ReservationSource, ReservationStatus
from src.booking.owner import OwnerService, ReservationFilters
from src.booking.owner_schemas import (
    Calendar,
    CalendarUpdate,
    CalendarUpdated,
    CheckIn,
    OwnerProperty,
    OwnerPropertyList,
    OwnerReservationPage,
    OwnerRoomType,
    PropertyWrite,
    RoomTypeWrite,
    WalkIn,
)
from src.booking.schemas import BookingCreate, Reservation
from src.booking.service import ReservationService
from src.booking.stays import parse_local_date
from src.kernel.auth.guards import current_identity, requires_role
from src.kernel.errors import problem_responses
from src.kernel.idempotency import REPLAYED_HEADER
from src.kernel.pagination import DEFAULT_LIMIT, MAX_LIMIT

_NO_STORE = "no-store"
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=1000,
        description="The `ETag` of the version this change applies to (RFC 9110 §13.1.1); required.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", max_length=1000, description="A random UUID per operation (required)."),
]
CodeParam = Annotated[str, Parameter(max_length=40)]


def _tagged(content: Any, etag: str, status_code: int = 200) -> Response[Any]:
    return Response(content, status_code=status_code, headers={"ETag": etag, "Cache-Control": _NO_STORE})


def _filters(
    property_id: UUID | None,
    status: list[ReservationStatus] | None,
    check_in_from: str | None,
    check_in_to: str | None,
    q: str | None,
) -> ReservationFilters:
    start: date | None = parse_local_date(check_in_from, "check_in_from") if check_in_from else None
    end: date | None = parse_local_date(check_in_to, "check_in_to") if check_in_to else None
    return ReservationFilters(
        property_id=property_id,
        statuses=tuple(sorted(str(s) for s in status or [])),
        check_in_from=start,
        check_in_to=end,
        q=q.strip() if q and q.strip() else None,
    )


PropertyFilter = Annotated[UUID | None, Parameter(description="Only this property's reservations.")]
StatusFilter = Annotated[list[ReservationStatus] | None, Parameter(description="Only these statuses (repeatable).")]
FromFilter = Annotated[str | None, Parameter(max_length=40, description="Check-in on or after (YYYY-MM-DD).")]
ToFilter = Annotated[str | None, Parameter(max_length=40, description="Check-in on or before (YYYY-MM-DD).")]
TextFilter = Annotated[
    str | None, Parameter(max_length=100, description="Part of the guest's name, email, phone or code.")
]


class OwnerController(Controller):
    path = "/v1/owner"
    tags = ["owner"]
    guards = [requires_role("owner")]
    dependencies = {
        "service": Provide(provide_owner_service),
        "bookings": Provide(provide_reservation_service),
    }

    # --- properties ---

    @get("/properties", responses=problem_responses(401, 403))
    async def list_properties(self, service: NamedDependency[OwnerService]) -> Response[OwnerPropertyList]:
        """Your properties (by name) with their room types."""
        return Response(await service.list_properties(), headers={"Cache-Control": _NO_STORE})

    @post("/properties", status_code=201, responses=problem_responses(400, 401, 403, 413, 422))
    async def create_property(
        self, service: NamedDependency[OwnerService], data: JSONBody[PropertyWrite]
    ) -> Response[OwnerProperty]:
        """Add a property (`name`, `kind`, `commune`, `location` required; the point must lie in the commune).
        Returns it with its `ETag`."""
        prop, etag = await service.create_property(data)
        return _tagged(prop, etag, 201)

    @get("/properties/{property_id:uuid}", responses=problem_responses(401, 403, 404))
    async def get_property(
        self, service: NamedDependency[OwnerService], property_id: FromPath[UUID]
    ) -> Response[OwnerProperty]:
        """Your property with every translation and its room types; `ETag` for the next change."""
        prop, etag = await service.get_property(property_id)
        return _tagged(prop, etag)

    @patch("/properties/{property_id:uuid}", responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428))
    async def update_property(
        self,
        service: NamedDependency[OwnerService],
        property_id: FromPath[UUID],
        data: JSONBody[PropertyWrite],
        if_match: IfMatch = None,
    ) -> Response[OwnerProperty]:
        """Change the fields sent, if the property is still at the `If-Match` version (428 without, 412 stale).
        A changed policy or tax line applies to new bookings only (each reservation keeps its copy)."""
        prop, etag = await service.update_property(property_id, if_match, data)
        return _tagged(prop, etag)

    @delete("/properties/{property_id:uuid}", status_code=204, responses=problem_responses(401, 403, 404, 409))
    async def delete_property(self, service: NamedDependency[OwnerService], property_id: FromPath[UUID]) -> None:
        """Delete a property that never had a reservation (409 otherwise: unlist it with `is_listed: false`)."""
        await service.delete_property(property_id)

    # --- room types ---

    @post(
        "/properties/{property_id:uuid}/room-types",
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
    )
    async def create_room_type(
        self, service: NamedDependency[OwnerService], property_id: FromPath[UUID], data: JSONBody[RoomTypeWrite]
    ) -> Response[OwnerRoomType]:
        """Add a room type to your property (`name` required). Open its nights with the calendar endpoint."""
        room_type, etag = await service.create_room_type(property_id, data)
        return _tagged(room_type, etag, 201)

    @get("/room-types/{room_type_id:uuid}", responses=problem_responses(401, 403, 404))
    async def get_room_type(
        self, service: NamedDependency[OwnerService], room_type_id: FromPath[UUID]
    ) -> Response[OwnerRoomType]:
        """Your room type with its `ETag`."""
        room_type, etag = await service.get_room_type(room_type_id)
        return _tagged(room_type, etag)

    @patch("/room-types/{room_type_id:uuid}", responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428))
    async def update_room_type(
        self,
        service: NamedDependency[OwnerService],
        room_type_id: FromPath[UUID],
        data: JSONBody[RoomTypeWrite],
        if_match: IfMatch = None,
    ) -> Response[OwnerRoomType]:
        """Change the fields sent, if the room type is still at the `If-Match` version."""
        room_type, etag = await service.update_room_type(room_type_id, if_match, data)
        return _tagged(room_type, etag)

    @delete("/room-types/{room_type_id:uuid}", status_code=204, responses=problem_responses(401, 403, 404, 409))
    async def delete_room_type(self, service: NamedDependency[OwnerService], room_type_id: FromPath[UUID]) -> None:
        """Delete a room type never booked, or deactivate one that was; 409 while active reservations lie ahead."""
        await service.delete_room_type(room_type_id)

    # --- calendar ---

    @get("/room-types/{room_type_id:uuid}/calendar", responses=problem_responses(401, 403, 404, 422))
    async def calendar(
        self,
        service: NamedDependency[OwnerService],
        room_type_id: FromPath[UUID],
        start: Annotated[str | None, Parameter(max_length=40, description="First night (default today).")] = None,
        end: Annotated[str | None, Parameter(max_length=40, description="Night after the last (max 366).")] = None,
    ) -> Response[Calendar]:
        """Allotment, sold, blocked, available, price and restrictions per night (local dates)."""
        return Response(await service.calendar(room_type_id, start, end), headers={"Cache-Control": _NO_STORE})

    @patch("/room-types/{room_type_id:uuid}/calendar", responses=problem_responses(400, 401, 403, 404, 409, 413, 422))
    async def update_calendar(
        self, service: NamedDependency[OwnerService], room_type_id: FromPath[UUID], data: JSONBody[CalendarUpdate]
    ) -> CalendarUpdated:
        """Set allotment, price, stop-sell, minimum stay, CTA/CTD on a date range, optionally only some weekdays
        (1 = Monday ... 7 = Sunday). All or nothing: 409 `allotment_below_sold` (with the nights) when fewer rooms
        than already sold would be offered."""
        return await service.update_calendar(room_type_id, data)

    # --- reservations ---

    @get("/reservations", responses=problem_responses(401, 403, 422))
    async def reservations(
        self,
        service: NamedDependency[OwnerService],
        property_id: PropertyFilter = None,
        status: StatusFilter = None,
        check_in_from: FromFilter = None,
        check_in_to: ToFilter = None,
        q: TextFilter = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Parameter(max_length=512, description="`next_cursor` of the last page.")] = None,
    ) -> Response[OwnerReservationPage]:
        """Reservations of your properties by check-in date, with guest details; filters combine."""
        filters = _filters(property_id, status, check_in_from, check_in_to, q)
        return Response(await service.reservations(filters, limit, cursor), headers={"Cache-Control": _NO_STORE})

    @get("/reservations.csv", media_type="text/csv", responses=problem_responses(401, 403, 422))
    async def reservations_csv(
        self,
        service: NamedDependency[OwnerService],
        property_id: PropertyFilter = None,
        status: StatusFilter = None,
        check_in_from: FromFilter = None,
        check_in_to: ToFilter = None,
        q: TextFilter = None,
    ) -> Response[bytes]:
        """The same reservations as CSV (UTF-8 with BOM, RFC 4180), for a spreadsheet."""
        filters = _filters(property_id, status, check_in_from, check_in_to, q)
        return Response(
            await service.reservations_csv(filters),
            media_type="text/csv",
            headers={"Cache-Control": _NO_STORE, "Content-Disposition": 'attachment; filename="reservations.csv"'},
        )

    @get("/reservations/{code:str}", responses=problem_responses(401, 403, 404))
    async def reservation(
        self, request: Request[Any, Any, Any], code: CodeParam, bookings: NamedDependency[ReservationService]
    ) -> Response[Reservation]:
        """One reservation of your properties, as the guest sees it."""
        reservation = await bookings.get(code, None, current_identity(request))
        return Response(reservation, headers={"Cache-Control": _NO_STORE})

    @post(
        "/reservations/{code:str}/check-in", status_code=200, responses=problem_responses(400, 401, 403, 404, 409, 422)
    )
    async def check_in(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[OwnerService],
        bookings: NamedDependency[ReservationService],
        code: CodeParam,
        data: JSONBody[CheckIn | None] = None,
    ) -> Response[Reservation]:
        """Check a confirmed guest in on a night of the stay; a foreign guest needs a passport number (422
        without), kept for the temporary-residence declaration."""
        checked = await service.check_in(code, data.passport_number if data else None)
        reservation = await bookings.get(checked, None, current_identity(request))
        return Response(reservation, headers={"Cache-Control": _NO_STORE})

    @post("/reservations/{code:str}/no-show", status_code=200, responses=problem_responses(401, 403, 404, 409))
    async def no_show(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[OwnerService],
        bookings: NamedDependency[ReservationService],
        code: CodeParam,
    ) -> Response[Reservation]:
        """Mark a confirmed guest who never came (from the check-in day); the nights go back on sale."""
        marked = await service.no_show(code)
        reservation = await bookings.get(marked, None, current_identity(request))
        return Response(reservation, headers={"Cache-Control": _NO_STORE})

    @post(
        "/properties/{property_id:uuid}/walk-ins",
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def walk_in(
        self,
        request: Request[Any, Any, Any],
        bookings: NamedDependency[ReservationService],
        property_id: FromPath[UUID],
        data: JSONBody[WalkIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Reservation]:
        """Book a guest at the door: the same all-or-nothing take of every night as the app's bookings, confirmed
        at once (no hold). Requires `Idempotency-Key`; contact details are optional."""
        body = BookingCreate(
            property_id=property_id,
            room_type_id=data.room_type_id,
            check_in=data.check_in,
            check_out=data.check_out,
            guest=data.guest,
            adults=data.adults,
            children=data.children,
            rooms=data.rooms,
        )
        status, content, replayed = await bookings.create(
            body,
            idempotency_key,
            current_identity(request),
            source=ReservationSource.WALK_IN,
            route="POST /v1/owner/properties/{property_id}/walk-ins",
        )
        headers = {"Cache-Control": _NO_STORE}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(content, status_code=status, headers=headers)  # type: ignore[arg-type]
