"""Request and response shapes of the booking endpoints (API.md, "Shapes that clients already rely on").

Money is ``{"amount", "currency", "display"}`` with ``amount`` in integer minor units of ``currency`` (ISO 4217;
VND has none) and ``display`` formatted by Babel for the negotiated locale. Stay dates are local ``YYYY-MM-DD``
dates in Asia/Ho_Chi_Minh (strings in requests, parsed strictly: ``src/booking/stays.py``); instants are RFC 3339 in
UTC. Coordinates are WGS84 degrees. Translated texts come with the locale they were taken from (``*_locale``).
"""

from datetime import date, datetime, time
from typing import Annotated
from uuid import UUID

import msgspec

from src.booking.occupancy import MAX_ADULTS, MAX_CHILDREN, MAX_ROOMS
from src.guide.schemas import CommuneRef, Location
from src.kernel.money import Money


class PriceNight(msgspec.Struct):
    """One stay night: the rate of one room and ``amount`` = rate × rooms."""

    date: date
    rate: Money
    amount: Money


class TaxFee(msgspec.Struct):
    """A tax or fee line applied to the stay. ``included`` lines are inside the rates (shown, not added);
    ``rate_bp`` is basis points for ``kind="percent"``; ``per`` the unit of a ``fixed`` line."""

    code: str
    name: str
    name_locale: str
    kind: str
    included: bool
    amount: Money
    rate_bp: int | None = None
    per: str | None = None


class PriceBreakdown(msgspec.Struct):
    """A stay's price: the nights, the room subtotal, the tax and fee lines, and ``total`` = subtotal + added
    lines (each line rounded half up on its own, so the lines add up to the total exactly)."""

    currency: str
    rooms: int
    nights: list[PriceNight]
    subtotal: Money
    taxes_and_fees: list[TaxFee]
    total: Money


class CancellationTerm(msgspec.Struct):
    """Cancelling no later than ``until`` (UTC) refunds ``refund_percent`` % of what was paid."""

    until: datetime
    refund_percent: int


class CancellationTerms(msgspec.Struct):
    """A policy applied to one stay: ``terms`` in time order (after the last, nothing is refunded),
    ``free_cancellation_until`` (the last instant of a full refund, or null), and the no-show refund."""

    terms: list[CancellationTerm]
    free_cancellation_until: datetime | None
    no_show_refund_percent: int


class Offer(msgspec.Struct):
    """A room type that can host the party on every night of the stay, priced for it."""

    room_type_id: UUID
    name: str
    name_locale: str
    max_guests: int
    max_adults: int
    max_children: int
    rooms_left: int
    nightly: list[PriceNight]
    subtotal: Money
    taxes_and_fees: list[TaxFee]
    total: Money
    cancellation: CancellationTerms


class PropertySummary(msgspec.Struct):
    """An available property with its offers (cheapest first). ``distance_m`` (metres, great-circle) is present
    when a point was given."""

    id: UUID
    name: str
    kind: str
    commune: CommuneRef
    location: Location
    is_sample: bool
    offers: list[Offer]
    distance_m: int | None = None


class PropertyPage(msgspec.Struct):
    """A page of available properties; pass ``next_cursor`` back as ``cursor`` (``null`` at the end)."""

    items: list[PropertySummary]
    next_cursor: str | None


class Bed(msgspec.Struct):
    """``count`` beds of ``type`` (``single``, ``double``, ``queen``, ``king``, ``bunk``, ``sofa``,
    ``floor_mattress``)."""

    type: str
    count: int


class RoomTypeDetail(msgspec.Struct):
    """A room type of a property with its occupancy (per room), beds, size (m²) and translated texts."""

    id: UUID
    name: str
    name_locale: str
    description: str | None
    description_locale: str | None
    max_adults: int
    max_children: int
    max_guests: int
    beds: list[Bed]
    size_m2: float | None
    amenities: list[str]
    photos: list[str]


class TaxFeeRule(msgspec.Struct):
    """A tax or fee line as the property sets it (not yet applied to a stay)."""

    code: str
    name: str
    name_locale: str
    kind: str
    included: bool
    rate_bp: int | None = None
    fixed_amount: Money | None = None
    per: str | None = None


class RefundRuleOut(msgspec.Struct):
    """Cancel at least ``days_before`` days before check-in (at the check-in time) for ``refund_percent`` %."""

    days_before: int
    refund_percent: int


class PolicyOut(msgspec.Struct):
    """The property's cancellation policy in force (rules by days before check-in, most generous first)."""

    rules: list[RefundRuleOut]
    no_show_refund_percent: int


