"""Request and response shapes of the owner portal (``/v1/owner/...``).

Owners write translated texts as ``{locale: text}`` maps (BCP 47 tags among the served locales), money as integers in
the property's currency minor units (VND has none), times of day as local ``HH:MM`` in Asia/Ho_Chi_Minh, nights as
local ``YYYY-MM-DD`` dates. Every write of a property or room type carries the ``ETag`` it read in ``If-Match``.
"""

from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from src.booking.occupancy import MAX_ROOMS
from src.booking.schemas import Bed, GuestIn
from src.guide.schemas import Location

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
Translations = Annotated[dict[Annotated[str, msgspec.Meta(max_length=16)], Text], msgspec.Meta(max_length=10)]
Names = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=16)], Annotated[str, msgspec.Meta(min_length=1, max_length=200)]],
    msgspec.Meta(min_length=1, max_length=10),
]
Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Url = Annotated[str, msgspec.Meta(pattern=r"^https://[^\s]{3,1990}$")]
#: A local time of day, ``HH:MM`` (or ``HH:MM:00``), Asia/Ho_Chi_Minh.
LocalTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$")]
Kind = Literal["hotel", "homestay", "guesthouse", "ecolodge"]


class BedIn(msgspec.Struct, forbid_unknown_fields=True):
    """``count`` beds of ``type``."""

    type: Literal["single", "double", "queen", "king", "bunk", "sofa", "floor_mattress"]
    count: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1


class PropertyWrite(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A property as its owner creates it (every field but ``name``, ``kind``, ``commune`` and ``location`` has a
    default) or changes it (``PATCH``: only the fields sent change). ``tax_fees`` items follow
    ``src/booking/pricing.py`` (``TaxFeeLine``) and ``cancellation_policy`` ``src/booking/policy.py``."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    kind: Kind | msgspec.UnsetType = msgspec.UNSET
    commune: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}$")] | msgspec.UnsetType = msgspec.UNSET
    location: Location | msgspec.UnsetType = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType | None = msgspec.UNSET
    email: Annotated[str, msgspec.Meta(max_length=320)] | msgspec.UnsetType | None = msgspec.UNSET
    check_in_time: LocalTime | msgspec.UnsetType = msgspec.UNSET
    check_out_time: LocalTime | msgspec.UnsetType = msgspec.UNSET
    description: Translations | msgspec.UnsetType = msgspec.UNSET
    house_rules: Translations | msgspec.UnsetType = msgspec.UNSET
    amenities: Annotated[list[Code], msgspec.Meta(max_length=60)] | msgspec.UnsetType = msgspec.UNSET
    photos: Annotated[list[Url], msgspec.Meta(max_length=30)] | msgspec.UnsetType = msgspec.UNSET
    cancellation_policy: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    tax_fees: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    is_listed: bool | msgspec.UnsetType = msgspec.UNSET


