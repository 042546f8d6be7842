"""The fictional sample properties shipped for the embedded default (``data/booking/sample_properties.json``).

``laocai serve`` on SQLite loads them before it builds the search index (``LAOCAI_LOAD_SAMPLES``), and
``laocai load-samples`` loads them anywhere, so a fresh clone can take a booking out of the box. Every name, room,
price, rule and fee in the file is invented; each property is placed in a real 2025 commune near a destination of
the shipped catalogue, and is flagged ``is_sample``.

Loading is an idempotent upsert keyed by stable ids (``uuid5`` of ``SAMPLE_NAMESPACE`` and the sample's key):

- the owner account (``samples@laocai.travel``, role ``owner``) with an unusable password hash: nobody can log in
  as it; an account that already has that address (in any spelling) is reused and given the owner role;
- the properties and room types: inserted when missing, their fields brought in line with the file when they
  differ (a row that already matches is not written). ``is_listed`` and a room type's ``ical_secret`` and
  ``is_active`` are set on insert only, so an admin's unlisting, a rotated iCal URL or a retired room type
  survive reloads;
- a rolling calendar: one ``inventory_night`` per room type and night ``today <= night < today + days`` (today in
  Asia/Ho_Chi_Minh) with the file's allotment and rate; Friday and Saturday nights cost
  ``weekend_uplift_percent`` more. Only missing nights are inserted (one bulk ``INSERT ... ON CONFLICT DO
  NOTHING``); existing nights, with their ``sold``, ``blocked``, rates and restrictions, are never touched, so a
  restart keeps every booking.

Money is integer VND (ISO 4217 ``VND`` has no minor unit); coordinates are WGS84 degrees.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

import msgspec
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.events import property_changed
from src.booking.models import InventoryNight, Property, RoomType
from src.booking.policy import CancellationPolicy, policy_json
from src.booking.pricing import TaxFeeLine
from src.kernel.auth import repository as accounts
from src.kernel.auth.credentials import normalise_email
from src.kernel.auth.models import Role, User, UserRole
from src.kernel.config import PROJECT_ROOT
from src.kernel.db import upsert_insert
from src.kernel.localtime import local_today

#: The shipped file of sample properties.
SAMPLES_FILE = PROJECT_ROOT / "data" / "booking" / "sample_properties.json"
#: Namespace of the samples' ids: ``uuid5(SAMPLE_NAMESPACE, "property:<key>")``, ``"room_type:<key>:<room key>"``,
#: ``"user:<email>"``. Never change it: ids of rows already loaded would no longer match.
SAMPLE_NAMESPACE = UUID("5d1f0a9e-3c1b-4f43-9f8e-2b7c6a1d4e10")
#: Nights opened ahead by default (today included).
DEFAULT_DAYS = 365
#: ``date.weekday()`` of Friday and Saturday: the nights before a day off.
_WEEKEND_NIGHTS = frozenset({4, 5})

_Text = dict[str, Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]]
_Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
_Amount = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class SampleBed(msgspec.Struct, forbid_unknown_fields=True):
    """``count`` beds of ``type`` (``double``, ``single``, ``queen``, ``bunk``, ``mattress``)."""

    type: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{1,32}$")]
    count: Annotated[int, msgspec.Meta(ge=1, le=20)]


class SampleRoomType(msgspec.Struct, forbid_unknown_fields=True):
    """A room type of a sample: what ``RoomType`` holds, plus ``allotment`` (rooms offered each night) and
    ``price`` (weeknight rate of one room, integer VND)."""

    key: _Key
    name: _Text
    description: _Text
    max_adults: Annotated[int, msgspec.Meta(ge=1, le=20)]
    max_children: Annotated[int, msgspec.Meta(ge=0, le=20)]
    max_occupancy: Annotated[int, msgspec.Meta(ge=1, le=30)]
    beds: list[SampleBed]
    size_m2: Annotated[float, msgspec.Meta(gt=0, le=1000)]
    amenities: list[str]
    allotment: Annotated[int, msgspec.Meta(ge=1, le=100)]
    price: _Amount


class SampleProperty(msgspec.Struct, forbid_unknown_fields=True):
    """One sample property. ``near`` is the ``source_id`` of the shipped destination it is placed by
    (``geonames:<id>`` or ``vn-adm-2025:<commune code>``); ``lat``/``lon`` are WGS84 degrees inside the polygon of
    ``commune_code``; times are local ``HH:MM:SS``; ``weekend_uplift_percent`` raises Friday and Saturday nights."""

    key: _Key
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Literal["hotel", "homestay", "guesthouse", "ecolodge"]
    commune_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}$")]
    near: str
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    address: Annotated[str, msgspec.Meta(max_length=300)]
    check_in_time: time
    check_out_time: time
    currency: Literal["VND"]
    weekend_uplift_percent: Annotated[int, msgspec.Meta(ge=0, le=100)]
    description: _Text
    house_rules: _Text
    amenities: list[str]
    tax_fees: list[TaxFeeLine]
    cancellation_policy: CancellationPolicy
    room_types: Annotated[list[SampleRoomType], msgspec.Meta(min_length=1, max_length=10)]


class SampleOwner(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    display_name: str
    locale: str


class SampleFile(msgspec.Struct, forbid_unknown_fields=True):
    """The whole file: an ``about`` note, the owner account and the properties."""

    about: str
    owner: SampleOwner
    properties: list[SampleProperty]

    def __post_init__(self) -> None:
        keys = [prop.key for prop in self.properties]
        if len(set(keys)) != len(keys):
            raise ValueError("sample property keys must be unique")
        for prop in self.properties:
            room_keys = [room.key for room in prop.room_types]
            if len(set(room_keys)) != len(room_keys):
                raise ValueError(f"{prop.key}: room type keys must be unique")
            codes = [line.code for line in prop.tax_fees]
            if len(set(codes)) != len(codes):
                raise ValueError(f"{prop.key}: tax and fee codes must be unique")


def read_samples(path: Path = SAMPLES_FILE) -> SampleFile:
    """Parse and validate the samples file; raises ``msgspec.ValidationError`` (or ``ValueError``) on a bad one."""
    return msgspec.json.decode(path.read_bytes(), type=SampleFile, strict=True)


def sample_id(name: str) -> UUID:
    """The stable id of a sample row (``"property:<key>"``, ``"room_type:<key>:<room key>"``, ``"user:<email>"``)."""
    return uuid5(SAMPLE_NAMESPACE, name)


def nightly_rate(price: int, night: date, weekend_uplift_percent: int) -> int:
    """The rate of one room on ``night`` (integer VND): ``price`` on Sunday to Thursday nights, ``price`` raised by
    ``weekend_uplift_percent`` (rounded down to a whole đồng) on Friday and Saturday nights."""
    if night.weekday() in _WEEKEND_NIGHTS:
        return price * (100 + weekend_uplift_percent) // 100
    return price


@dataclass(frozen=True, slots=True)
class SampleReport:
    """What one load did. Counts of rows inserted and updated; ``nights_inserted`` new inventory nights in the
    window ``first_night <= night < end_night`` (local dates); ``changed``: ids of the properties announced as
    changed (one of their rows was written)."""

    owner_created: bool
    properties_inserted: int
    properties_updated: int
    room_types_inserted: int
    room_types_updated: int
    nights_inserted: int
    first_night: date
    end_night: date
    changed: tuple[UUID, ...]

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"owner {'created' if self.owner_created else 'kept'}; properties +{self.properties_inserted} "
            f"~{self.properties_updated}; room types +{self.room_types_inserted} ~{self.room_types_updated}; "
            f"nights +{self.nights_inserted} ({self.first_night.isoformat()} to {self.end_night.isoformat()}, "
            f"end excluded)"
        )


def _property_values(sample: SampleProperty, owner_id: UUID) -> dict[str, Any]:
    """The columns of a sample's ``property`` row that the file decides."""
    return {
        "owner_id": owner_id,
        "name": sample.name,
        "kind": sample.kind,
        "commune_code": sample.commune_code,
        "lat": sample.lat,
        "lon": sample.lon,
        "address": sample.address,
        "check_in_time": sample.check_in_time,
        "check_out_time": sample.check_out_time,
        "currency": sample.currency,
        "description": dict(sample.description),
        "house_rules": dict(sample.house_rules),
        "amenities": list(sample.amenities),
        "photos": [],
        "cancellation_policy": policy_json(sample.cancellation_policy),
        "tax_fees": [msgspec.to_builtins(line) for line in sample.tax_fees],
        "is_sample": True,
    }


