"""All SQL of booking's reads: availability rows, properties with their room types, reservations.

Reads run through a ``Reader`` (``src/kernel/db.py``: Core statements, no ORM session) and select only the columns
they need. An availability search is three statements whatever the number of properties: the inventory rows of
the stay for the room types that can host the party in the area, what lapsed holds still occupy there, and the
property and room type columns of the room types that came through.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, bindparam, func, select

from src.booking.models import InventoryNight, Property, Reservation, ReservationStatus, RoomType
from src.guide.geo import Box
from src.guide.models import Commune
from src.kernel import idempotency
from src.kernel.db import Reader
from src.kernel.localtime import nights as stay_nights

_property = Property.__table__  # type: ignore[attr-defined]
_room_type = RoomType.__table__  # type: ignore[attr-defined]
_inventory = InventoryNight.__table__  # type: ignore[attr-defined]
_reservation = Reservation.__table__  # type: ignore[attr-defined]
_commune = Commune.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Area:
    """Area filters of a search, all optional and combined: a commune code, bounding boxes (a radius search
    passes the circle's box; the exact distance is checked after), property kinds."""

    commune: str | None = None
    boxes: tuple[Box, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Party:
    """Who stays: adults and children spread over ``rooms`` rooms."""

    adults: int
    children: int
    rooms: int


_FITS = and_(
    _room_type.c.max_adults * bindparam("rooms") >= bindparam("adults"),
    _room_type.c.max_children * bindparam("rooms") >= bindparam("children"),
    _room_type.c.max_occupancy * bindparam("rooms") >= bindparam("guests"),
)
"""The occupancy rule of ``src/booking/occupancy.py`` as a SQL condition on ``room_type``."""


@lru_cache(maxsize=64)
def _area_conditions(has_commune: bool, boxes: int, has_kinds: bool, has_property: bool) -> tuple[Any, ...]:
    """Conditions of an area with bind parameters (``commune``, ``kinds``, ``min_lat0``..., ``property_id``):
    statements are built once per shape of filters, never per request."""
    conditions: list[Any] = [_property.c.is_listed.is_(True), _room_type.c.is_active.is_(True), _FITS]
    if has_commune:
        conditions.append(_property.c.commune_code == bindparam("commune"))
    if has_kinds:
        conditions.append(_property.c.kind.in_(bindparam("kinds", expanding=True)))
    for i in range(boxes):
        conditions += [
            _property.c.lat.between(bindparam(f"min_lat{i}"), bindparam(f"max_lat{i}")),
            _property.c.lon.between(bindparam(f"min_lon{i}"), bindparam(f"max_lon{i}")),
        ]
    if has_property:
        conditions.append(_property.c.id == bindparam("property_id"))
    return tuple(conditions)


#: The shape of an area query (commune given, number of boxes, kinds given, one property): one statement each.
Shape = tuple[bool, int, bool, bool]


def _parameters(
    area: Area, party: Party, property_id: UUID | None
) -> tuple[tuple[bool, int, bool, bool], dict[str, Any]]:
    parameters: dict[str, Any] = {
        "rooms": party.rooms,
        "adults": party.adults,
        "children": party.children,
        "guests": party.adults + party.children,
    }
    if area.commune is not None:
        parameters["commune"] = area.commune
    if area.kinds:
        parameters["kinds"] = list(area.kinds)
    for i, box in enumerate(area.boxes):
        parameters.update(
            {
                f"min_lat{i}": box.min_lat,
                f"max_lat{i}": box.max_lat,
                f"min_lon{i}": box.min_lon,
                f"max_lon{i}": box.max_lon,
            }
        )
    if property_id is not None:
        parameters["property_id"] = property_id
    shape = (area.commune is not None, len(area.boxes), bool(area.kinds), property_id is not None)
    return shape, parameters


@lru_cache(maxsize=64)
def _stay_inventory_statement(shape: Shape) -> Any:
    return (
        select(
            _inventory.c.room_type_id,
            _room_type.c.property_id,
            _inventory.c.night,
            (_inventory.c.allotment - _inventory.c.sold - _inventory.c.blocked).label("free"),
            _inventory.c.price,
            _inventory.c.stop_sell,
            _inventory.c.min_stay,
            _inventory.c.closed_to_arrival,
            _inventory.c.closed_to_departure,
        )
        .select_from(
            _inventory.join(_room_type, _room_type.c.id == _inventory.c.room_type_id).join(
                _property, _property.c.id == _room_type.c.property_id
            )
        )
        .where(
            *_area_conditions(*shape),
            _inventory.c.night >= bindparam("check_in"),
            _inventory.c.night <= bindparam("check_out"),
        )
        .order_by(_inventory.c.room_type_id, _inventory.c.night)
    )


async def stay_inventory(
    reader: Reader,
    area: Area,
    party: Party,
    check_in: date,
    check_out: date,
    *,
    property_id: UUID | None = None,
) -> Sequence[Row[Any]]:
    """Inventory rows ``(room_type_id, property_id, night, free, price, stop_sell, min_stay, closed_to_arrival,
    closed_to_departure)`` of the active room types that can host ``party`` in ``area`` (or in ``property_id``),
    for the nights ``check_in .. check_out`` *inclusive* (the check-out date's row says whether departure is
    closed), ordered by room type and night. ``free = allotment - sold - blocked``."""
    shape, parameters = _parameters(area, party, property_id)
    parameters.update(check_in=check_in, check_out=check_out)
    return (await reader.execute(_stay_inventory_statement(shape), parameters)).all()


_LAPSED_HOLDS = select(
    _reservation.c.room_type_id, _reservation.c.check_in, _reservation.c.check_out, _reservation.c.rooms
).where(
    _reservation.c.status == ReservationStatus.HELD,
    _reservation.c.hold_expires_at <= bindparam("now"),
    _reservation.c.check_in < bindparam("check_out"),
    _reservation.c.check_out > bindparam("check_in"),
)


async def lapsed_rooms(
    reader: Reader, room_type_ids: Sequence[UUID], check_in: date, check_out: date, now: datetime
) -> dict[tuple[UUID, date], int]:
    """Rooms still counted in ``sold`` by holds that lapsed before ``now`` and that no job has released yet, per
    ``(room_type_id, night)`` of ``[check_in, check_out)`` for ``room_type_ids``: what availability adds back to be
    right before any job runs. The statement reads the partial index of held reservations by expiry (unreleased
    holds only): it is usually empty, and filtering the room types here avoids a long ``IN`` list."""
    if not room_type_ids:
        return {}
    wanted = set(room_type_ids)
    rows = (await reader.execute(_LAPSED_HOLDS, {"now": now, "check_in": check_in, "check_out": check_out})).all()
    lapsed: dict[tuple[UUID, date], int] = defaultdict(int)
    for row in rows:
        if row.room_type_id in wanted:
            for night in stay_nights(max(row.check_in, check_in), min(row.check_out, check_out)):
                lapsed[(row.room_type_id, night)] += row.rooms
    return dict(lapsed)


#: Columns of a property a summary or the detail shows, with its commune's names.
_PROPERTY_COLUMNS = (
    _property.c.id,
    _property.c.name,
    _property.c.kind,
    _property.c.commune_code,
    _commune.c.name.label("commune_name"),
    _commune.c.name_en.label("commune_name_en"),
    _commune.c.unit_type.label("commune_unit_type"),
    _property.c.lat,
    _property.c.lon,
    _property.c.is_sample,
    _property.c.currency,
    _property.c.tax_fees,
    _property.c.cancellation_policy,
    _property.c.check_in_time,
)

_ROOM_TYPE_COLUMNS = (
    _room_type.c.id.label("room_type_id"),
    _room_type.c.property_id,
    _room_type.c.name.label("room_type_name"),
    _room_type.c.max_adults,
    _room_type.c.max_children,
    _room_type.c.max_occupancy,
)


@lru_cache(maxsize=64)
def _offer_statement(shape: Shape) -> Any:
    return (
        select(*_PROPERTY_COLUMNS, *_ROOM_TYPE_COLUMNS)
        .select_from(
            _room_type.join(_property, _property.c.id == _room_type.c.property_id).join(
                _commune, _commune.c.code == _property.c.commune_code
            )
        )
        .where(*_area_conditions(*shape))
    )


async def offer_rows(
    reader: Reader, area: Area, party: Party, *, property_id: UUID | None = None
) -> Sequence[Row[Any]]:
    """Property columns (``_PROPERTY_COLUMNS``) and room type columns (``_ROOM_TYPE_COLUMNS``) of every active
    room type that can host ``party`` in ``area`` (or ``property_id``): the same filters as ``stay_inventory``, so
    the caller picks the bookable ones without an ``IN`` list of ids."""
    shape, parameters = _parameters(area, party, property_id)
    return (await reader.execute(_offer_statement(shape), parameters)).all()


async def property_detail_rows(reader: Reader, property_id: UUID) -> Sequence[Row[Any]]:
    """The listed property ``property_id`` with its commune names and every active room type (one row per room
    type, room type columns null when it has none); empty when there is no such listed property."""
    statement = (
        select(
            _property,
            _commune.c.name.label("commune_name"),
            _commune.c.name_en.label("commune_name_en"),
            _commune.c.unit_type.label("commune_unit_type"),
            _room_type.c.id.label("rt_id"),
            _room_type.c.name.label("rt_name"),
            _room_type.c.description.label("rt_description"),
            _room_type.c.max_adults.label("rt_max_adults"),
            _room_type.c.max_children.label("rt_max_children"),
            _room_type.c.max_occupancy.label("rt_max_occupancy"),
            _room_type.c.beds.label("rt_beds"),
            _room_type.c.size_m2.label("rt_size_m2"),
            _room_type.c.amenities.label("rt_amenities"),
            _room_type.c.photos.label("rt_photos"),
        )
        .select_from(
            _property.join(_commune, _commune.c.code == _property.c.commune_code).outerjoin(
                _room_type, and_(_room_type.c.property_id == _property.c.id, _room_type.c.is_active.is_(True))
            )
        )
        .where(_property.c.id == property_id, _property.c.is_listed.is_(True))
        .order_by(_room_type.c.max_occupancy, _room_type.c.id)
    )
    return (await reader.execute(statement)).all()


@dataclass(frozen=True, slots=True)
class BookableRoomType:
    """What the booking transaction needs of a room type and its property, read in one statement:
    occupancy limits, the property's currency, lines, policy, check-in time and owner, and whether the check-out
    date is closed to departure."""

    property_id: UUID
    owner_id: UUID
    property_name: str
    currency: str
    tax_fees: list[dict[str, Any]]
    cancellation_policy: dict[str, Any]
    check_in_time: time
    check_out_time: time
    room_type_name: dict[str, str]
    max_adults: int
    max_children: int
    max_occupancy: int
    departure_closed: bool
    has_lapsed_holds: bool = True
    #: The row read, with the stored idempotent answer's columns when a key was given
    #: (``src.kernel.idempotency.lookup_columns``).
    row: Any = None


_DEPARTURE_CLOSED = (
    select(_inventory.c.closed_to_departure)
    .where(_inventory.c.room_type_id == _room_type.c.id, _inventory.c.night == bindparam("check_out"))
    .scalar_subquery()
)
_LAPSED_ON_STAY = (
    select(_reservation.c.id)
    .where(
        _reservation.c.status == ReservationStatus.HELD,
        _reservation.c.hold_expires_at <= bindparam("now"),
        _reservation.c.room_type_id == _room_type.c.id,
        _reservation.c.check_in < bindparam("check_out"),
        _reservation.c.check_out > bindparam("check_in"),
    )
    .exists()
)
_BOOKABLE_COLUMNS = (
    _property.c.owner_id,
    _property.c.name,
    _property.c.currency,
    _property.c.tax_fees,
    _property.c.cancellation_policy,
    _property.c.check_in_time,
    _property.c.check_out_time,
    _room_type.c.name.label("room_type_name"),
    _room_type.c.max_adults,
    _room_type.c.max_children,
    _room_type.c.max_occupancy,
    func.coalesce(_DEPARTURE_CLOSED, False).label("departure_closed"),
    _LAPSED_ON_STAY.label("has_lapsed_holds"),
)


def _bookable(*extra: Any) -> Any:
    return (
        select(*_BOOKABLE_COLUMNS, *extra)
        .select_from(_room_type.join(_property, _property.c.id == _room_type.c.property_id))
        .where(
            _room_type.c.id == bindparam("room_type_id"),
            _property.c.id == bindparam("property_id"),
            _room_type.c.is_active.is_(True),
            _property.c.is_listed.is_(True),
        )
    )


#: Built once with bind parameters: it runs in every booking transaction. The PostgreSQL form also sets the
#: transaction's ``lock_timeout`` (``set_config(..., true)`` is ``SET LOCAL``), saving a round trip per hold.
_SET_LOCK_TIMEOUT = func.set_config("lock_timeout", bindparam("lock_timeout"), True).label("lock_timeout_set")
_BOOKABLE = {
    (postgresql, keyed): _bookable(
        *((_SET_LOCK_TIMEOUT,) if postgresql else ()), *(idempotency.lookup_columns() if keyed else ())
    )
    for postgresql in (False, True)
    for keyed in (False, True)
}


async def bookable_room_type(
    reader: Reader,
    property_id: UUID,
    room_type_id: UUID,
    check_in: date,
    check_out: date,
    now: datetime,
    *,
    lock_timeout_ms: int | None = None,
    idempotency_key: tuple[str, str] | None = None,
) -> BookableRoomType | None:
    """The active room type ``room_type_id`` of the listed property ``property_id`` (``None`` otherwise), with
    whether ``check_out`` is closed to departure (a scalar subquery on its inventory row) and whether lapsed holds
    still occupy the stay (``has_lapsed_holds``: only then does the booking release them). With
    ``lock_timeout_ms`` (PostgreSQL only) the statement also sets the transaction's ``lock_timeout``, when the room
    type exists; with ``idempotency_key`` (``(scope, key)``) it also reads that key's stored answer."""
    parameters: dict[str, Any] = {
        "room_type_id": room_type_id,
        "property_id": property_id,
        "check_in": check_in,
        "check_out": check_out,
        "now": now,
    }
    if lock_timeout_ms is not None:
        parameters["lock_timeout"] = str(int(lock_timeout_ms))
    if idempotency_key is not None:
        parameters[idempotency.LOOKUP_SCOPE], parameters[idempotency.LOOKUP_KEY] = idempotency_key
    statement = _BOOKABLE[(lock_timeout_ms is not None, idempotency_key is not None)]
    row = (await reader.execute(statement, parameters)).first()
    if row is None:
        return None
    return BookableRoomType(
        property_id=property_id,
        owner_id=row.owner_id,
        property_name=row.name,
        currency=row.currency,
        tax_fees=list(row.tax_fees),
        cancellation_policy=dict(row.cancellation_policy),
        check_in_time=row.check_in_time,
        check_out_time=row.check_out_time,
        room_type_name=dict(row.room_type_name),
        max_adults=row.max_adults,
        max_children=row.max_children,
        max_occupancy=row.max_occupancy,
        departure_closed=bool(row.departure_closed),
        has_lapsed_holds=bool(row.has_lapsed_holds),
        row=row,
    )


async def reservation_by_code(reader: Reader, code: str) -> Row[Any] | None:
    """Every column of the reservation ``code`` with its property's ``owner_id``, ``property_name``,
    ``check_in_time``, ``check_out_time`` and its room type's ``room_type_name``; ``None`` if there is none."""
    statement = (
        select(
            _reservation,
            _property.c.owner_id,
            _property.c.name.label("property_name"),
            _property.c.check_in_time,
            _property.c.check_out_time,
            _room_type.c.name.label("room_type_name"),
        )
        .select_from(
            _reservation.join(_property, _property.c.id == _reservation.c.property_id).join(
                _room_type, _room_type.c.id == _reservation.c.room_type_id
            )
        )
        .where(_reservation.c.code == code)
    )
    return (await reader.execute(statement)).first()
