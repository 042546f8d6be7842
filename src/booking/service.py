"""The rules of booking for the app: availability search, property pages, reservations (hold, read, cancel).

Services add, flush and raise; the request's unit of work commits (ARCHITECTURE.md, example 3). ``now`` (aware UTC)
is passed in, so a test can book "at 17:30 UTC on the 23rd".
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol
from uuid import UUID, uuid4

import msgspec
from sqlalchemy import Row, and_, bindparam, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking import codes, inventory, repository
from src.booking.errors import (
    InvalidTransition,
    NotForSale,
    PartyTooLarge,
    PropertyNotFound,
    ReservationNotFound,
    RoomTypeNotFound,
    SoldOut,
    StayRestricted,
)
from src.booking.guests import Guest, clean_guest
from src.booking.inventory import LOCK_TIMEOUT_MS
from src.booking.models import Reservation as ReservationRow
from src.booking.models import (
    ReservationSource,
    ReservationStatus,
)
from src.booking.occupancy import party_fits
from src.booking.policy import parse_policy, policy_json, refund_percent_at
from src.booking.pricing import TaxFeeLine, parse_tax_fees, quote
from src.booking.rendering import Renderer, cancellation_terms, policy_rules
from src.booking.repository import Area, Party
from src.booking.schemas import (
    Bed,
    BookingCreate,
    Cancellation,
    CancellationTerms,
    GuestOut,
    Offer,
    PropertyDetail,
    PropertyPage,
    PropertyRef,
    PropertySummary,
    RefundOut,
    Reservation,
    RoomTypeDetail,
)
from src.booking.stays import Stay, parse_local_date, validate_stay
from src.guide.geo import distances_m
from src.guide.schemas import Location
from src.guide.service import Near
from src.kernel import idempotency
from src.kernel.auth.identity import Identity
from src.kernel.auth.tokens import derive_lookup_token, verify_lookup_token
from src.kernel.db import Reader, connection_reader, dialect_of, is_postgresql, set_lock_timeout
from src.kernel.pagination import decode_cursor, encode_cursor, query_fingerprint


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """``GET /v1/properties``: a stay, a party, area filters, paging."""

    stay: Stay
    party: Party
    area: Area
    near: Near | None = None
    limit: int = 20
    cursor: str | None = None


@dataclass(slots=True)
class _RoomTypeNights:
    """A room type's inventory over a stay, as read: one entry per night in order, plus the check-out row."""

    property_id: UUID
    nights: list[Row[Any]]
    departure: Row[Any] | None = None


def _bookable(
    entry: _RoomTypeNights, stay: Stay, rooms: int, lapsed: dict[tuple[UUID, Any], int], room_type_id: UUID
) -> tuple[list[tuple[Any, int]], int] | None:
    """``(rates, rooms_left)`` when every night of ``stay`` can be sold ``rooms`` times and no restriction bars the
    stay; ``None`` otherwise. Mirrors the conditions of the booking transaction (``inventory.take_night`` and
    ``ReservationService._check_restrictions``), adding back what lapsed holds still occupy."""
    if len(entry.nights) != stay.nights:
        return None
    rates: list[tuple[Any, int]] = []
    left: int | None = None
    for row in entry.nights:
        if row.price is None or row.stop_sell:
            return None
        free = int(row.free) + lapsed.get((room_type_id, row.night), 0)
        if free < rooms:
            return None
        left = free if left is None else min(left, free)
        rates.append((row.night, int(row.price)))
    first = entry.nights[0]
    if first.closed_to_arrival or stay.nights < first.min_stay:
        return None
    if entry.departure is not None and entry.departure.closed_to_departure:
        return None
    return rates, left or 0


