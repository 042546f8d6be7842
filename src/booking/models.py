"""Tables of booking: properties, room types, nightly inventory and rates, reservations, channel calendars.

Conventions (API.md, ARCHITECTURE.md):
- Money is an integer in the minor unit of ``currency`` (ISO 4217; ``VND`` has none, so 1,850,000 ₫ is 1850000).
- Stay nights are local calendar dates in Asia/Ho_Chi_Minh: a reservation holds the nights
  ``check_in <= night < check_out`` (``src/kernel/localtime.py``).
- Timestamps are aware UTC (``UTCDateTime``).
- Coordinates are WGS84 degrees.

Inventory is one row per room type and night (``inventory_night``). ``sold`` counts the rooms of held, confirmed
and checked-in reservations on that night; ``blocked`` counts the rooms that imported channel calendars
(``external_block``) mark as taken. A room can be sold when ``allotment - sold - blocked >= rooms`` on every night
of the stay; the take is one conditional ``UPDATE`` per night, in night order, inside the reservation's transaction
(``src/booking/inventory.py``; STACK-NOTES.md), and ``CHECK (sold <= allotment)`` is the net under it. A night
without a row, without a price or with ``stop_sell`` is not for sale.
"""

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from src.kernel.db import UTCDateTime, utcnow


class PropertyKind(StrEnum):
    """What kind of lodging a property is."""

    HOTEL = "hotel"
    HOMESTAY = "homestay"
    GUESTHOUSE = "guesthouse"
    ECOLODGE = "ecolodge"


class ReservationStatus(StrEnum):
    """A reservation's life: ``held -> confirmed -> checked_in | no_show | cancelled``; ``held -> expired`` when
    its hold lapses unpaid; ``held -> cancelled`` when the guest gives up. ``held``, ``confirmed`` and
    ``checked_in`` occupy inventory (``ACTIVE``); the others have given their nights back."""

    HELD = "held"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: Statuses whose rooms count in ``inventory_night.sold``.
ACTIVE_STATUSES: tuple[str, ...] = (ReservationStatus.HELD, ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN)


class ReservationSource(StrEnum):
    """Where a reservation was made: the tourist app, or the owner's desk for a guest at the door."""

    APP = "app"
    WALK_IN = "walk_in"


