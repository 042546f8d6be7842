"""Taking and giving back nightly inventory: the one mechanism that keeps every room type from being oversold.

Correct on PostgreSQL and on SQLite alike (STACK-NOTES.md, "Concurrency"): inside the reservation's transaction,
the stay's nights are taken with one conditional ``UPDATE ... SET sold = sold + :rooms WHERE ... AND allotment -
sold - blocked >= :rooms RETURNING ...`` over the stay's rows, which the same statement first locks in night order
(a materialised ``SELECT ... ORDER BY night FOR UPDATE``), so two overlapping stays lock rows in the same order and
cannot deadlock; if any night is not taken the caller raises and the whole transaction rolls back, so a stay is
held on every night or on none. ``take_night`` is the same rule for one night. ``CHECK (sold <= allotment)`` is
the net under the rule. On PostgreSQL the row lock of a night serialises the takers of that night; on SQLite
``BEGIN IMMEDIATE`` serialises every writer.

Lock order, for every writer of inventory: reservations by id first (releasing expired holds), then inventory rows
by ``(room_type_id, night)``.

Expired holds never count as sold: a held reservation whose ``hold_expires_at`` has passed gives its nights back
inside the very transaction that needs them (``release_expired_holds`` with the stay's room type and nights), and
a periodic job releases the rest; readers of availability add back what lapsed holds still occupy
(``src.booking.repository.lapsed_rooms``). Releasing is conditional on the reservation's status (``held`` ->
``expired``), so two transactions never give the same nights back twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, bindparam, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.models import ACTIVE_STATUSES, InventoryNight, Reservation, ReservationStatus
from src.kernel.localtime import nights as stay_nights


@dataclass(frozen=True, slots=True)
class TakenNight:
    """One night taken for a stay, as the locked row stood: its rate (minor units of the property's currency) and
    the restrictions that apply to a stay arriving on it."""

    night: date
    price: int
    min_stay: int
    closed_to_arrival: bool


#: How long a statement of a transaction that writes inventory waits for a row lock before it gives up (PostgreSQL
#: ``lock_timeout``, milliseconds): the request then answers 409 busy with ``Retry-After``.
LOCK_TIMEOUT_MS = 2000

_inventory = InventoryNight.__table__  # type: ignore[attr-defined]
_reservation = Reservation.__table__  # type: ignore[attr-defined]

#: Lapsed holds overlapping one stay of one room type (the booking transaction's own release).
_LAPSED_ON_STAY = (
    select(_reservation.c.id)
    .where(
        _reservation.c.status == ReservationStatus.HELD,
        _reservation.c.hold_expires_at <= bindparam("now"),
        _reservation.c.room_type_id == bindparam("room_type_id"),
        _reservation.c.check_in < bindparam("check_out"),
        _reservation.c.check_out > bindparam("check_in"),
    )
    .order_by(_reservation.c.id)
    .limit(bindparam("limit"))
)


#: The stay's rows, locked in night order (PostgreSQL's LockRows sits above the sort: rows are locked in ORDER BY
#: order; SQLite renders no FOR UPDATE, its write lock is already held). Materialised, so it runs before the update.
_STAY_ROWS = (
    select(_inventory.c.room_type_id, _inventory.c.night)
    .where(
        _inventory.c.room_type_id == bindparam("b_room_type_id"),
        _inventory.c.night >= bindparam("b_check_in"),
        _inventory.c.night < bindparam("b_check_out"),
    )
    .order_by(_inventory.c.night)
    .with_for_update()
    .cte("stay_rows")
    .prefix_with("MATERIALIZED")
)
#: Every night of a stay taken in one statement over the rows locked in night order (STACK-NOTES: "update every
#: night in one statement or in night order"): the nights that qualify get ``sold + rooms``; the caller compares
#: the nights returned with the stay and rolls back unless all were taken.
_TAKE_STAY = (
    update(_inventory)
    .where(
        _inventory.c.room_type_id == _STAY_ROWS.c.room_type_id,
        _inventory.c.night == _STAY_ROWS.c.night,
        _inventory.c.stop_sell.is_(False),
        _inventory.c.price.is_not(None),
        _inventory.c.allotment - _inventory.c.sold - _inventory.c.blocked >= bindparam("b_rooms"),
    )
    .values(sold=_inventory.c.sold + bindparam("b_add"), updated_at=bindparam("b_now"))
    .returning(_inventory.c.night, _inventory.c.price, _inventory.c.min_stay, _inventory.c.closed_to_arrival)
)


_GIVE_BACK = (
    update(_inventory)
    .where(_inventory.c.room_type_id == _STAY_ROWS.c.room_type_id, _inventory.c.night == _STAY_ROWS.c.night)
    .values(sold=_inventory.c.sold - bindparam("b_rooms"), updated_at=bindparam("b_now"))
)


async def take_stay(
    session: AsyncSession, room_type_id: UUID, check_in: date, check_out: date, rooms: int, now: datetime
) -> list[TakenNight] | date:
    """Take ``rooms`` rooms on every night of ``[check_in, check_out)``: one statement that locks the stay's rows
    in night order, then adds ``rooms`` to ``sold`` on each night that can sell them (``take_night``'s conditions).

    Returns the taken nights in order, or the first night that could not be taken; in that case the other nights
    stay incremented in this transaction, and the caller must raise so the transaction rolls back (all or nothing).
    """
    connection = await session.connection()
    parameters = {
        "b_room_type_id": room_type_id,
        "b_check_in": check_in,
        "b_check_out": check_out,
        "b_rooms": rooms,
        "b_add": rooms,
        "b_now": now,
    }
    rows = {row.night: row for row in (await connection.execute(_TAKE_STAY, parameters)).all()}
    taken: list[TakenNight] = []
    for night in stay_nights(check_in, check_out):
        row = rows.get(night)
        if row is None:
            return night
        taken.append(
            TakenNight(night=night, price=int(row.price), min_stay=int(row.min_stay), closed_to_arrival=bool(row[3]))
        )
    return taken


async def take_night(
    session: AsyncSession, room_type_id: UUID, night: date, rooms: int, now: datetime
) -> TakenNight | None:
    """``take_stay`` for the one night ``night``: the taken night, or ``None`` when it could not be taken (nothing
    changed)."""
    taken = await take_stay(session, room_type_id, night, night + timedelta(days=1), rooms, now)
    return taken[0] if isinstance(taken, list) else None


async def give_back(
    session: AsyncSession, room_type_id: UUID, check_in: date, check_out: date, rooms: int, now: datetime
) -> None:
    """Subtract ``rooms`` from ``sold`` on every night of ``[check_in, check_out)``, one statement over the rows
    locked in night order as a take locks them (a cancelled, expired or no-show reservation). The caller has already
    moved the reservation out of an active status with a conditional update, so each reservation's nights are
    given back once."""
    connection = await session.connection()
    parameters = {
        "b_room_type_id": room_type_id,
        "b_check_in": check_in,
        "b_check_out": check_out,
        "b_rooms": rooms,
        "b_now": now,
    }
    await connection.execute(_GIVE_BACK, parameters)


async def for_sale(session: AsyncSession, room_type_id: UUID, night: date) -> bool:
    """Whether ``night`` is open for sale (a row with a rate and no stop-sell), whatever is left of it: a stay
    refused on that night is then sold out rather than not on sale (read on the refusal path only)."""
    statement = select(_inventory.c.price, _inventory.c.stop_sell).where(
        _inventory.c.room_type_id == room_type_id, _inventory.c.night == night
    )
    row = (await session.exec(statement)).first()
    return row is not None and row[0] is not None and not row[1]


async def release_expired_holds(
    session: AsyncSession,
    now: datetime,
    *,
    room_type_id: UUID | None = None,
    check_in: date | None = None,
    check_out: date | None = None,
    limit: int = 500,
) -> list[UUID]:
    """Expire held reservations whose hold has lapsed at ``now`` and give their nights back; the ids expired.

    With ``room_type_id`` (and the stay's dates) only the holds that overlap that stay are looked at: the booking
    transaction calls it before taking nights, so a lapsed hold never blocks a new one. Without, up to ``limit``
    lapsed holds anywhere (the periodic job). Reservations are expired one by one in id order with a conditional
    update (``status = 'held'``), so a hold expired by a concurrent transaction is skipped, never released twice.
    """
    reservation = _reservation
    if room_type_id is not None and check_in is not None and check_out is not None:
        connection = await session.connection()
        parameters = {
            "now": now,
            "room_type_id": room_type_id,
            "check_in": check_in,
            "check_out": check_out,
            "limit": limit,
        }
        candidates: Sequence[Any] = (await connection.execute(_LAPSED_ON_STAY, parameters)).scalars().all()
    else:
        conditions: list[Any] = [
            reservation.c.status == ReservationStatus.HELD,
            reservation.c.hold_expires_at <= now,
        ]
        if room_type_id is not None:
            conditions.append(reservation.c.room_type_id == room_type_id)
        candidates = (
            await session.exec(
                select(reservation.c.id).where(and_(*conditions)).order_by(reservation.c.id).limit(limit)
            )
        ).all()
    expired: list[UUID] = []
    for reservation_id in candidates:
        row = (
            await session.exec(
                update(reservation)
                .where(
                    reservation.c.id == reservation_id,
                    reservation.c.status == ReservationStatus.HELD,
                    reservation.c.hold_expires_at <= now,  # a hold extended since it was read (paying) stays
                )
                .values(status=ReservationStatus.EXPIRED, released_at=now, updated_at=now)
                .returning(
                    reservation.c.room_type_id, reservation.c.check_in, reservation.c.check_out, reservation.c.rooms
                )
            )
        ).first()
        if row is None:
            continue
        await give_back(session, row.room_type_id, row.check_in, row.check_out, row.rooms, now)
        expired.append(reservation_id)
    return expired


async def sold_by_reservations(session: AsyncSession, room_type_id: UUID, night: date) -> int:
    """Rooms of active reservations on ``night``, counted from the reservations themselves (a consistency check of
    ``inventory_night.sold``, used by tests and the benchmark's oversell audit)."""
    statement = select(func.coalesce(func.sum(Reservation.rooms), 0)).where(
        col(Reservation.room_type_id) == room_type_id,
        col(Reservation.status).in_(ACTIVE_STATUSES),
        col(Reservation.check_in) <= night,
        col(Reservation.check_out) > night,
    )
    return int((await session.exec(statement)).one())