class PropertyService:
    """Availability and property pages, read through a ``Reader`` (no ORM session)."""

    def __init__(self, reader: Reader, locale: str, now: datetime) -> None:
        self.reader = reader
        self.render = Renderer(locale)
        self.now = now

    async def _offers(
        self, stay: Stay, party: Party, area: Area, property_id: UUID | None = None
    ) -> dict[UUID, tuple[Row[Any], list[Offer]]]:
        """Per property id: its row (``repository.offer_rows``) and the offers of its room types, cheapest first."""
        rows = await repository.stay_inventory(
            self.reader, area, party, stay.check_in, stay.check_out, property_id=property_id
        )
        by_room_type: dict[UUID, _RoomTypeNights] = {}
        for row in rows:
            entry = by_room_type.get(row.room_type_id)
            if entry is None:
                entry = by_room_type[row.room_type_id] = _RoomTypeNights(property_id=row.property_id, nights=[])
            if row.night == stay.check_out:
                entry.departure = row
            else:
                entry.nights.append(row)
        candidates = [rt for rt, entry in by_room_type.items() if len(entry.nights) == stay.nights]
        lapsed = await repository.lapsed_rooms(self.reader, candidates, stay.check_in, stay.check_out, self.now)
        bookable: dict[UUID, tuple[list[tuple[Any, int]], int]] = {}
        for room_type_id in candidates:
            got = _bookable(by_room_type[room_type_id], stay, party.rooms, lapsed, room_type_id)
            if got is not None:
                bookable[room_type_id] = got
        result: dict[UUID, tuple[Row[Any], list[Offer]]] = {}
        lines_of: dict[UUID, list[TaxFeeLine]] = {}
        terms_of: dict[UUID, CancellationTerms] = {}
        for row in await repository.offer_rows(self.reader, area, party, property_id=property_id):
            got = bookable.get(row.room_type_id)
            if got is None:
                continue
            rates, left = got
            lines = lines_of.get(row.id)
            if lines is None:
                lines = lines_of[row.id] = parse_tax_fees(row.tax_fees)
                terms_of[row.id] = cancellation_terms(row.cancellation_policy, stay.check_in, row.check_in_time)
            priced = quote(
                rates,
                rooms=party.rooms,
                adults=party.adults,
                children=party.children,
                lines=lines,
                currency=row.currency,
            )
            price = self.render.quote(priced)
            name, name_locale = self.render.name(row.room_type_name)
            offer = Offer(
                room_type_id=row.room_type_id,
                name=name,
                name_locale=name_locale,
                max_guests=row.max_occupancy,
                max_adults=row.max_adults,
                max_children=row.max_children,
                rooms_left=left,
                nightly=price.nights,
                subtotal=price.subtotal,
                taxes_and_fees=price.taxes_and_fees,
                total=price.total,
                cancellation=terms_of[row.id],
            )
            if row.id in result:
                result[row.id][1].append(offer)
            else:
                result[row.id] = (row, [offer])
        for _, offers in result.values():
            offers.sort(key=lambda o: (o.total.amount, str(o.room_type_id)))
        return result

    async def search(self, query: AvailabilityQuery) -> PropertyPage:
        """Available properties for the stay and party in the area: nearest first with ``near`` (within its
        radius), else by name; ``limit`` per page with an opaque cursor."""
        found = await self._offers(query.stay, query.party, query.area)
        rows = [row for row, _ in found.values()]
        distances: dict[UUID, float] = {}
        distance: float | None
        if query.near is not None:
            near = query.near
            for row, distance in zip(
                rows, distances_m(near.lat, near.lon, [(r.lat, r.lon) for r in rows]), strict=True
            ):
                if distance <= near.radius_km * 1000:
                    distances[row.id] = distance
            rows = [row for row in rows if row.id in distances]
            keyed = sorted(((round(distances[r.id], 3), str(r.id)), r) for r in rows)
        else:
            keyed = sorted(((r.name, str(r.id)), r) for r in rows)
        fingerprint = query_fingerprint(
            "properties", query.stay.check_in, query.stay.check_out, query.party, query.area, query.near
        )
        if query.cursor is not None:
            types: tuple[type | tuple[type, ...], ...] = ((int, float), str) if query.near else (str, str)
            after = tuple(decode_cursor(query.cursor, fingerprint, types))
            keyed = [item for item in keyed if item[0] > after]
        page = keyed[: query.limit]
        items = []
        for _, row in page:
            distance = distances.get(row.id)
            items.append(
                PropertySummary(
                    id=row.id,
                    name=row.name,
                    kind=row.kind,
                    commune=self.render.commune(
                        row.commune_code, row.commune_name, row.commune_name_en, row.commune_unit_type
                    ),
                    location=Location(lat=row.lat, lon=row.lon),
                    is_sample=row.is_sample,
                    offers=found[row.id][1],
                    distance_m=round(distance) if distance is not None else None,
                )
            )
        next_cursor = encode_cursor(fingerprint, list(page[-1][0])) if len(keyed) > query.limit else None
        return PropertyPage(items=items, next_cursor=next_cursor)

    async def detail(self, property_id: UUID, stay: Stay | None, party: Party) -> PropertyDetail:
        """The listed property with its active room types and policies; with a ``stay``, its offers for
        ``party``. ``PropertyNotFound`` (404) otherwise."""
        rows = await repository.property_detail_rows(self.reader, property_id)
        if not rows:
            raise PropertyNotFound(f"no listed property {property_id}")
        first = rows[0]
        render = self.render
        description, description_locale = render.text(first.description)
        house_rules, house_rules_locale = render.text(first.house_rules)
        room_types = []
        for row in rows:
            if row.rt_id is None:
                continue
            name, name_locale = render.name(row.rt_name)
            text, text_locale = render.text(row.rt_description)
            room_types.append(
                RoomTypeDetail(
                    id=row.rt_id,
                    name=name,
                    name_locale=name_locale,
                    description=text,
                    description_locale=text_locale,
                    max_adults=row.rt_max_adults,
                    max_children=row.rt_max_children,
                    max_guests=row.rt_max_occupancy,
                    beds=[Bed(type=b["type"], count=b["count"]) for b in row.rt_beds],
                    size_m2=row.rt_size_m2,
                    amenities=list(row.rt_amenities),
                    photos=list(row.rt_photos),
                )
            )
        offers = None
        if stay is not None:
            found = await self._offers(stay, party, Area(), property_id=property_id)
            offers = found[property_id][1] if property_id in found else []
        return PropertyDetail(
            id=first.id,
            name=first.name,
            kind=first.kind,
            commune=render.commune(
                first.commune_code, first.commune_name, first.commune_name_en, first.commune_unit_type
            ),
            location=Location(lat=first.lat, lon=first.lon),
            address=first.address,
            phone=first.phone,
            email=first.email,
            check_in_time=first.check_in_time,
            check_out_time=first.check_out_time,
            currency=first.currency,
            description=description,
            description_locale=description_locale,
            house_rules=house_rules,
            house_rules_locale=house_rules_locale,
            amenities=list(first.amenities),
            photos=list(first.photos),
            is_sample=first.is_sample,
            cancellation_policy=policy_rules(first.cancellation_policy),
            tax_fees=render.tax_fee_rules(first.tax_fees, first.currency),
            room_types=room_types,
            offers=offers,
        )