class RoomTypeWrite(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A room type as its owner creates it (``name`` required) or changes it (``PATCH``). Occupancy is per room:
    ``max_occupancy`` at least ``max_adults``' share of the room and at most ``max_adults + max_children``."""

    name: Names | msgspec.UnsetType = msgspec.UNSET
    description: Translations | msgspec.UnsetType = msgspec.UNSET
    max_adults: Annotated[int, msgspec.Meta(ge=1, le=20)] | msgspec.UnsetType = msgspec.UNSET
    max_children: Annotated[int, msgspec.Meta(ge=0, le=20)] | msgspec.UnsetType = msgspec.UNSET
    max_occupancy: Annotated[int, msgspec.Meta(ge=1, le=40)] | msgspec.UnsetType = msgspec.UNSET
    beds: Annotated[list[BedIn], msgspec.Meta(max_length=10)] | msgspec.UnsetType = msgspec.UNSET
    size_m2: Annotated[float, msgspec.Meta(gt=0, le=2000)] | msgspec.UnsetType | None = msgspec.UNSET
    amenities: Annotated[list[Code], msgspec.Meta(max_length=60)] | msgspec.UnsetType = msgspec.UNSET
    photos: Annotated[list[Url], msgspec.Meta(max_length=30)] | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class OwnerRoomType(msgspec.Struct):
    """A room type as its owner sees it: every translation, inactive ones included."""

    id: UUID
    property_id: UUID
    name: dict[str, str]
    description: dict[str, str]
    max_adults: int
    max_children: int
    max_occupancy: int
    beds: list[Bed]
    size_m2: float | None
    amenities: list[str]
    photos: list[str]
    is_active: bool
    updated_at: datetime


class OwnerProperty(msgspec.Struct):
    """A property as its owner sees it (every translation; the stored policy and lines), with its room types."""

    id: UUID
    name: str
    kind: str
    commune: str
    location: Location
    address: str
    phone: str | None
    email: str | None
    check_in_time: time
    check_out_time: time
    currency: str
    description: dict[str, str]
    house_rules: dict[str, str]
    amenities: list[str]
    photos: list[str]
    cancellation_policy: dict[str, Any]
    tax_fees: list[dict[str, Any]]
    is_sample: bool
    is_listed: bool
    updated_at: datetime
    room_types: list[OwnerRoomType]


class OwnerPropertyList(msgspec.Struct):
    """The caller's properties, by name (owners run a handful: no paging, ``next_cursor`` is always null)."""

    items: list[OwnerProperty]
    next_cursor: str | None = None


class CalendarNight(msgspec.Struct):
    """One night of a room type's calendar: ``allotment`` offered, ``sold`` (active reservations), ``blocked``
    (imported channel calendars), ``available = max(0, allotment - sold - blocked)``, ``price`` (minor units, null:
    not for sale) and the restrictions. Nights without a row are shown with ``allotment`` 0 and no price."""

    night: date
    allotment: int
    sold: int
    blocked: int
    available: int
    price: int | None
    stop_sell: bool
    min_stay: int
    closed_to_arrival: bool
    closed_to_departure: bool


class Calendar(msgspec.Struct):
    """A room type's nights ``start <= night < end``, in order, prices in ``currency``."""

    room_type_id: UUID
    currency: str
    start: date
    end: date
    nights: list[CalendarNight]


class CalendarUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Set fields on the nights ``start <= night < end`` (at most 366) whose ISO weekday (1 = Monday ... 7 =
    Sunday) is in ``weekdays`` (all when omitted). Only the fields sent change; ``price`` null takes the nights off
    sale. The update is atomic: when ``allotment`` is below what is already sold on any night, nothing changes
    and the answer is 409 listing those nights."""

    start: Annotated[str, msgspec.Meta(max_length=40)]
    end: Annotated[str, msgspec.Meta(max_length=40)]
    weekdays: (
        Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=7)]], msgspec.Meta(min_length=1, max_length=7)] | None
    ) = None
    allotment: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | msgspec.UnsetType = msgspec.UNSET
    price: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)] | msgspec.UnsetType | None = msgspec.UNSET
    stop_sell: bool | msgspec.UnsetType = msgspec.UNSET
    min_stay: Annotated[int, msgspec.Meta(ge=1, le=30)] | msgspec.UnsetType = msgspec.UNSET
    closed_to_arrival: bool | msgspec.UnsetType = msgspec.UNSET
    closed_to_departure: bool | msgspec.UnsetType = msgspec.UNSET


class CalendarUpdated(msgspec.Struct):
    """How many nights the update touched (``created`` of them had no row before)."""

    nights: int
    created: int


class OwnerReservation(msgspec.Struct):
    """A reservation in the owner's list (the CSV has the same columns). ``payment_status``, ``paid_amount`` and
    ``refunded_amount`` (minor units of ``currency``) are kept by payments; ``disputed`` flags a card dispute that is
    open or was lost: look at it in Stripe's dashboard."""

    code: str
    status: str
    source: str
    property_id: UUID
    room_type_id: UUID
    check_in: date
    check_out: date
    nights: int
    rooms: int
    adults: int
    children: int
    guest_name: str
    guest_email: str | None
    guest_phone: str | None
    guest_nationality: str
    guest_passport_number: str | None
    currency: str
    total_amount: int
    hold_expires_at: datetime | None
    created_at: datetime
    checked_in_at: datetime | None
    payment_status: str = "unpaid"
    paid_amount: int = 0
    refunded_amount: int = 0
    disputed: bool = False


class OwnerReservationPage(msgspec.Struct):
    """A page of the owner's reservations (by check-in date, then code); pass ``next_cursor`` back as ``cursor``."""

    items: list[OwnerReservation]
    next_cursor: str | None


class CheckIn(msgspec.Struct, forbid_unknown_fields=True):
    """Check-in data: the passport number of a foreign guest (required unless already on the reservation)."""

    passport_number: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class WalkIn(msgspec.Struct, forbid_unknown_fields=True):
    """A booking made at the desk for a guest at the door: confirmed at once, inventory taken as for the app."""

    room_type_id: UUID
    check_in: Annotated[str, msgspec.Meta(max_length=40)]
    check_out: Annotated[str, msgspec.Meta(max_length=40)]
    guest: GuestIn
    adults: Annotated[int, msgspec.Meta(ge=1, le=60)] = 2
    children: Annotated[int, msgspec.Meta(ge=0, le=40)] = 0
    rooms: Annotated[int, msgspec.Meta(ge=1, le=MAX_ROOMS)] = 1