def _in(column: str, values: Any) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class Property(SQLModel, table=True):
    """A hotel, homestay, guesthouse or ecolodge, run by its owner (a user with the ``owner`` role).

    Translated texts are ``{locale: text}`` maps (``description``, ``house_rules``), read along the fallback chain.
    ``check_in_time``/``check_out_time`` are local times of day in Asia/Ho_Chi_Minh. ``amenities`` are codes of
    ``src/booking/vocabulary.py``; ``photos`` are HTTPS URLs. ``cancellation_policy`` is the policy in force
    (``src/booking/policy.py``: refund percent by days before check-in); ``tax_fees`` are the lines that apply to
    every stay (``src/booking/pricing.py``: percent in basis points or fixed amounts, included in the rate or added).
    Nothing about money is hard-coded: each property carries its own lines. ``is_sample`` marks the fictional
    properties shipped for the embedded default; ``is_listed`` is whether the app may show it.
    """

    __tablename__ = "property"
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        CheckConstraint(_in("kind", [k.value for k in PropertyKind]), name="kind_known"),
        Index("ix_property_lat_lon", "lat", "lon"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    owner_id: UUID = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    commune_code: str = Field(foreign_key="commune.code", index=True, max_length=5)
    lat: float
    lon: float
    address: str = Field(default="", max_length=300)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=320)
    check_in_time: time = Field(default=time(14, 0))
    check_out_time: time = Field(default=time(12, 0))
    currency: str = Field(default="VND", max_length=3)
    description: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    house_rules: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    amenities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cancellation_policy: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    tax_fees: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_sample: bool = False
    is_listed: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class RoomType(SQLModel, table=True):
    """A kind of room a property sells (``Double room with mountain view``), with its occupancy.

    ``max_adults``/``max_children`` bound each kind of guest and ``max_occupancy`` the total per room. ``beds`` is
    ``[{"type": "double", "count": 1}]`` (types in ``src/booking/vocabulary.py``); ``size_m2`` in square metres.
    ``name`` and ``description`` are ``{locale: text}``. ``ical_secret`` is the unguessable part of the room type's
    iCal export URL (RFC 5545 feed of booked nights for other channels); rotating it invalidates the old URL.
    """

    __tablename__ = "room_type"
    __table_args__ = (
        CheckConstraint("max_adults >= 1", name="max_adults_positive"),
        CheckConstraint("max_children >= 0", name="max_children_not_negative"),
        CheckConstraint("max_occupancy >= 1", name="max_occupancy_positive"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    property_id: UUID = Field(foreign_key="property.id", index=True, ondelete="CASCADE")
    name: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    description: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    max_adults: int = 2
    max_children: int = 0
    max_occupancy: int = 2
    beds: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    size_m2: float | None = None
    amenities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ical_secret: str = Field(max_length=64, unique=True)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class InventoryNight(SQLModel, table=True):
    """Rooms and rate of one room type on one stay night (a local date).

    ``allotment``: rooms offered; ``sold``: rooms of active reservations; ``blocked``: rooms taken by imported
    channel calendars. ``price`` is the nightly rate of one room in the property's currency (minor units); ``None``
    means no rate set, and the night is not for sale. ``min_stay`` is the shortest stay (nights) that may arrive on
    this night; ``closed_to_arrival`` forbids a stay to start on this date, ``closed_to_departure`` a stay to end on it
    (a check-out on the morning of ``night``), as channel managers define CTA/CTD.
    """

    __tablename__ = "inventory_night"
    __table_args__ = (
        CheckConstraint("allotment >= 0", name="allotment_not_negative"),
        CheckConstraint("sold >= 0", name="sold_not_negative"),
        CheckConstraint("blocked >= 0", name="blocked_not_negative"),
        CheckConstraint("sold <= allotment", name="not_oversold"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_not_negative"),
        CheckConstraint("min_stay BETWEEN 1 AND 30", name="min_stay_range"),
    )

    room_type_id: UUID = Field(foreign_key="room_type.id", primary_key=True, ondelete="CASCADE")
    night: date = Field(primary_key=True)
    allotment: int = 0
    sold: int = 0
    blocked: int = 0
    stop_sell: bool = False
    price: int | None = None
    min_stay: int = 1
    closed_to_arrival: bool = False
    closed_to_departure: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


_STATUS_CHECK = _in("status", [s.value for s in ReservationStatus])
_SOURCE_CHECK = _in("source", [s.value for s in ReservationSource])


class Reservation(SQLModel, table=True):
    """A booking of ``rooms`` rooms of one room type for the nights ``check_in <= night < check_out``.

    ``code`` is the short human-friendly reference (``src/booking/codes.py``) the guest reads out and writes in a
    bank-transfer memo. ``lookup_token_hash`` is the SHA-256 of the guest's lookup token (``X-Booking-Token``,
    ``src/kernel/auth/tokens.py``); the token itself is shown once. ``user_id`` is the account that booked, if any.
    ``hold_expires_at`` (UTC) bounds a ``held`` reservation; past it the hold no longer counts, whether or not the
    expiry job has run. ``price`` is the snapshot of the quote the guest accepted (``src/booking/pricing.py``) and
    ``total_amount`` its total in ``currency`` minor units; ``cancellation_policy`` is the policy in force at
    booking time, copied. ``guest_phone`` is E.164; ``guest_nationality`` ISO 3166-1 alpha-2; the passport number of
    a foreign guest is needed for the temporary-residence declaration and is required at check-in.
    ``guest_locale`` is the locale negotiated at booking (the guest's messages are written in it). ``payment_status``
    (``unpaid``, ``pending``, ``processing``, ``paid``, ``partially_refunded``, ``refunded``), ``paid_amount`` and
    ``refunded_amount`` (minor units of ``currency``) and ``disputed`` (a card dispute is open or was lost) are kept
    by payments (``src/payments/service.py``) in the transaction of each payment change.
    """

    __tablename__ = "reservation"
    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status_known"),
        CheckConstraint(_SOURCE_CHECK, name="source_known"),
        CheckConstraint("check_out > check_in", name="stay_not_empty"),
        CheckConstraint("rooms >= 1", name="rooms_positive"),
        CheckConstraint("adults >= 1", name="adults_positive"),
        CheckConstraint("children >= 0", name="children_not_negative"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        CheckConstraint("paid_amount >= 0 AND refunded_amount >= 0", name="payments_not_negative"),
        Index("ix_reservation_property_check_in", "property_id", "check_in"),
        Index("ix_reservation_room_type_stay", "room_type_id", "check_in", "check_out"),
        Index(
            "ix_reservation_held_expiry",
            "hold_expires_at",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    property_id: UUID = Field(foreign_key="property.id", index=True)
    room_type_id: UUID = Field(foreign_key="room_type.id")
    user_id: UUID | None = Field(default=None, foreign_key="user_account.id", index=True)
    source: str = Field(default=ReservationSource.APP, max_length=16)
    status: str = Field(default=ReservationStatus.HELD, max_length=16)
    check_in: date
    check_out: date
    nights: int
    rooms: int = 1
    adults: int = 1
    children: int = 0
    guest_name: str = Field(max_length=200)
    guest_email: str | None = Field(default=None, max_length=320)
    guest_phone: str | None = Field(default=None, max_length=20)
    guest_nationality: str = Field(max_length=2)
    guest_passport_number: str | None = Field(default=None, max_length=20)
    lookup_token_hash: str = Field(max_length=64)
    currency: str = Field(default="VND", max_length=3)
    total_amount: int
    price: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    cancellation_policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    guest_locale: str = Field(default="vi", max_length=16)
    payment_status: str = Field(default="unpaid", max_length=24)
    paid_amount: int = 0
    refunded_amount: int = 0
    disputed: bool = False
    hold_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    checked_in_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ChannelCalendar(SQLModel, table=True):
    """An external iCal feed (RFC 5545) of another channel (Booking.com, Airbnb style) for one room type: each
    night it marks as booked blocks one room here (``external_block``). Imported periodically; re-importing the
    same feed changes nothing. ``etag``/``last_modified`` make re-fetches conditional (RFC 9110 §13.1)."""

    __tablename__ = "channel_calendar"
    __table_args__ = (UniqueConstraint("room_type_id", "url"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    room_type_id: UUID = Field(foreign_key="room_type.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    url: str = Field(max_length=2000)
    etag: str | None = Field(default=None, max_length=200)
    last_modified: str | None = Field(default=None, max_length=100)
    last_synced_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_status: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ExternalBlock(SQLModel, table=True):
    """One night one channel calendar marks as booked (``uid`` is the VEVENT's UID, RFC 5545 §3.8.4.7). Each row
    adds one to ``inventory_night.blocked`` of its room type and night, kept in step in the import's transaction."""

    __tablename__ = "external_block"

    calendar_id: UUID = Field(foreign_key="channel_calendar.id", primary_key=True, ondelete="CASCADE")
    night: date = Field(primary_key=True)
    room_type_id: UUID = Field(foreign_key="room_type.id", index=True)
    uid: str = Field(max_length=500)
    summary: str | None = Field(default=None, max_length=300)


__all__ = [
    "ACTIVE_STATUSES",
    "ChannelCalendar",
    "ExternalBlock",
    "InventoryNight",
    "Property",
    "PropertyKind",
    "Reservation",
    "ReservationSource",
    "ReservationStatus",
    "RoomType",
]