_reservations = ReservationRow.__table__  # type: ignore[attr-defined]
_INSERT_COLUMNS = (
    "id", "code", "property_id", "room_type_id", "user_id", "source", "status", "check_in", "check_out", "nights",
    "rooms", "adults", "children", "guest_name", "guest_email", "guest_phone", "guest_nationality",
    "guest_passport_number", "lookup_token_hash", "currency", "total_amount", "price", "cancellation_policy",
    "guest_locale", "payment_status", "paid_amount", "refunded_amount", "disputed", "hold_expires_at",
    "confirmed_at", "created_at", "updated_at",
)  # fmt: skip
#: The reservation insert per dialect, built once with bind parameters; a taken code inserts nothing
#: (``ON CONFLICT (code) DO NOTHING``) and another is drawn, without aborting the transaction.
_INSERTS = {
    name: insert(_reservations)
    .values({column: bindparam(f"{column}_v") for column in _INSERT_COLUMNS})
    .on_conflict_do_nothing(index_elements=["code"])
    .returning(_reservations.c.id)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
#: Attempts at a fresh reservation code when the random one is taken (each collision has odds of about n / 10⁹).
_CODE_ATTEMPTS = 5


def may_see(row: Any, token: str | None, identity: Identity | None) -> bool:
    """Whether the caller may see the reservation ``row`` (with ``lookup_token_hash``, ``user_id``, ``owner_id``):
    its guest (``token``, the lookup token sent as ``X-Booking-Token``), the account that booked it or the
    property's owner. Callers answer 404 otherwise, exactly as for a code that does not exist."""
    if token is not None and verify_lookup_token(token, row.lookup_token_hash):
        return True
    return identity is not None and identity.id in (row.user_id, row.owner_id)


def effective_status(status: str, hold_expires_at: datetime | None, now: datetime) -> str:
    """The status a client sees: a ``held`` reservation whose hold lapsed is ``expired`` at once, whether or not
    the release job has run yet."""
    if status == ReservationStatus.HELD and hold_expires_at is not None and hold_expires_at <= now:
        return ReservationStatus.EXPIRED
    return status


def render_reservation(row: Any, render: Renderer, now: datetime, lookup_token: str | None = None) -> Reservation:
    """A reservation row (``repository.reservation_by_code`` columns) as the API shows it."""
    name, name_locale = render.name(row.room_type_name)
    return Reservation(
        code=row.code,
        status=effective_status(row.status, row.hold_expires_at, now),
        source=row.source,
        property=PropertyRef(
            id=row.property_id,
            name=row.property_name,
            room_type_id=row.room_type_id,
            room_type_name=name,
            room_type_name_locale=name_locale,
            check_in_time=row.check_in_time,
            check_out_time=row.check_out_time,
        ),
        check_in=row.check_in,
        check_out=row.check_out,
        nights=row.nights,
        rooms=row.rooms,
        adults=row.adults,
        children=row.children,
        guest=GuestOut(
            name=row.guest_name,
            nationality=row.guest_nationality,
            email=row.guest_email,
            phone=row.guest_phone,
            passport_number=row.guest_passport_number,
        ),
        price=render.price(row.price),
        cancellation_policy=cancellation_terms(row.cancellation_policy, row.check_in, row.check_in_time),
        hold_expires_at=row.hold_expires_at if row.status == ReservationStatus.HELD else None,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        checked_in_at=row.checked_in_at,
        cancelled_at=row.cancelled_at,
        payment=render.payment_state(row),
        lookup_token=lookup_token,
    )


def parse_stay(check_in: str, check_out: str, now: datetime, *, allow_past: bool = False) -> Stay:
    """Body dates as a validated ``Stay`` (422 naming the field otherwise; ``src/booking/stays.py``)."""
    return validate_stay(
        parse_local_date(check_in, "check_in", source="body"),
        parse_local_date(check_out, "check_out", source="body"),
        now=now,
        source="body",
        allow_past=allow_past,
    )


class CancellationRefunder(Protocol):
    """What cancelling does about money, provided by payments (booking does not import payments): refund
    ``refund_percent`` % of what was paid for the cancelled ``reservation`` (a ``repository.reservation_by_code``
    row), tell the guest, and return the refund entry, or ``None`` when nothing was paid or nothing is due."""

    async def __call__(
        self, session: AsyncSession, reservation: Any, refund_percent: int, now: datetime, *, by: UUID | None
    ) -> RefundOut | None: ...


class ReservationService:
    """Holds, reads and cancels reservations in the request's unit of work.

    The hold is the one mechanism of ``src/booking/inventory.py``: lapsed holds on the stay are released, then
    each night is taken with a conditional update in night order, all in this transaction (rolled back unless every
    night was taken); the reservation row is inserted in the same transaction. ``lock_timeout`` bounds every wait
    for a row lock on PostgreSQL (a timeout is 409 busy with ``Retry-After``).
    """

    def __init__(
        self,
        session: AsyncSession,
        locale: str,
        now: datetime,
        *,
        lookup_key: str,
        hold_minutes: int = 15,
        refunder: CancellationRefunder | None = None,
    ) -> None:
        self.session = session
        self.refunder = refunder
        self.render = Renderer(locale)
        self.now = now
        self.hold_minutes = hold_minutes
        self.lookup_key = lookup_key

    async def hold(
        self,
        body: BookingCreate,
        stay: Stay,
        guest: Guest,
        *,
        user_id: UUID | None,
        source: str = ReservationSource.APP,
        owner_id: UUID | None = None,
        room: repository.BookableRoomType | None = None,
    ) -> Reservation:
        """Take ``body.rooms`` rooms on every night of ``stay`` and insert the reservation: ``held`` until now +
        ``hold_minutes`` for the app, ``confirmed`` at once for a walk-in (``source=walk_in``, only by
        ``owner_id``, the property's owner). Returns it with its lookup token (shown once).

        Errors: ``RoomTypeNotFound`` (404: no such active room type in this listed property, or not the owner's),
        ``PartyTooLarge`` (422), ``SoldOut`` (409, ``night`` = first night short), ``StayRestricted`` (409:
        minimum stay, closed to arrival or departure), ``Busy`` (409 on a lock timeout).
        """
        session, now = self.session, self.now
        if room is None:
            room = await self._bookable(body, stay)
        if room is None or (owner_id is not None and room.owner_id != owner_id):
            raise RoomTypeNotFound(f"no room type {body.room_type_id} for sale in property {body.property_id}")
        if not party_fits(
            body.adults,
            body.children,
            body.rooms,
            max_adults=room.max_adults,
            max_children=room.max_children,
            max_occupancy=room.max_occupancy,
        ):
            raise PartyTooLarge(
                f"{body.rooms} room(s) of this type host at most {room.max_adults * body.rooms} adults, "
                f"{room.max_children * body.rooms} children and {room.max_occupancy * body.rooms} guests, "
                "with at least one adult per room"
            )
        if room.has_lapsed_holds:
            await inventory.release_expired_holds(
                session, now, room_type_id=body.room_type_id, check_in=stay.check_in, check_out=stay.check_out
            )
        taken = await inventory.take_stay(session, body.room_type_id, stay.check_in, stay.check_out, body.rooms, now)
        if not isinstance(taken, list):
            if await inventory.for_sale(session, body.room_type_id, taken):
                raise SoldOut(
                    f"fewer than {body.rooms} room(s) left on the night of {taken.isoformat()}",
                    night=taken.isoformat(),
                )
            raise NotForSale(
                f"the night of {taken.isoformat()} is not on sale (no rate set, stop-sell, or not opened)",
                night=taken.isoformat(),
            )
        arrival = taken[0]
        if arrival.closed_to_arrival:
            raise StayRestricted(f"arrival on {stay.check_in.isoformat()} is closed", rule="closed_to_arrival")
        if stay.nights < arrival.min_stay:
            raise StayRestricted(
                f"stays arriving on {stay.check_in.isoformat()} are at least {arrival.min_stay} nights",
                rule="min_stay",
                min_stay=arrival.min_stay,
            )
        if room.departure_closed:
            raise StayRestricted(f"departure on {stay.check_out.isoformat()} is closed", rule="closed_to_departure")
        priced = quote(
            [(n.night, n.price) for n in taken],
            rooms=body.rooms,
            adults=body.adults,
            children=body.children,
            lines=parse_tax_fees(room.tax_fees),
            currency=room.currency,
        )
        walk_in = source == ReservationSource.WALK_IN
        values: dict[str, Any] = {
            "property_id": body.property_id,
            "room_type_id": body.room_type_id,
            "user_id": user_id,
            "source": source,
            "status": ReservationStatus.CONFIRMED if walk_in else ReservationStatus.HELD,
            "check_in": stay.check_in,
            "check_out": stay.check_out,
            "nights": stay.nights,
            "rooms": body.rooms,
            "adults": body.adults,
            "children": body.children,
            "guest_name": guest.name,
            "guest_email": guest.email,
            "guest_phone": guest.phone,
            "guest_nationality": guest.nationality,
            "guest_passport_number": guest.passport_number,
            "currency": room.currency,
            "total_amount": priced.total,
            "price": priced.snapshot(),
            "cancellation_policy": policy_json(parse_policy(room.cancellation_policy)),
            "guest_locale": self.render.locale,
            "payment_status": "unpaid",
            "paid_amount": 0,
            "refunded_amount": 0,
            "disputed": False,
            "hold_expires_at": None if walk_in else now + timedelta(minutes=self.hold_minutes),
            "confirmed_at": now if walk_in else None,
            "created_at": now,
            "updated_at": now,
        }
        code, token = await self._insert(values)
        row = SimpleNamespace(  # the reservation as it would be read back (``repository.reservation_by_code``)
            **values,
            code=code,
            owner_id=room.owner_id,
            property_name=room.property_name,
            check_in_time=room.check_in_time,
            check_out_time=room.check_out_time,
            room_type_name=room.room_type_name,
            checked_in_at=None,
            cancelled_at=None,
        )
        return render_reservation(row, self.render, now, lookup_token=token)

    async def create(
        self,
        body: BookingCreate,
        idempotency_key: str | None,
        identity: Identity | None,
        *,
        source: str = ReservationSource.APP,
        route: str = "POST /v1/bookings",
    ) -> tuple[int, dict[str, Any], bool]:
        """``POST /v1/bookings`` (and the owner's walk-in, ``source=walk_in``: the caller must own the property):
        validate, then hold under the caller's ``Idempotency-Key`` in one transaction.

        Returns ``(status, body, replayed)``: ``(201, reservation, False)`` the first time; the stored first
        response and ``True`` for the same key and body again (``src/kernel/idempotency.py``). Errors: those of
        ``hold``, ``BadRequest`` (400) without a key, ``IdempotencyKeyReused`` (422), 422 for bad dates or guest.
        """
        key = idempotency.check_key(idempotency_key)
        stay = parse_stay(body.check_in, body.check_out, self.now)
        walk_in = source == ReservationSource.WALK_IN
        guest = clean_guest(
            name=body.guest.name,
            nationality=body.guest.nationality,
            email=body.guest.email,
            phone=body.guest.phone,
            passport_number=body.guest.passport_number,
            require_contact=not walk_in,
        )
        user_id = identity.id if identity is not None else None
        scope = idempotency.scope_of(user_id)
        digest = idempotency.fingerprint(route, msgspec.to_builtins(body))
        room = await self._bookable(body, stay, (scope, key))
        found = room.row if room is not None else await idempotency.stored_answer(self.session, scope=scope, key=key)
        replay = idempotency.replay_of(found, route=route, fingerprint=digest, now=self.now)
        if replay is not None:
            answer = dict(replay.body)
            if isinstance(answer.get("code"), str):  # the token is never stored in clear: derive it again
                answer["lookup_token"] = derive_lookup_token(self.lookup_key, answer["code"])[0]
            return replay.status_code, answer, True
        reservation = await self.hold(
            body,
            stay,
            guest,
            user_id=None if walk_in else user_id,
            source=source,
            owner_id=user_id if walk_in else None,
            room=room,
        )
        content = msgspec.to_builtins(reservation)
        await idempotency.record(
            self.session,
            scope=scope,
            key=key,
            route=route,
            fingerprint=digest,
            status_code=201,
            body={**content, "lookup_token": None},
            now=self.now,
        )
        return 201, content, False

    async def _bookable(
        self, body: BookingCreate, stay: Stay, idempotency_key: tuple[str, str] | None = None
    ) -> repository.BookableRoomType | None:
        """The room type to book, read in the booking transaction; on PostgreSQL the same statement sets its
        ``lock_timeout`` (a separate ``SET LOCAL`` when the room type does not exist, so that any later wait is
        bounded too)."""
        session = self.session
        postgresql = is_postgresql(session)
        room = await repository.bookable_room_type(
            connection_reader(await session.connection()),
            body.property_id,
            body.room_type_id,
            stay.check_in,
            stay.check_out,
            self.now,
            lock_timeout_ms=LOCK_TIMEOUT_MS if postgresql else None,
            idempotency_key=idempotency_key,
        )
        if room is None:
            await set_lock_timeout(session, LOCK_TIMEOUT_MS)
        return room

    async def _insert(self, values: dict[str, Any]) -> tuple[str, str]:
        """Insert the reservation under a fresh random code (retried on the rare collision, without aborting the
        transaction: ``ON CONFLICT (code) DO NOTHING``); the code."""
        statement = _INSERTS[dialect_of(self.session)]
        connection = await self.session.connection()
        for _ in range(_CODE_ATTEMPTS):
            code = codes.new_code()
            token, token_hash = derive_lookup_token(self.lookup_key, code)
            parameters = {f"{k}_v": v for k, v in values.items()}
            parameters.update(id_v=uuid4(), code_v=code, lookup_token_hash_v=token_hash)
            if (await connection.execute(statement, parameters)).first() is not None:
                return code, token
        raise RuntimeError("could not draw a free reservation code")  # pragma: no cover (odds ~10⁻⁴⁵)

    async def _find(self, code: str) -> Row[Any]:
        canonical = codes.normalise(code)
        if canonical is None:
            raise ReservationNotFound(f"no reservation {code!r}")
        row = await repository.reservation_by_code(connection_reader(await self.session.connection()), canonical)
        if row is None:
            raise ReservationNotFound(f"no reservation {code!r}")
        return row

    async def get(self, code: str, token: str | None, identity: Identity | None) -> Reservation:
        """The reservation for its guest (``token``, the lookup token), the account that booked it or the
        property's owner; ``ReservationNotFound`` (404) for anyone else, exactly as for a code that does not
        exist."""
        row = await self._find(code)
        if not may_see(row, token, identity):
            raise ReservationNotFound(f"no reservation {code!r}")
        return render_reservation(row, self.render, self.now)

    async def cancel(self, code: str, token: str | None, identity: Identity | None) -> Cancellation:
        """Cancel a held or confirmed reservation (its guest, booker or the property's owner) and give its nights
        back, once: the status moves with a conditional update, so a concurrent cancel or expiry cannot release
        them twice. Cancelling a cancelled reservation answers its current state. ``InvalidTransition`` (409)
        for a checked-in, no-show or expired one. The refund percent comes from the policy copied at booking, at
        this instant; what it refunds is the ``refunder``'s (payments) work, in this transaction."""
        row = await self._find(code)
        if not may_see(row, token, identity):
            raise ReservationNotFound(f"no reservation {code!r}")
        session, now = self.session, self.now
        await set_lock_timeout(session, LOCK_TIMEOUT_MS)
        moved = (
            await session.exec(
                update(_reservations)
                .where(
                    _reservations.c.id == row.id,
                    or_(
                        _reservations.c.status == ReservationStatus.CONFIRMED,
                        and_(
                            _reservations.c.status == ReservationStatus.HELD,
                            _reservations.c.hold_expires_at > now,
                        ),
                    ),
                )
                .values(status=ReservationStatus.CANCELLED, cancelled_at=now, released_at=now, updated_at=now)
                .returning(_reservations.c.id)
            )
        ).first()
        if moved is not None:
            await inventory.give_back(session, row.room_type_id, row.check_in, row.check_out, row.rooms, now)
        else:
            status_now = select(_reservations.c.status, _reservations.c.hold_expires_at).where(
                _reservations.c.id == row.id
            )
            found = (await session.exec(status_now)).one()
            current = effective_status(found[0], found[1], now)
            if current != ReservationStatus.CANCELLED:
                raise InvalidTransition(f"a reservation that is {current} cannot be cancelled")
        if moved is not None:  # as it now stands, without reading it again
            fresh: Any = SimpleNamespace(**{**row._mapping, "status": ReservationStatus.CANCELLED, "cancelled_at": now})
        else:  # cancelled by a concurrent request since it was read
            fresh = await self._find(row.code)
        percent = refund_percent_at(
            parse_policy(fresh.cancellation_policy), fresh.check_in, fresh.check_in_time, fresh.cancelled_at or now
        )
        refund = None
        if self.refunder is not None:
            refund = await self.refunder(session, fresh, percent, now, by=identity.id if identity is not None else None)
            fresh = await self._find(row.code)  # its payment state may have moved (a refund, a QR closed)
        return Cancellation(
            reservation=render_reservation(fresh, self.render, now), refund_percent=percent, refund=refund
        )
