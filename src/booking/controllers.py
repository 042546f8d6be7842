"""HTTP endpoints of booking for the app (API.md): availability search, property pages, reservations.

Controllers read inputs, make one service call and return its result; rules live in ``service.py``.
"""

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter

from src.booking.deps import provide_booking_service, provide_property_service
from src.booking.models import PropertyKind
from src.booking.occupancy import MAX_ADULTS, MAX_CHILDREN, MAX_ROOMS
from src.booking.repository import Area, Party
from src.booking.schemas import BookingCreate, Cancellation, PropertyDetail, PropertyPage, Reservation
from src.booking.service import AvailabilityQuery, PropertyService, ReservationService
from src.booking.stays import parse_local_date, validate_stay
from src.guide.geo import circle_box, parse_bbox
from src.guide.service import MAX_RADIUS_KM, near_of
from src.kernel.auth.backend import OPTIONAL_AUTH
from src.kernel.auth.guards import optional_identity
from src.kernel.errors import InvalidParameter, problem_responses
from src.kernel.idempotency import REPLAYED_HEADER
from src.kernel.pagination import DEFAULT_LIMIT, MAX_LIMIT

#: Availability changes with every booking: clients and proxies must revalidate (the ETag still saves bytes).
_NO_CACHE = "no-cache"
_PRIVATE = "private, no-store"

LocalDate = Annotated[
    str, Parameter(max_length=40, description="Local date YYYY-MM-DD in Asia/Ho_Chi_Minh (a timestamp is a 422).")
]
Adults = Annotated[int, Parameter(ge=1, le=MAX_ADULTS, description="Adult guests in all.")]
Children = Annotated[int, Parameter(ge=0, le=MAX_CHILDREN, description="Child guests in all.")]
Rooms = Annotated[int, Parameter(ge=1, le=MAX_ROOMS, description="Rooms of one room type.")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        max_length=1000,
        description="A random UUID per operation; the same key and body replays the first response (required).",
    ),
]
BookingToken = Annotated[
    str | None,
    HeaderParameter(
        name="X-Booking-Token", max_length=1000, description="The `lookup_token` returned when the booking was made."
    ),
]


class PropertyController(Controller):
    path = "/v1/properties"
    tags = ["booking"]
    dependencies = {"service": Provide(provide_property_service)}

    @get("/", responses=problem_responses(400, 422), security=[])
    async def search(
        self,
        service: NamedDependency[PropertyService],
        check_in: LocalDate,
        check_out: LocalDate,
        adults: Adults = 2,
        children: Children = 0,
        rooms: Rooms = 1,
        commune: Annotated[str | None, Parameter(pattern=r"^[0-9]{5}$", description="5-digit 2025 code.")] = None,
        lat: Annotated[float | None, Parameter(ge=-90, le=90, description="WGS84 latitude, degrees.")] = None,
        lon: Annotated[float | None, Parameter(ge=-180, le=180, description="WGS84 longitude, degrees.")] = None,
        radius_km: Annotated[
            float | None, Parameter(gt=0, le=MAX_RADIUS_KM, description="Radius around lat/lon, kilometres.")
        ] = None,
        bbox: Annotated[
            str | None, Parameter(max_length=200, description="`minLon,minLat,maxLon,maxLat`, WGS84 (RFC 7946 §5).")
        ] = None,
        kind: Annotated[list[PropertyKind] | None, Parameter(description="Only these kinds (repeatable).")] = None,
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT}).")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Parameter(max_length=512, description="`next_cursor` of the last page.")] = None,
    ) -> Response[PropertyPage]:
        """Properties with at least one room type that can host the party on every night of the stay
        (`nights = check_out - check_in`, 1 to 30; check-in not before today in Vietnam), each room type priced night
        by night with taxes, fees, total and cancellation terms. Nearest first with `lat`+`lon`+`radius_km`, else by
        name. Never cached by the server: rooms left change with every booking."""
        stay = validate_stay(
            parse_local_date(check_in, "check_in"), parse_local_date(check_out, "check_out"), now=service.now
        )
        near = near_of(lat, lon, radius_km)
        boxes = []
        if bbox is not None:
            boxes.append(parse_bbox(bbox))
        if near is not None:
            boxes.append(circle_box(near.lat, near.lon, near.radius_km * 1000))
        query = AvailabilityQuery(
            stay=stay,
            party=Party(adults=adults, children=children, rooms=rooms),
            area=Area(commune=commune, boxes=tuple(boxes), kinds=tuple(sorted(str(k) for k in kind or []))),
            near=near,
            limit=limit,
            cursor=cursor,
        )
        return Response(await service.search(query), headers={"Cache-Control": _NO_CACHE})

    @get("/{property_id:uuid}", responses=problem_responses(404, 422), security=[])
    async def detail(
        self,
        service: NamedDependency[PropertyService],
        property_id: FromPath[UUID],
        check_in: Annotated[
            str | None, Parameter(max_length=40, description="With check_out: offers for this stay.")
        ] = None,
        check_out: Annotated[str | None, Parameter(max_length=40, description="Local date YYYY-MM-DD.")] = None,
        adults: Adults = 2,
        children: Children = 0,
        rooms: Rooms = 1,
    ) -> Response[PropertyDetail]:
        """One listed property with its room types, cancellation policy and tax/fee lines; with `check_in` and
        `check_out`, also the offers for that stay and party."""
        stay = None
        if (check_in is None) != (check_out is None):
            field = "check_out" if check_out is None else "check_in"
            raise InvalidParameter(
                "check_in and check_out go together",
                errors=[{"field": field, "source": "query", "message": "required with the other stay date"}],
            )
        if check_in is not None and check_out is not None:
            stay = validate_stay(
                parse_local_date(check_in, "check_in"), parse_local_date(check_out, "check_out"), now=service.now
            )
        detail = await service.detail(property_id, stay, Party(adults=adults, children=children, rooms=rooms))
        return Response(detail, headers={"Cache-Control": _NO_CACHE})


