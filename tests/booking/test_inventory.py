"""The inventory mechanism itself, on both engines: all-or-nothing takes, the CHECK net, expired holds given back
exactly once, and lock timeouts recognised as contention."""

import asyncio
from datetime import timedelta
from uuid import UUID

import pytest
from litestar import Litestar
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select

from src.booking import inventory, repository
from src.booking.models import InventoryNight, Reservation, ReservationStatus, RoomType
from src.kernel.db import connection_reader, create_engine, is_lock_contention, set_lock_timeout, unit_of_work, utcnow
from tests.booking.support import bookable_room_type, future


class Rollback(Exception):
    pass


async def sold(app: Litestar, room_type_id: UUID) -> dict[int, int]:
    """``{days from today: sold}`` of the room type's first nights."""
    async with unit_of_work(app.state.engine) as session:
        rows = (await session.exec(select(InventoryNight).where(InventoryNight.room_type_id == room_type_id))).all()
    return {(row.night - future(0)).days: row.sold for row in rows if row.sold}


async def held(app: Litestar, room_type_id: UUID, start: int, end: int, *, lapsed: bool) -> UUID:
    """A held reservation of one room on nights ``future(start)..future(end)``, its nights taken."""
    now = utcnow()
    async with unit_of_work(app.state.engine) as session:
        taken = await inventory.take_stay(session, room_type_id, future(start), future(end), 1, now)
        assert isinstance(taken, list)
        room_type = await session.get(RoomType, room_type_id)
        assert room_type is not None
        property_id = room_type.property_id
        reservation = Reservation(
            code=f"T{UUID(int=int(now.timestamp() * 1e6)).hex[-8:]}{start}{end}",
            property_id=property_id,
            room_type_id=room_type_id,
            check_in=future(start),
            check_out=future(end),
            nights=end - start,
            guest_name="Test Guest",
            guest_nationality="VN",
            lookup_token_hash="0" * 64,
            total_amount=0,
            price={},
            cancellation_policy={},
            hold_expires_at=now - timedelta(minutes=1) if lapsed else now + timedelta(minutes=15),
        )
        session.add(reservation)
    return reservation.id


async def test_a_stay_is_taken_on_every_night_in_order(app: Litestar) -> None:
    _, _, room_type_id = await bookable_room_type(app, allotment=2, price=700_000)
    async with unit_of_work(app.state.engine) as session:
        taken = await inventory.take_stay(session, room_type_id, future(3), future(6), 2, utcnow())
    assert isinstance(taken, list)
    assert [t.night for t in taken] == [future(3), future(4), future(5)]
    assert {t.price for t in taken} == {700_000}
    assert await sold(app, room_type_id) == {3: 2, 4: 2, 5: 2}


async def test_a_stay_missing_one_night_takes_nothing_once_rolled_back(app: Litestar) -> None:
    _, _, room_type_id = await bookable_room_type(app, days=5)  # nights 0..4 exist; night 5 has no row
    with pytest.raises(Rollback):  # noqa: PT012  (the block is one unit of work, rolled back by the raise)
        async with unit_of_work(app.state.engine) as session:
            got = await inventory.take_stay(session, room_type_id, future(3), future(7), 1, utcnow())
            assert got == future(5)
            raise Rollback
    assert await sold(app, room_type_id) == {}


async def test_stop_sell_and_missing_rate_are_not_for_sale(app: Litestar) -> None:
    _, _, room_type_id = await bookable_room_type(app)
    async with unit_of_work(app.state.engine) as session:
        await session.exec(
            update(InventoryNight)  # type: ignore[call-overload]
            .where(col(InventoryNight.room_type_id) == room_type_id, col(InventoryNight.night) == future(2))
            .values(stop_sell=True)
        )
        await session.exec(
            update(InventoryNight)  # type: ignore[call-overload]
            .where(col(InventoryNight.room_type_id) == room_type_id, col(InventoryNight.night) == future(3))
            .values(price=None)
        )
    async with unit_of_work(app.state.engine) as session:
        assert await inventory.take_night(session, room_type_id, future(2), 1, utcnow()) is None
        assert await inventory.take_night(session, room_type_id, future(3), 1, utcnow()) is None
        assert await inventory.take_night(session, room_type_id, future(4), 1, utcnow()) is not None


async def test_the_check_constraint_refuses_an_oversell_written_around_the_rule(app: Litestar) -> None:
    _, _, room_type_id = await bookable_room_type(app, allotment=1)
    with pytest.raises(IntegrityError):
        async with unit_of_work(app.state.engine) as session:
            await session.exec(
                update(InventoryNight)  # type: ignore[call-overload]
                .where(col(InventoryNight.room_type_id) == room_type_id)
                .values(sold=2)
            )
    assert await sold(app, room_type_id) == {}