def _room_type_values(room: SampleRoomType, property_id: UUID) -> dict[str, Any]:
    """The columns of a sample room type's row that the file decides."""
    return {
        "property_id": property_id,
        "name": dict(room.name),
        "description": dict(room.description),
        "max_adults": room.max_adults,
        "max_children": room.max_children,
        "max_occupancy": room.max_occupancy,
        "beds": [msgspec.to_builtins(bed) for bed in room.beds],
        "size_m2": room.size_m2,
        "amenities": list(room.amenities),
        "photos": [],
    }


def _apply(row: Any, values: dict[str, Any], now: datetime) -> bool:
    """Set the fields of ``row`` that differ from ``values``; True when one did (``updated_at`` is then ``now``)."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.updated_at = now
    return changed


async def _owner(session: AsyncSession, owner: SampleOwner, now: datetime) -> tuple[UUID, bool]:
    """The sample owner's id, and whether the account was created now."""
    display, key = normalise_email(owner.email)
    user = await accounts.user_by_email_key(session, key)
    if user is not None:
        roles = (await accounts.roles_of(session, [user.id])).get(user.id, [])
        if Role.OWNER.value not in roles:
            session.add(UserRole(user_id=user.id, role=Role.OWNER.value))
            await session.flush()
        return user.id, False
    user = User(
        id=sample_id(f"user:{key}"),
        email=display,
        email_key=key,
        display_name=owner.display_name,
        locale=owner.locale,
        # Not a PHC string: Argon2 verification refuses it, so no password ever matches (the account cannot log in).
        password_hash="!unusable:" + secrets.token_hex(32),
        created_at=now,
        updated_at=now,
    )
    await accounts.add_user(session, user, [Role.OWNER.value])
    return user.id, True