class BookingController(Controller):
    path = "/v1/bookings"
    tags = ["booking"]
    dependencies = {"service": Provide(provide_booking_service)}

    @post("/", status_code=201, security=OPTIONAL_AUTH, responses=problem_responses(400, 401, 404, 409, 422))
    async def create(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[ReservationService],
        data: JSONBody[BookingCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Reservation]:
        """Hold `rooms` rooms of a room type on every night of the stay (all or nothing) until `hold_expires_at`,
        for a guest with or without an account. Requires `Idempotency-Key`: the same key and body replays the first
        response (with `Idempotent-Replayed: true`), the same key with another body is 422. 409 `sold_out` when a
        night lacks rooms, 409 `busy` (with `Retry-After`) under lock contention. The `lookup_token` in the answer
        is shown only here: the guest sends it as `X-Booking-Token` to read or cancel the booking."""
        status, body, replayed = await service.create(data, idempotency_key, optional_identity(request))
        headers = {"Cache-Control": _PRIVATE, "Location": f"/v1/bookings/{body['code']}"}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(body, status_code=status, headers=headers)  # type: ignore[arg-type]

    @get("/{code:str}", security=OPTIONAL_AUTH, responses=problem_responses(401, 404))
    async def read(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[ReservationService],
        code: Annotated[str, Parameter(max_length=40)],
        x_booking_token: BookingToken = None,
    ) -> Response[Reservation]:
        """The reservation, for its guest (`X-Booking-Token`), the account that booked it or the property's
        owner (`Authorization`); 404 for anyone else, as for a code that does not exist."""
        reservation = await service.get(code, x_booking_token, optional_identity(request))
        return Response(reservation, headers={"Cache-Control": _PRIVATE})

    @post("/{code:str}/cancel", status_code=200, security=OPTIONAL_AUTH, responses=problem_responses(401, 404, 409))
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[ReservationService],
        code: Annotated[str, Parameter(max_length=40)],
        x_booking_token: BookingToken = None,
    ) -> Response[Cancellation]:
        """Cancel a held or confirmed reservation under the policy copied when it was made; its nights go back on
        sale at once. Cancelling again answers the same state. 409 for a checked-in, no-show or expired one."""
        outcome = await service.cancel(code, x_booking_token, optional_identity(request))
        return Response(outcome, headers={"Cache-Control": _PRIVATE})