async def test_a_lapsed_hold_is_given_back_once_however_many_release_it(app: Litestar) -> None:
    _, _, room_type_id = await bookable_room_type(app, allotment=1)
    reservation_id = await held(app, room_type_id, 2, 4, lapsed=True)
    await held(app, room_type_id, 5, 6, lapsed=False)  # a live hold stays
    async with unit_of_work(app.state.engine) as session:
        reader = connection_reader(await session.connection())
        lapsed = await repository.lapsed_rooms(reader, [room_type_id], future(0), future(10), utcnow())
    assert lapsed == {(room_type_id, future(2)): 1, (room_type_id, future(3)): 1}

    async def release() -> list[UUID]:
        async with unit_of_work(app.state.engine) as session:
            return await inventory.release_expired_holds(
                session, utcnow(), room_type_id=room_type_id, check_in=future(0), check_out=future(10)
            )

    results = await asyncio.gather(*(release() for _ in range(5)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 0, 1]
    assert await sold(app, room_type_id) == {5: 1}
    async with unit_of_work(app.state.engine) as session:
        reservation = await session.get(Reservation, reservation_id)
        assert reservation is not None
        assert reservation.status == ReservationStatus.EXPIRED
        assert reservation.released_at is not None
        assert await inventory.sold_by_reservations(session, room_type_id, future(5)) == 1
        assert await inventory.sold_by_reservations(session, room_type_id, future(2)) == 0


async def test_a_lock_wait_past_the_timeout_is_contention(app: Litestar, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite takes its one write lock at BEGIN IMMEDIATE, bounded by busy_timeout")
    _, _, room_type_id = await bookable_room_type(app)
    other = create_engine(str(app.state.engine.url.render_as_string(hide_password=False)))
    locked = asyncio.Event()
    done = asyncio.Event()

    async def hold_the_row() -> None:
        async with unit_of_work(other) as session:
            await inventory.take_night(session, room_type_id, future(1), 1, utcnow())
            locked.set()
            await done.wait()

    holder = asyncio.create_task(hold_the_row())
    await locked.wait()
    try:
        with pytest.raises(DBAPIError) as caught:  # noqa: PT012  (one unit of work)
            async with unit_of_work(app.state.engine) as session:
                await set_lock_timeout(session, 100)
                await inventory.take_night(session, room_type_id, future(1), 1, utcnow())
        assert is_lock_contention(caught.value)
    finally:
        done.set()
        await holder
        await other.dispose()


async def test_the_periodic_job_releases_every_lapsed_hold(app: Litestar) -> None:
    from src.booking.jobs import release_expired_holds as job
    from src.kernel.jobs import JobContext

    _, _, room_type_id = await bookable_room_type(app, allotment=3)
    ids = [await held(app, room_type_id, 2, 4, lapsed=True) for _ in range(3)]
    assert await sold(app, room_type_id) == {2: 3, 3: 3}
    await job(JobContext(engine=app.state.engine, name="booking.release_expired_holds", attempt=1, resources={}))
    assert await sold(app, room_type_id) == {}
    async with unit_of_work(app.state.engine) as session:
        statuses = {
            r.status for r in (await session.exec(select(Reservation).where(col(Reservation.id).in_(ids)))).all()
        }
    assert statuses == {ReservationStatus.EXPIRED}


async def test_the_booking_read_sets_the_transactions_lock_timeout(app: Litestar, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's; SQLite's wait is bounded by busy_timeout")
    from sqlalchemy import text

    from src.booking import repository
    from src.kernel.db import connection_reader

    _, property_id, room_type_id = await bookable_room_type(app)
    async with unit_of_work(app.state.engine) as session:
        reader = connection_reader(await session.connection())
        room = await repository.bookable_room_type(
            reader, property_id, room_type_id, future(2), future(4), utcnow(), lock_timeout_ms=1234
        )
        assert room is not None
        assert room.has_lapsed_holds is False
        shown = (await session.exec(text("SHOW lock_timeout"))).one()  # type: ignore[call-overload]
        assert shown[0] == "1234ms"
    async with unit_of_work(app.state.engine) as session:  # SET LOCAL: the next transaction has the default
        shown = (await session.exec(text("SHOW lock_timeout"))).one()  # type: ignore[call-overload]
        assert shown[0] == "0"