def _insert_ignoring_conflicts(session: AsyncSession) -> Any:
    """``INSERT INTO inventory_night ... ON CONFLICT (room_type_id, night) DO NOTHING`` for the session's engine."""
    insert = upsert_insert(session)
    table = InventoryNight.__table__  # type: ignore[attr-defined]
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.room_type_id, table.c.night])


async def _count_nights(session: AsyncSession, room_type_ids: Sequence[UUID], start: date, end: date) -> int:
    query = select(func.count()).where(
        col(InventoryNight.room_type_id).in_(room_type_ids),
        col(InventoryNight.night) >= start,
        col(InventoryNight.night) < end,
    )
    return int((await session.exec(query)).one())


async def _open_calendars(
    session: AsyncSession,
    rooms: Sequence[tuple[UUID, SampleRoomType, int]],
    start: date,
    end: date,
    now: datetime,
) -> tuple[int, set[UUID]]:
    """Insert the missing nights ``start <= night < end`` of each ``(room type id, room, weekend uplift %)``; the
    number inserted and the room types that got at least one."""
    ids = [room_type_id for room_type_id, _, _ in rooms]
    existing = await session.exec(
        select(InventoryNight.room_type_id, func.count())
        .where(
            col(InventoryNight.room_type_id).in_(ids),
            col(InventoryNight.night) >= start,
            col(InventoryNight.night) < end,
        )
        .group_by(col(InventoryNight.room_type_id))
    )
    have = {room_type_id: int(count) for room_type_id, count in existing}
    window = (end - start).days
    nights = [start + timedelta(days=offset) for offset in range(window)]
    rows: list[dict[str, Any]] = []
    grown: set[UUID] = set()
    for room_type_id, room, uplift in rooms:
        if have.get(room_type_id, 0) >= window:
            continue  # every night is there already: nothing to send
        grown.add(room_type_id)
        rows.extend(
            {
                "room_type_id": room_type_id,
                "night": night,
                "allotment": room.allotment,
                "sold": 0,
                "blocked": 0,
                "stop_sell": False,
                "price": nightly_rate(room.price, night, uplift),
                "min_stay": 1,
                "closed_to_arrival": False,
                "closed_to_departure": False,
                "updated_at": now,
            }
            for night in nights
        )
    if not rows:
        return 0, set()
    before = sum(have.values())
    # One statement compiled once, executed for all rows (the driver's executemany; SQLAlchemy batches it into
    # multi-row VALUES where the dialect supports that). A statement with 15k literal VALUES tuples would spend
    # seconds in the SQL compiler instead.
    connection = await session.connection()
    await connection.execute(_insert_ignoring_conflicts(session), rows)
    # Counted, not taken from rowcount: drivers disagree on it for ON CONFLICT DO NOTHING.
    return await _count_nights(session, ids, start, end) - before, grown