class PropertyDetail(msgspec.Struct):
    """One property with its room types and policies; ``offers`` when a stay was given (else ``null``).
    ``check_in_time``/``check_out_time`` are local times in Asia/Ho_Chi_Minh."""

    id: UUID
    name: str
    kind: str
    commune: CommuneRef
    location: Location
    address: str
    phone: str | None
    email: str | None
    check_in_time: time
    check_out_time: time
    currency: str
    description: str | None
    description_locale: str | None
    house_rules: str | None
    house_rules_locale: str | None
    amenities: list[str]
    photos: list[str]
    is_sample: bool
    cancellation_policy: PolicyOut
    tax_fees: list[TaxFeeRule]
    room_types: list[RoomTypeDetail]
    offers: list[Offer] | None = None


# --- reservations ---------------------------------------------------------------------------------------------

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class GuestIn(msgspec.Struct, forbid_unknown_fields=True):
    """The guest who stays: ``nationality`` ISO 3166-1 alpha-2 (``VN``); ``phone`` any written form, stored in
    E.164 (numbers without ``+`` are read as Vietnamese); at least one of ``email`` and ``phone``. A foreign
    guest's ``passport_number`` may come now or at check-in (the property declares temporary residence with it)."""

    name: Name
    nationality: Annotated[str, msgspec.Meta(min_length=2, max_length=2)]
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    passport_number: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class BookingCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/bookings``: ``rooms`` rooms of one room type for ``check_in <= night < check_out``."""

    property_id: UUID
    room_type_id: UUID
    check_in: Annotated[str, msgspec.Meta(max_length=40)]
    check_out: Annotated[str, msgspec.Meta(max_length=40)]
    guest: GuestIn
    adults: Annotated[int, msgspec.Meta(ge=1, le=MAX_ADULTS)] = 2
    children: Annotated[int, msgspec.Meta(ge=0, le=MAX_CHILDREN)] = 0
    rooms: Annotated[int, msgspec.Meta(ge=1, le=MAX_ROOMS)] = 1


class GuestOut(msgspec.Struct):
    """The guest as stored: phone in E.164, nationality ISO 3166-1 alpha-2."""

    name: str
    nationality: str
    email: str | None
    phone: str | None
    passport_number: str | None


class PropertyRef(msgspec.Struct):
    """The property and room type a reservation is for."""

    id: UUID
    name: str
    room_type_id: UUID
    room_type_name: str
    room_type_name_locale: str
    check_in_time: time
    check_out_time: time


class PaymentState(msgspec.Struct):
    """What has been paid for a reservation: ``status`` is ``unpaid``, ``pending`` (a payment was started),
    ``processing`` (the provider is settling it; not a failure), ``failed`` (the last try failed: pay again),
    ``paid``, ``partially_refunded`` or ``refunded``; ``paid`` and ``refunded`` are money; ``disputed`` is true
    while a card dispute is open or after it was lost."""

    status: str
    paid: Money
    refunded: Money
    disputed: bool = False


class RefundOut(msgspec.Struct):
    """A refund entry: ``amount`` (money), ``status`` (``requested``, ``pending``, ``succeeded``, ``failed``,
    ``canceled``), ``method`` (``card`` refunds go back through Stripe; ``vietqr`` ones are bank payouts the
    property's owner makes and marks done) and ``reason``."""

    id: UUID
    amount: Money
    status: str
    method: str
    reason: str
    created_at: datetime


class Reservation(msgspec.Struct):
    """A reservation. ``status``: ``held`` (until ``hold_expires_at``, UTC), ``confirmed``, ``checked_in``,
    ``no_show``, ``cancelled`` or ``expired`` (a lapsed hold shows as ``expired`` at once). ``lookup_token`` is
    present only in the creation response (and its replays): keep it to read the booking without an account."""

    code: str
    status: str
    source: str
    property: PropertyRef
    check_in: date
    check_out: date
    nights: int
    rooms: int
    adults: int
    children: int
    guest: GuestOut
    price: PriceBreakdown
    cancellation_policy: CancellationTerms
    hold_expires_at: datetime | None
    created_at: datetime
    confirmed_at: datetime | None = None
    checked_in_at: datetime | None = None
    cancelled_at: datetime | None = None
    payment: PaymentState | None = None
    lookup_token: str | None = None


class Cancellation(msgspec.Struct):
    """The outcome of a cancellation: the reservation, the refund percent the policy gives at the time of
    cancelling (of what was paid, rounded down to the whole minor unit), and the refund it triggered (``null``
    when nothing was paid or nothing is due)."""

    reservation: Reservation
    refund_percent: int
    refund: RefundOut | None
