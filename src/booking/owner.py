"""The rules of the owner portal (``/v1/owner/...``): an owner's properties, room types, calendar, reservations.

Ownership: every lookup is scoped to the caller's own properties; someone else's property, room type or
reservation is answered exactly like a missing one (404, ``src/kernel/auth/guards.py``). Writes of properties and
room types are conditional on the version the owner read (``If-Match``, RFC 9110 §13.1.1: 428 without, 412 when it
changed since). Inventory follows the lock order of ``src/booking/inventory.py``: rows of one room type by night.
"""

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import and_, func, or_, select, update
from sqlmodel import col
from sqlmodel import select as orm_select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking import codes, inventory
from src.booking.errors import (
    AllotmentBelowSold,
    InvalidTransition,
    PropertyNotFound,
    ReservationNotFound,
    RoomTypeNotFound,
)
from src.booking.events import property_changed
from src.booking.guests import clean_email, clean_passport, clean_phone, needs_passport
from src.booking.inventory import LOCK_TIMEOUT_MS
from src.booking.models import (
    ACTIVE_STATUSES,
    ExternalBlock,
    InventoryNight,
    Property,
    Reservation,
    ReservationStatus,
    RoomType,
)
from src.booking.owner_schemas import (
    Calendar,
    CalendarNight,
    CalendarUpdate,
    CalendarUpdated,
    OwnerProperty,
    OwnerPropertyList,
    OwnerReservation,
    OwnerReservationPage,
    OwnerRoomType,
    PropertyWrite,
    RoomTypeWrite,
)
from src.booking.policy import parse_policy, policy_json
from src.booking.pricing import parse_tax_fees
from src.booking.schemas import Bed
from src.booking.stays import MAX_DAYS_AHEAD, parse_local_date
from src.guide.models import Commune
from src.guide.schemas import Location
from src.guide.service import if_match_allows, version_tag
from src.kernel.auth.identity import Identity
from src.kernel.db import set_lock_timeout, upsert_insert
from src.kernel.errors import Conflict, InvalidParameter, PreconditionFailed, PreconditionRequired
from src.kernel.i18n import SUPPORTED_LOCALES
from src.kernel.localtime import local_today
from src.kernel.pagination import decode_cursor, encode_cursor, query_fingerprint
from src.kernel.text import clean_text

#: Longest calendar range read or written at once (nights).
MAX_CALENDAR_NIGHTS = 366
#: How far outside its commune's bounding box (degrees, about 2 km) a property's point may lie: the shipped commune
#: polygons are simplified, so a point just across a drawn edge is still accepted.
COMMUNE_BOX_MARGIN = 0.02
#: CSV cells starting with these would be read as formulas by spreadsheets (OWASP "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_property = Property.__table__  # type: ignore[attr-defined]
_room_type = RoomType.__table__  # type: ignore[attr-defined]
_inventory = InventoryNight.__table__  # type: ignore[attr-defined]
_reservation = Reservation.__table__  # type: ignore[attr-defined]
_block = ExternalBlock.__table__  # type: ignore[attr-defined]