async def load_samples(
    session: AsyncSession,
    now: datetime,
    *,
    days: int = DEFAULT_DAYS,
    path: Path = SAMPLES_FILE,
    announce: bool = True,
) -> SampleReport:
    """Upsert the sample owner, properties, room types and the calendar ``today <= night < today + days`` (today
    in Vietnam at ``now``, aware) in ``session``'s unit of work (flushed, never committed).

    ``announce``: enqueue ``booking.property_changed`` for the properties whose rows were written (sent after the
    commit). Pass False where no job backend is bound to the session's engine (CLI commands); the search index then
    converges through its start-time check and periodic job.

    Raises:
        msgspec.ValidationError, ValueError: the file is invalid (nothing is written).
        sqlalchemy.exc.IntegrityError: a sample names a commune the database does not hold (import the catalogue
            first).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    samples = read_samples(path)
    owner_id, owner_created = await _owner(session, samples.owner, now)
    property_ids = {sample.key: sample_id(f"property:{sample.key}") for sample in samples.properties}
    found = await session.exec(select(Property).where(col(Property.id).in_(list(property_ids.values()))))
    existing_properties = {row.id: row for row in found}
    changed: set[UUID] = set()
    inserted = updated = 0
    for sample in samples.properties:
        property_id = property_ids[sample.key]
        values = _property_values(sample, owner_id)
        current = existing_properties.get(property_id)
        if current is None:
            session.add(Property(id=property_id, is_listed=True, created_at=now, updated_at=now, **values))
            inserted += 1
            changed.add(property_id)
        elif _apply(current, values, now):
            updated += 1
            changed.add(property_id)
    await session.flush()  # room types reference the properties

    room_ids = {
        (sample.key, room.key): sample_id(f"room_type:{sample.key}:{room.key}")
        for sample in samples.properties
        for room in sample.room_types
    }
    found_rooms = await session.exec(select(RoomType).where(col(RoomType.id).in_(list(room_ids.values()))))
    existing_rooms = {row.id: row for row in found_rooms}
    rooms_inserted = rooms_updated = 0
    calendar: list[tuple[UUID, SampleRoomType, int]] = []
    owner_of: dict[UUID, UUID] = {}
    for sample in samples.properties:
        property_id = property_ids[sample.key]
        for room in sample.room_types:
            room_type_id = room_ids[(sample.key, room.key)]
            values = _room_type_values(room, property_id)
            current_room = existing_rooms.get(room_type_id)
            if current_room is None:
                session.add(
                    RoomType(
                        id=room_type_id,
                        ical_secret=secrets.token_urlsafe(32),
                        is_active=True,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
                )
                rooms_inserted += 1
                changed.add(property_id)
            elif _apply(current_room, values, now):
                rooms_updated += 1
                changed.add(property_id)
            calendar.append((room_type_id, room, sample.weekend_uplift_percent))
            owner_of[room_type_id] = property_id
    await session.flush()  # nights reference the room types

    start = local_today(now)
    end = start + timedelta(days=days)
    nights_inserted, grown = await _open_calendars(session, calendar, start, end, now)
    changed.update(owner_of[room_type_id] for room_type_id in grown)
    if announce and changed:
        property_changed(session, changed)
    return SampleReport(
        owner_created=owner_created,
        properties_inserted=inserted,
        properties_updated=updated,
        room_types_inserted=rooms_inserted,
        room_types_updated=rooms_updated,
        nights_inserted=nights_inserted,
        first_night=start,
        end_night=end,
        changed=tuple(sorted(changed)),
    )


__all__ = [
    "DEFAULT_DAYS",
    "SAMPLES_FILE",
    "SAMPLE_NAMESPACE",
    "SampleFile",
    "SampleProperty",
    "SampleReport",
    "SampleRoomType",
    "load_samples",
    "nightly_rate",
    "read_samples",
    "sample_id",
]