def _check_precondition(if_match: str | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired("send the ETag you read as If-Match, so a concurrent change is not overwritten")
    if not if_match_allows(if_match, current):
        raise PreconditionFailed("it changed since you read it; read it again and re-apply your change")


def _translations(values: dict[str, str], field: str, *, multiline: bool = False) -> dict[str, str]:
    """``{locale: text}`` with served locales only and clean text (``src/kernel/text.py``); empty texts dropped."""
    out = {}
    for locale, text in values.items():
        if locale not in SUPPORTED_LOCALES:
            raise InvalidParameter.of_field(field, f"locale {locale!r} is not one of {', '.join(SUPPORTED_LOCALES)}")
        cleaned = clean_text(text, f"{field}.{locale}", multiline=multiline, allow_empty=True)
        if cleaned:
            out[locale] = cleaned
    return out


@dataclass(frozen=True, slots=True)
class ReservationFilters:
    """Filters of the owner's reservation list: property, statuses, check-in date range (inclusive), and ``q``
    (part of the guest's name, email or phone, or the code)."""

    property_id: UUID | None = None
    statuses: tuple[str, ...] = ()
    check_in_from: date | None = None
    check_in_to: date | None = None
    q: str | None = None


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet shows as text: cells starting with ``= + - @`` or a tab or CR get a
    leading apostrophe (OWASP's advice against formula injection); ``None`` is empty."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class OwnerService:
    """The caller's (an owner's) view of their properties, in the request's unit of work."""

    def __init__(self, session: AsyncSession, identity: Identity, now: datetime) -> None:
        self.session = session
        self.identity = identity
        self.now = now

    # --- properties ---------------------------------------------------------------------------------------

    async def _own_property(self, property_id: UUID) -> Property:
        prop = await self.session.get(Property, property_id)
        if prop is None or prop.owner_id != self.identity.id:
            raise PropertyNotFound(f"you have no property {property_id}")
        return prop

    async def _room_types(self, property_ids: Sequence[UUID]) -> dict[UUID, list[RoomType]]:
        out: dict[UUID, list[RoomType]] = {pid: [] for pid in property_ids}
        if property_ids:
            rows = (
                await self.session.exec(
                    orm_select(RoomType)
                    .where(col(RoomType.property_id).in_(property_ids))
                    .order_by(col(RoomType.created_at), col(RoomType.id))
                )
            ).all()
            for room_type in rows:
                out[room_type.property_id].append(room_type)
        return out

    @staticmethod
    def _room_type_out(room_type: RoomType) -> OwnerRoomType:
        return OwnerRoomType(
            id=room_type.id,
            property_id=room_type.property_id,
            name=dict(room_type.name),
            description=dict(room_type.description),
            max_adults=room_type.max_adults,
            max_children=room_type.max_children,
            max_occupancy=room_type.max_occupancy,
            beds=[Bed(type=b["type"], count=b["count"]) for b in room_type.beds],
            size_m2=room_type.size_m2,
            amenities=list(room_type.amenities),
            photos=list(room_type.photos),
            is_active=room_type.is_active,
            updated_at=room_type.updated_at,
        )

    def _property_out(self, prop: Property, room_types: list[RoomType]) -> OwnerProperty:
        return OwnerProperty(
            id=prop.id,
            name=prop.name,
            kind=prop.kind,
            commune=prop.commune_code,
            location=Location(lat=prop.lat, lon=prop.lon),
            address=prop.address,
            phone=prop.phone,
            email=prop.email,
            check_in_time=prop.check_in_time,
            check_out_time=prop.check_out_time,
            currency=prop.currency,
            description=dict(prop.description),
            house_rules=dict(prop.house_rules),
            amenities=list(prop.amenities),
            photos=list(prop.photos),
            cancellation_policy=dict(prop.cancellation_policy),
            tax_fees=list(prop.tax_fees),
            is_sample=prop.is_sample,
            is_listed=prop.is_listed,
            updated_at=prop.updated_at,
            room_types=[self._room_type_out(rt) for rt in room_types],
        )

    @staticmethod
    def property_tag(prop: Property) -> str:
        """The strong ETag of a property's current version (its id and ``updated_at``)."""
        return version_tag(f"property:{prop.id}", prop.updated_at)

    @staticmethod
    def room_type_tag(room_type: RoomType) -> str:
        """The strong ETag of a room type's current version."""
        return version_tag(f"room_type:{room_type.id}", room_type.updated_at)

    async def list_properties(self) -> OwnerPropertyList:
        """Every property of the caller, by name, with its room types."""
        props = list(
            (
                await self.session.exec(
                    orm_select(Property)
                    .where(col(Property.owner_id) == self.identity.id)
                    .order_by(col(Property.name), col(Property.id))
                )
            ).all()
        )
        room_types = await self._room_types([p.id for p in props])
        return OwnerPropertyList(items=[self._property_out(p, room_types[p.id]) for p in props])

    async def get_property(self, property_id: UUID) -> tuple[OwnerProperty, str]:
        """The caller's property and its ETag; ``PropertyNotFound`` (404) otherwise."""
        prop = await self._own_property(property_id)
        room_types = await self._room_types([prop.id])
        return self._property_out(prop, room_types[prop.id]), self.property_tag(prop)

    async def _apply_property(self, prop: Property, body: PropertyWrite) -> None:
        """Validate and copy the fields sent in ``body`` onto ``prop`` (422 naming the first bad field)."""
        fields = {f: getattr(body, f) for f in body.__struct_fields__ if getattr(body, f) is not msgspec.UNSET}
        if "name" in fields:
            prop.name = clean_text(fields["name"], "name")
        if "kind" in fields:
            prop.kind = fields["kind"]
        if "commune" in fields:
            prop.commune_code = fields["commune"]
        if "location" in fields:
            prop.lat, prop.lon = fields["location"].lat, fields["location"].lon
        if "commune" in fields or "location" in fields:
            commune = await self.session.get(Commune, prop.commune_code)
            if commune is None:
                raise InvalidParameter.of_field("commune", f"{prop.commune_code} is not a 2025 commune of Lào Cai")
            m = COMMUNE_BOX_MARGIN
            inside = (
                commune.min_lat - m <= prop.lat <= commune.max_lat + m
                and commune.min_lon - m <= prop.lon <= commune.max_lon + m
            )
            if not inside:
                raise InvalidParameter.of_field(
                    "location", f"is not in {commune.name} ({commune.code}); check the commune or the point"
                )
        if "address" in fields:
            prop.address = clean_text(fields["address"], "address", allow_empty=True)
        if "phone" in fields:
            prop.phone = clean_phone(fields["phone"], "phone") if fields["phone"] else None
        if "email" in fields:
            prop.email = clean_email(fields["email"], "email") if fields["email"] else None
        for name in ("check_in_time", "check_out_time"):
            if name in fields:
                hours, minutes = fields[name].split(":")[:2]
                setattr(prop, name, time(int(hours), int(minutes)))
        for name in ("description", "house_rules"):
            if name in fields:
                setattr(prop, name, _translations(fields[name], name, multiline=True))
        if "amenities" in fields:
            prop.amenities = sorted(set(fields["amenities"]))
        if "photos" in fields:
            prop.photos = list(dict.fromkeys(fields["photos"]))
        if "cancellation_policy" in fields:
            try:
                prop.cancellation_policy = policy_json(parse_policy(fields["cancellation_policy"]))
            except (msgspec.ValidationError, ValueError, TypeError) as exc:
                raise InvalidParameter.of_field("cancellation_policy", str(exc)) from None
        if "tax_fees" in fields:
            try:
                lines = parse_tax_fees(fields["tax_fees"])
            except (msgspec.ValidationError, ValueError, TypeError) as exc:
                raise InvalidParameter.of_field("tax_fees", str(exc)) from None
            prop.tax_fees = [msgspec.to_builtins(line) for line in lines]
        if "is_listed" in fields:
            prop.is_listed = fields["is_listed"]
        prop.updated_at = self.now

    async def create_property(self, body: PropertyWrite) -> tuple[OwnerProperty, str]:
        """A new property of the caller (``name``, ``kind``, ``commune``, ``location`` required; 422 otherwise)."""
        missing = [f for f in ("name", "kind", "commune", "location") if getattr(body, f) is msgspec.UNSET]
        if missing:
            raise InvalidParameter(
                "missing: " + ", ".join(missing),
                errors=[{"field": f, "source": "body", "message": "required"} for f in missing],
            )
        prop = Property(owner_id=self.identity.id, name="", kind="homestay", commune_code="", lat=0, lon=0)
        await self._apply_property(prop, body)
        prop.created_at = self.now
        self.session.add(prop)
        await self.session.flush()
        property_changed(self.session, [prop.id])
        return self._property_out(prop, []), self.property_tag(prop)

    async def update_property(
        self, property_id: UUID, if_match: str | None, body: PropertyWrite
    ) -> tuple[OwnerProperty, str]:
        """Change the fields sent, if the property is still at the version ``if_match`` names."""
        prop = await self._own_property(property_id)
        _check_precondition(if_match, self.property_tag(prop))
        await self._apply_property(prop, body)
        self.session.add(prop)
        await self.session.flush()
        property_changed(self.session, [prop.id])
        room_types = await self._room_types([prop.id])
        return self._property_out(prop, room_types[prop.id]), self.property_tag(prop)

    async def delete_property(self, property_id: UUID) -> None:
        """Delete a property with its room types and calendar; ``Conflict`` (409) once it has any reservation
        (guests' records must stay: unlist it instead with ``is_listed: false``)."""
        prop = await self._own_property(property_id)
        has = (
            await self.session.exec(
                select(func.count()).select_from(_reservation).where(_reservation.c.property_id == prop.id)  # type: ignore[call-overload]
            )
        ).one()[0]
        if has:
            raise Conflict("this property has reservations; unlist it (is_listed: false) instead of deleting it")
        await self.session.delete(prop)
        await self.session.flush()
        property_changed(self.session, [property_id])

    # --- room types ---------------------------------------------------------------------------------------

    async def _own_room_type(self, room_type_id: UUID) -> tuple[RoomType, Property]:
        room_type = await self.session.get(RoomType, room_type_id)
        if room_type is not None:
            prop = await self.session.get(Property, room_type.property_id)
            if prop is not None and prop.owner_id == self.identity.id:
                return room_type, prop
        raise RoomTypeNotFound(f"you have no room type {room_type_id}")

    @staticmethod
    def _apply_room_type(room_type: RoomType, body: RoomTypeWrite, now: datetime) -> None:
        fields = {f: getattr(body, f) for f in body.__struct_fields__ if getattr(body, f) is not msgspec.UNSET}
        if "name" in fields:
            names = _translations(fields["name"], "name")
            if not names:
                raise InvalidParameter.of_field("name", "needs a name in at least one locale")
            room_type.name = names
        if "description" in fields:
            room_type.description = _translations(fields["description"], "description", multiline=True)
        for name in ("max_adults", "max_children", "max_occupancy", "size_m2", "is_active"):
            if name in fields:
                setattr(room_type, name, fields[name])
        if "beds" in fields:
            room_type.beds = [msgspec.to_builtins(bed) for bed in fields["beds"]]
        if "amenities" in fields:
            room_type.amenities = sorted(set(fields["amenities"]))
        if "photos" in fields:
            room_type.photos = list(dict.fromkeys(fields["photos"]))
        if room_type.max_occupancy > room_type.max_adults + room_type.max_children:
            raise InvalidParameter.of_field("max_occupancy", "cannot exceed max_adults + max_children")
        if room_type.max_occupancy < 1 or room_type.max_adults > room_type.max_occupancy:
            raise InvalidParameter.of_field("max_occupancy", "must be at least max_adults")
        room_type.updated_at = now

    async def get_room_type(self, room_type_id: UUID) -> tuple[OwnerRoomType, str]:
        """The caller's room type and its ETag; ``RoomTypeNotFound`` (404) otherwise."""
        room_type, _ = await self._own_room_type(room_type_id)
        return self._room_type_out(room_type), self.room_type_tag(room_type)

    async def create_room_type(self, property_id: UUID, body: RoomTypeWrite) -> tuple[OwnerRoomType, str]:
        """A new room type of the caller's property (``name`` required; occupancy defaults 2 adults, 0 children)."""
        prop = await self._own_property(property_id)
        if body.name is msgspec.UNSET:
            raise InvalidParameter.of_field("name", "required")
        room_type = RoomType(property_id=prop.id, name={}, ical_secret=secrets.token_urlsafe(32))
        self._apply_room_type(room_type, body, self.now)
        room_type.created_at = self.now
        self.session.add(room_type)
        await self.session.flush()
        property_changed(self.session, [prop.id])
        return self._room_type_out(room_type), self.room_type_tag(room_type)

    async def update_room_type(
        self, room_type_id: UUID, if_match: str | None, body: RoomTypeWrite
    ) -> tuple[OwnerRoomType, str]:
        """Change the fields sent, if the room type is still at the version ``if_match`` names (428 without, 412
        stale); 422 for occupancy that does not add up (``max_occupancy`` between ``max_adults`` and
        ``max_adults + max_children``)."""
        room_type, prop = await self._own_room_type(room_type_id)
        _check_precondition(if_match, self.room_type_tag(room_type))
        self._apply_room_type(room_type, body, self.now)
        self.session.add(room_type)
        await self.session.flush()
        property_changed(self.session, [prop.id])
        return self._room_type_out(room_type), self.room_type_tag(room_type)

    async def delete_room_type(self, room_type_id: UUID) -> None:
        """Delete a room type that never had a reservation; one that had is deactivated (kept for the records)
        unless it still has active reservations ahead (409)."""
        room_type, prop = await self._own_room_type(room_type_id)
        ahead = (
            await self.session.exec(
                select(func.count())  # type: ignore[call-overload]
                .select_from(_reservation)
                .where(
                    _reservation.c.room_type_id == room_type.id,
                    _reservation.c.status.in_(ACTIVE_STATUSES),
                    _reservation.c.check_out > local_today(self.now),
                )
            )
        ).one()[0]
        if ahead:
            raise Conflict(f"{ahead} active reservation(s) ahead use this room type; cancel or move them first")
        ever = (
            await self.session.exec(
                select(func.count()).select_from(_reservation).where(_reservation.c.room_type_id == room_type.id)  # type: ignore[call-overload]
            )
        ).one()[0]
        if ever:
            room_type.is_active = False
            room_type.updated_at = self.now
            self.session.add(room_type)
        else:
            await self.session.delete(room_type)
        await self.session.flush()
        property_changed(self.session, [prop.id])

    # --- calendar -----------------------------------------------------------------------------------------

    def _range(self, start_text: str, end_text: str, source: str) -> tuple[date, date]:
        start = parse_local_date(start_text, "start", source=source)
        end = parse_local_date(end_text, "end", source=source)
        if end <= start:
            raise InvalidParameter.of_field("end", "must be after start", source)
        if (end - start).days > MAX_CALENDAR_NIGHTS:
            raise InvalidParameter.of_field("end", f"a range is at most {MAX_CALENDAR_NIGHTS} nights", source)
        if end > local_today(self.now) + timedelta(days=MAX_DAYS_AHEAD + MAX_CALENDAR_NIGHTS):
            raise InvalidParameter.of_field("end", "is too far ahead", source)
        return start, end

    async def calendar(self, room_type_id: UUID, start_text: str | None, end_text: str | None) -> Calendar:
        """The room type's nights ``start <= night < end`` (default: today and the next 30 nights)."""
        room_type, prop = await self._own_room_type(room_type_id)
        today = local_today(self.now)
        start, end = self._range(
            start_text or today.isoformat(), end_text or (today + timedelta(days=31)).isoformat(), "query"
        )
        rows = (
            await self.session.exec(
                select(_inventory)  # type: ignore[call-overload]
                .where(_inventory.c.room_type_id == room_type.id, _inventory.c.night >= start, _inventory.c.night < end)
                .order_by(_inventory.c.night)
            )
        ).all()
        by_night = {row.night: row for row in rows}
        nights = []
        night = start
        while night < end:
            row = by_night.get(night)
            if row is None:
                nights.append(CalendarNight(night, 0, 0, 0, 0, None, False, 1, False, False))
            else:
                nights.append(
                    CalendarNight(
                        night=night,
                        allotment=row.allotment,
                        sold=row.sold,
                        blocked=row.blocked,
                        available=max(0, row.allotment - row.sold - row.blocked),
                        price=row.price,
                        stop_sell=row.stop_sell,
                        min_stay=row.min_stay,
                        closed_to_arrival=row.closed_to_arrival,
                        closed_to_departure=row.closed_to_departure,
                    )
                )
            night += timedelta(days=1)
        return Calendar(room_type_id=room_type.id, currency=prop.currency, start=start, end=end, nights=nights)

    async def update_calendar(self, room_type_id: UUID, body: CalendarUpdate) -> CalendarUpdated:
        """Set the fields sent on the matching nights, all or nothing (see ``CalendarUpdate``).

        The room type's existing rows in the range are locked in night order first (``SELECT ... FOR UPDATE``
        on PostgreSQL; SQLite's write lock is already held), so a concurrent booking either finished before (and
        its rooms count against the new allotment) or waits for this update; then missing nights are inserted and
        the others updated. ``AllotmentBelowSold`` (409, ``nights``) when the new allotment is below what is sold.
        """
        room_type, _ = await self._own_room_type(room_type_id)
        start, end = self._range(body.start, body.end, "body")
        if start < local_today(self.now):
            raise InvalidParameter.of_field("start", "is in the past (nights already slept cannot be changed)")
        weekdays = set(body.weekdays or range(1, 8))
        nights = []
        night = start
        while night < end:
            if night.isoweekday() in weekdays:
                nights.append(night)
            night += timedelta(days=1)
        fields = {
            f: getattr(body, f)
            for f in ("allotment", "price", "stop_sell", "min_stay", "closed_to_arrival", "closed_to_departure")
            if getattr(body, f) is not msgspec.UNSET
        }
        if not fields:
            raise InvalidParameter.of_field(
                "allotment", "send at least one of allotment, price, stop_sell, min_stay, CTA, CTD"
            )
        if not nights:
            return CalendarUpdated(nights=0, created=0)
        await set_lock_timeout(self.session, LOCK_TIMEOUT_MS)
        locked = (
            await self.session.exec(
                select(_inventory.c.night, _inventory.c.sold)  # type: ignore[call-overload]
                .where(_inventory.c.room_type_id == room_type.id, _inventory.c.night.in_(nights))
                .order_by(_inventory.c.night)
                .with_for_update()
            )
        ).all()
        existing = {row.night: row.sold for row in locked}
        if "allotment" in fields:
            short = [n.isoformat() for n, sold in existing.items() if sold > fields["allotment"]]
            if short:
                raise AllotmentBelowSold(
                    f"{len(short)} night(s) have more rooms sold than {fields['allotment']}", nights=short
                )
        missing = [n for n in nights if n not in existing]
        if missing:
            insert = upsert_insert(self.session)
            # Channel blocks imported while a night had no row were recorded but not counted
            # (``src/booking/channels.py``): a night opened now starts with them.
            blocks = dict(
                (
                    await self.session.exec(
                        select(_block.c.night, func.count())  # type: ignore[call-overload]
                        .where(_block.c.room_type_id == room_type.id, _block.c.night.in_(missing))
                        .group_by(_block.c.night)
                    )
                ).all()
            )
            rows = [
                {
                    "room_type_id": room_type.id,
                    "night": n,
                    "updated_at": self.now,
                    "blocked": blocks.get(n, 0),
                    **fields,
                }
                for n in missing
            ]
            for chunk in range(0, len(rows), 500):
                await self.session.exec(insert(_inventory).values(rows[chunk : chunk + 500]).on_conflict_do_nothing())
        present = sorted(existing)
        if present:
            await self.session.exec(
                update(_inventory)
                .where(_inventory.c.room_type_id == room_type.id, _inventory.c.night.in_(present))
                .values(updated_at=self.now, **fields)
            )
        return CalendarUpdated(nights=len(nights), created=len(missing))

    # --- reservations -------------------------------------------------------------------------------------

    def _reservation_query(self, filters: ReservationFilters) -> Any:
        statement = (
            select(_reservation)
            .select_from(_reservation.join(_property, _property.c.id == _reservation.c.property_id))
            .where(_property.c.owner_id == self.identity.id)
        )
        if filters.property_id is not None:
            statement = statement.where(_reservation.c.property_id == filters.property_id)
        if filters.statuses:
            statement = statement.where(_reservation.c.status.in_(filters.statuses))
        if filters.check_in_from is not None:
            statement = statement.where(_reservation.c.check_in >= filters.check_in_from)
        if filters.check_in_to is not None:
            statement = statement.where(_reservation.c.check_in <= filters.check_in_to)
        if filters.q:
            pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(
                or_(
                    _reservation.c.guest_name.ilike(pattern, escape="\\"),
                    _reservation.c.guest_email.ilike(pattern, escape="\\"),
                    _reservation.c.guest_phone.ilike(pattern, escape="\\"),
                    _reservation.c.code.ilike(pattern, escape="\\"),
                )
            )
        return statement.order_by(_reservation.c.check_in, _reservation.c.code)

    @staticmethod
    def _reservation_out(row: Any) -> OwnerReservation:
        return OwnerReservation(
            code=row.code,
            status=row.status,
            source=row.source,
            property_id=row.property_id,
            room_type_id=row.room_type_id,
            check_in=row.check_in,
            check_out=row.check_out,
            nights=row.nights,
            rooms=row.rooms,
            adults=row.adults,
            children=row.children,
            guest_name=row.guest_name,
            guest_email=row.guest_email,
            guest_phone=row.guest_phone,
            guest_nationality=row.guest_nationality,
            guest_passport_number=row.guest_passport_number,
            currency=row.currency,
            total_amount=row.total_amount,
            hold_expires_at=row.hold_expires_at if row.status == ReservationStatus.HELD else None,
            created_at=row.created_at,
            checked_in_at=row.checked_in_at,
            payment_status=row.payment_status,
            paid_amount=row.paid_amount,
            refunded_amount=row.refunded_amount,
            disputed=row.disputed,
        )

    async def reservations(self, filters: ReservationFilters, limit: int, cursor: str | None) -> OwnerReservationPage:
        """A page of reservations of the caller's properties, by check-in date then code."""
        fingerprint = query_fingerprint("owner-reservations", self.identity.id, filters)
        statement = self._reservation_query(filters)
        if cursor is not None:
            after_date, after_code = decode_cursor(cursor, fingerprint, (str, str))
            try:
                after = date.fromisoformat(after_date)
            except ValueError:
                raise InvalidParameter.of_field("cursor", "invalid cursor", "query") from None
            statement = statement.where(
                or_(
                    _reservation.c.check_in > after,
                    and_(_reservation.c.check_in == after, _reservation.c.code > after_code),
                )
            )
        rows = (await self.session.exec(statement.limit(limit + 1))).all()
        items = [self._reservation_out(row) for row in rows[:limit]]
        next_cursor = (
            encode_cursor(fingerprint, [items[-1].check_in.isoformat(), items[-1].code]) if len(rows) > limit else None
        )
        return OwnerReservationPage(items=items, next_cursor=next_cursor)

    async def reservations_csv(self, filters: ReservationFilters) -> bytes:
        """Every matching reservation as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheets read
        Vietnamese names right), one row per reservation, the list's columns; formula-like cells are neutralised
        (``csv_cell``). At most 50,000 rows."""
        rows = (await self.session.exec(self._reservation_query(filters).limit(50_000))).all()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        columns = list(OwnerReservation.__struct_fields__)
        writer.writerow(columns)
        for row in rows:
            item = self._reservation_out(row)
            writer.writerow([csv_cell(getattr(item, column)) for column in columns])
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    async def _own_reservation(self, code: str) -> Any:
        canonical = codes.normalise(code)
        if canonical is not None:
            row = (
                await self.session.exec(
                    select(_reservation, _property.c.owner_id)  # type: ignore[call-overload]
                    .select_from(_reservation.join(_property, _property.c.id == _reservation.c.property_id))
                    .where(_reservation.c.code == canonical)
                )
            ).first()
            if row is not None and row.owner_id == self.identity.id:
                return row
        raise ReservationNotFound(f"you have no reservation {code!r}")

    async def check_in(self, code: str, passport_number: str | None) -> str:
        """Check a confirmed guest in, on a night of the stay (Vietnam's calendar). A guest who is not Vietnamese
        needs a passport number (sent now or given when booking) for the temporary-residence declaration (422
        without). ``InvalidTransition`` (409) for another status or day. Returns the code."""
        row = await self._own_reservation(code)
        today = local_today(self.now)
        if row.status != ReservationStatus.CONFIRMED:
            raise InvalidTransition(f"only a confirmed reservation can be checked in; this one is {row.status}")
        if not row.check_in <= today < row.check_out:
            raise InvalidTransition(
                f"check-in is possible from {row.check_in.isoformat()} to {row.check_out.isoformat()} (today: {today})"
            )
        passport = clean_passport(passport_number, "passport_number") if passport_number else row.guest_passport_number
        if needs_passport(row.guest_nationality) and not passport:
            raise InvalidParameter.of_field(
                "passport_number", "a foreign guest's passport number is required at check-in"
            )
        moved = (
            await self.session.exec(
                update(_reservation)
                .where(_reservation.c.id == row.id, _reservation.c.status == ReservationStatus.CONFIRMED)
                .values(
                    status=ReservationStatus.CHECKED_IN,
                    checked_in_at=self.now,
                    guest_passport_number=passport,
                    updated_at=self.now,
                )
                .returning(_reservation.c.id)
            )
        ).first()
        if moved is None:
            raise InvalidTransition("the reservation changed meanwhile; read it again")
        return str(row.code)

    async def no_show(self, code: str) -> str:
        """Mark a confirmed guest who never came as a no-show, from the check-in day on, and give the stay's
        nights back once (conditional status change). ``InvalidTransition`` (409) otherwise. Returns the code."""
        row = await self._own_reservation(code)
        if row.status != ReservationStatus.CONFIRMED:
            raise InvalidTransition(f"only a confirmed reservation can be a no-show; this one is {row.status}")
        if local_today(self.now) < row.check_in:
            raise InvalidTransition(f"a guest can be a no-show from {row.check_in.isoformat()} on")
        await set_lock_timeout(self.session, LOCK_TIMEOUT_MS)
        moved = (
            await self.session.exec(
                update(_reservation)
                .where(_reservation.c.id == row.id, _reservation.c.status == ReservationStatus.CONFIRMED)
                .values(status=ReservationStatus.NO_SHOW, released_at=self.now, updated_at=self.now)
                .returning(_reservation.c.id)
            )
        ).first()
        if moved is None:
            raise InvalidTransition("the reservation changed meanwhile; read it again")
        await inventory.give_back(self.session, row.room_type_id, row.check_in, row.check_out, row.rooms, self.now)
        return str(row.code)
