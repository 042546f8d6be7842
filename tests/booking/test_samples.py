"""The fictional sample properties: the shipped file (placement in real communes, obviously fictional names, valid
prices, fees and policies) and ``load_samples`` on both engines (idempotent, a year of nights, bookings kept across
reloads, fast), plus ``laocai load-samples`` in a subprocess on a fresh data folder."""

import csv
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from src.booking.events import PROPERTY_CHANGED
from src.booking.models import InventoryNight, Property, RoomType
from src.booking.policy import parse_policy
from src.booking.pricing import parse_tax_fees
from src.booking.samples import SAMPLES_FILE, load_samples, nightly_rate, read_samples, sample_id
from src.guide.geo import haversine_m
from src.kernel import jobs
from src.kernel.auth.credentials import default_passwords
from src.kernel.auth.models import User, UserRole
from src.kernel.config import Settings
from src.kernel.db import create_engine, unit_of_work, utcnow
from src.kernel.localtime import local_today
from tests.conftest import catalogue_database, cli_env

DATA = Settings().catalogue_dir
SAMPLES = read_samples()
PROPERTY_IDS = [sample_id(f"property:{sample.key}") for sample in SAMPLES.properties]


@pytest.fixture(scope="module")
async def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    """A database of its own holding the catalogue (the samples must not show up in other tests' listings)."""
    url = await catalogue_database(backend, tmp_path_factory.mktemp(f"samples-{backend}"), DATA, scratch="samples")
    database = create_engine(url)
    yield database
    await database.dispose()


async def load(engine: AsyncEngine, now: datetime | None = None, **options: Any) -> Any:
    async with unit_of_work(engine) as session:
        return await load_samples(session, now or utcnow(), announce=False, **options)


async def snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    """Every row the samples own, as plain tuples."""
    async with unit_of_work(engine) as session:
        props = (await session.exec(select(Property).where(col(Property.id).in_(PROPERTY_IDS)))).all()
        rooms = (await session.exec(select(RoomType).where(col(RoomType.property_id).in_(PROPERTY_IDS)))).all()
        room_ids = [r.id for r in rooms]
        in_rooms = col(InventoryNight.room_type_id).in_(room_ids)
        nights = (await session.exec(select(InventoryNight).where(in_rooms))).all()
        owner = (await session.exec(select(User).where(User.email_key == "samples@laocai.travel"))).all()
    return {
        "properties": sorted(p.model_dump_json() for p in props),
        "room_types": sorted(r.model_dump_json() for r in rooms),
        "nights": sorted(n.model_dump_json() for n in nights),
        "owner": [u.model_dump_json() for u in owner],
    }


# ------------------------------------------------------------------------------------------------ the file itself


def test_about_twenty_fictional_properties_of_every_kind() -> None:
    assert 18 <= len(SAMPLES.properties) <= 25
    assert {p.kind for p in SAMPLES.properties} == {"hotel", "homestay", "guesthouse", "ecolodge"}
    names = [p.name for p in SAMPLES.properties]
    assert len(set(names)) == len(names)
    for prop in SAMPLES.properties:
        assert prop.name.endswith(" (sample)"), prop.name
        assert set(prop.description) >= {"vi", "en"}
        assert "fictional" in prop.description["en"], prop.key
        assert "hư cấu" in prop.description["vi"], prop.key
        assert "not a real business" in prop.description["en"], prop.key
        assert 1 <= len(prop.room_types) <= 3, prop.key
        assert prop.currency == "VND"
        for room in prop.room_types:
            assert isinstance(room.price, int)
            assert room.price > 0
            assert room.price % 1000 == 0  # whole thousands of đồng, as rates are quoted
            assert room.max_occupancy <= room.max_adults + room.max_children
            assert set(room.name) >= {"vi", "en"}
        raw = json.loads(SAMPLES_FILE.read_text(encoding="utf-8"))
        stored = next(p for p in raw["properties"] if p["key"] == prop.key)
        assert parse_tax_fees(stored["tax_fees"])[0].code == "vat"
        parse_policy(stored["cancellation_policy"])
    fees = [line for p in SAMPLES.properties for line in p.tax_fees]
    assert any(line.kind == "fixed" and line.per == "guest_night" and not line.included for line in fees)
    assert all(line.included for line in fees if line.code == "vat")


def _places() -> dict[str, tuple[float, float, str]]:
    """``source_id -> (lat, lon, commune code)`` of every shipped destination point."""
    found: dict[str, tuple[float, float, str]] = {}
    for name in ("laocai_settlements_geonames.csv", "laocai_pois_geonames.csv", "laocai_pois_wiki.csv"):
        with (DATA / "places" / name).open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                found[row["source_id"]] = (float(row["lat"]), float(row["lon"]), row["commune_2025_code"])
    with (DATA / "places" / "laocai_places_admin_points.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found[row["place_id"]] = (float(row["lat"]), float(row["lon"]), row["place_id"].rsplit(":", 1)[1])
    return found


def test_every_point_lies_in_its_real_commune_near_a_shipped_destination() -> None:
    with (DATA / "admin" / "laocai_2025_communes.csv").open(encoding="utf-8") as handle:
        codes = {row["code_2025"] for row in csv.DictReader(handle)}
    features = json.loads((DATA / "admin" / "laocai_2025_communes.geojson").read_text(encoding="utf-8"))["features"]
    polygons = {f["properties"]["code_2025"]: shape(f["geometry"]) for f in features}
    places = _places()
    for prop in SAMPLES.properties:
        assert prop.commune_code in codes, prop.key
        point = Point(prop.lon, prop.lat)  # GeoJSON order: lon, lat
        assert polygons[prop.commune_code].contains(point), prop.key
        others = [code for code, polygon in polygons.items() if code != prop.commune_code and polygon.contains(point)]
        assert others == [], (prop.key, others)  # neighbours overlap a little: stay clear of the seams
        assert prop.near in places, prop.key
        near_lat, near_lon, near_commune = places[prop.near]
        assert near_commune == prop.commune_code, prop.key
        assert haversine_m(prop.lat, prop.lon, near_lat, near_lon) < 1000, prop.key
    communes = {p.commune_code for p in SAMPLES.properties}
    # The destinations the issue names: Sa Pa ward, Tả Van, Bắc Hà, Y Tý, Mù Cang Chải, Thác Bà, Lào Cai ward, Bát Xát.
    assert communes >= {"03006", "03037", "02839", "02701", "04456", "04717", "02647", "02683"}


def test_weekend_nights_cost_more_in_whole_dong() -> None:
    friday = datetime(2027, 1, 1).date()  # noqa: DTZ001  (a calendar date, no instant)
    assert friday.weekday() == 4
    assert nightly_rate(450_000, friday, 20) == 540_000
    assert nightly_rate(450_000, friday + timedelta(days=1), 20) == 540_000
    assert nightly_rate(450_000, friday + timedelta(days=2), 20) == 450_000  # Sunday night
    assert nightly_rate(333_333, friday, 15) == 383_332  # rounded down, an integer


# ------------------------------------------------------------------------------------------ loading, both engines


async def test_loading_twice_writes_the_same_rows(engine: AsyncEngine) -> None:
    await load(engine)
    first = await snapshot(engine)
    again = await load(engine)
    assert (again.properties_inserted, again.properties_updated) == (0, 0)
    assert (again.room_types_inserted, again.room_types_updated, again.nights_inserted) == (0, 0, 0)
    assert not again.owner_created
    assert again.changed == ()
    assert await snapshot(engine) == first
    assert len(first["properties"]) == len(SAMPLES.properties)
    assert len(first["room_types"]) == sum(len(p.room_types) for p in SAMPLES.properties)


async def test_properties_are_flagged_samples_of_an_owner_who_cannot_log_in(engine: AsyncEngine) -> None:
    await load(engine)
    async with unit_of_work(engine) as session:
        props = (await session.exec(select(Property).where(col(Property.id).in_(PROPERTY_IDS)))).all()
        owner = (await session.exec(select(User).where(User.email_key == "samples@laocai.travel"))).one()
        roles = (await session.exec(select(UserRole.role).where(UserRole.user_id == owner.id))).all()
        secrets = (await session.exec(select(RoomType.ical_secret))).all()
    assert len(props) == len(SAMPLES.properties)
    assert all(p.is_sample and p.is_listed and p.owner_id == owner.id for p in props)
    assert {p.name for p in props} == {s.name for s in SAMPLES.properties}
    assert list(roles) == ["owner"]
    assert not default_passwords().verify(owner.password_hash, "")
    assert not default_passwords().verify(owner.password_hash, owner.password_hash)
    assert len(set(secrets)) == len(secrets)


async def test_calendars_are_open_for_a_year_from_today_in_vietnam(engine: AsyncEngine) -> None:
    now = utcnow()
    report = await load(engine, now)
    today = local_today(now)
    assert (report.first_night, report.end_night) == (today, today + timedelta(days=365))
    async with unit_of_work(engine) as session:
        nights = (
            await session.exec(
                select(InventoryNight).where(
                    col(InventoryNight.room_type_id).in_(
                        [sample_id(f"room_type:{p.key}:{r.key}") for p in SAMPLES.properties for r in p.room_types]
                    ),
                    col(InventoryNight.night) >= today,
                )
            )
        ).all()
    by_room: dict[UUID, list[InventoryNight]] = {}
    for night in nights:
        by_room.setdefault(night.room_type_id, []).append(night)
    for prop in SAMPLES.properties:
        for room in prop.room_types:
            rows = sorted(by_room[sample_id(f"room_type:{prop.key}:{room.key}")], key=lambda n: n.night)
            assert [n.night for n in rows] == [today + timedelta(days=d) for d in range(365)]
            assert {n.allotment for n in rows} == {room.allotment}
            assert all(n.price == nightly_rate(room.price, n.night, prop.weekend_uplift_percent) for n in rows)
            assert {n.price for n in rows if n.night.weekday() == 4} == {room.price * 120 // 100}


async def test_a_reload_keeps_bookings_and_only_adds_the_new_day(engine: AsyncEngine) -> None:
    now = utcnow()
    await load(engine, now)
    room_type_id = sample_id(f"room_type:{SAMPLES.properties[0].key}:{SAMPLES.properties[0].room_types[0].key}")
    night = local_today(now) + timedelta(days=10)
    async with unit_of_work(engine) as session:
        await session.exec(
            update(InventoryNight)
            .where(col(InventoryNight.room_type_id) == room_type_id, col(InventoryNight.night) == night)
            .values(sold=1, blocked=1, price=123_000, stop_sell=True)
        )
    later = await load(engine, now + timedelta(days=1))
    assert later.nights_inserted == sum(len(p.room_types) for p in SAMPLES.properties)  # one new night each
    assert set(later.changed) == set(PROPERTY_IDS)
    again = await load(engine, now)
    assert again.nights_inserted == 0
    async with unit_of_work(engine) as session:
        row = await session.get(InventoryNight, (room_type_id, night))
    assert row is not None
    assert (row.sold, row.blocked, row.price, row.stop_sell) == (1, 1, 123_000, True)


async def test_an_edited_sample_is_brought_back_in_line_without_touching_its_ids(engine: AsyncEngine) -> None:
    await load(engine)
    property_id = PROPERTY_IDS[0]
    async with unit_of_work(engine) as session:
        prop = await session.get(Property, property_id)
        assert prop is not None
        prop.name = "Renamed by hand"
        prop.is_listed = False  # an admin's choice, kept
        room = (await session.exec(select(RoomType).where(RoomType.property_id == property_id))).first()
        assert room is not None
        secret, room.max_adults = room.ical_secret, 1
    report = await load(engine)
    assert (report.properties_updated, report.room_types_updated) == (1, 1)
    assert report.changed == (property_id,)
    async with unit_of_work(engine) as session:
        prop = await session.get(Property, property_id)
        fresh = await session.get(RoomType, room.id)
    assert prop is not None
    assert fresh is not None
    assert prop.name == SAMPLES.properties[0].name
    assert prop.is_listed is False
    assert fresh.ical_secret == secret
    assert fresh.max_adults == SAMPLES.properties[0].room_types[0].max_adults
    async with unit_of_work(engine) as session:
        relisted = await session.get(Property, property_id)
        assert relisted is not None
        relisted.is_listed = True


async def test_a_fresh_calendar_of_fifteen_thousand_nights_loads_fast(engine: AsyncEngine, backend: str) -> None:
    room_type_ids = [sample_id(f"room_type:{p.key}:{r.key}") for p in SAMPLES.properties for r in p.room_types]
    await load(engine)
    async with unit_of_work(engine) as session:
        await session.exec(delete(InventoryNight).where(col(InventoryNight.room_type_id).in_(room_type_ids)))
    started = time.perf_counter()
    report = await load(engine)
    seconds = time.perf_counter() - started
    assert report.nights_inserted == 365 * len(room_type_ids)
    assert report.nights_inserted > 14_000
    if backend == "sqlite":
        assert seconds < 2.0, seconds


class RecordingBackend:
    """A job backend (our own interface, ``src.kernel.jobs.Backend``) that records what would be sent, with a
    registry that knows the booking event; search's real reaction is not registered yet."""

    def __init__(self) -> None:
        self.registry = jobs.JobRegistry()
        self.registry.add(jobs.Job(PROPERTY_CHANGED, self._never_run))
        self.sent: list[jobs.PendingJob] = []

    async def _never_run(self, ctx: jobs.JobContext, **kwargs: Any) -> None:
        raise AssertionError("the recording backend runs nothing")

    async def send(self, pending: Iterable[jobs.PendingJob]) -> None:
        self.sent.extend(pending)


async def test_changed_properties_are_announced_after_the_commit_with_a_recording_backend(
    engine: AsyncEngine,
) -> None:
    await load(engine)
    recorder = RecordingBackend()
    jobs.bind(engine, recorder)
    try:
        async with unit_of_work(engine) as session:
            await load_samples(session, utcnow(), announce=True)
        assert recorder.sent == []  # nothing changed: nothing to announce
        async with unit_of_work(engine) as session:
            report = await load_samples(session, utcnow() + timedelta(days=2), announce=True)
            assert recorder.sent == []  # not before the commit
    finally:
        jobs.bind(engine, None)
    assert [job.name for job in recorder.sent] == [PROPERTY_CHANGED]
    assert recorder.sent[0].kwargs == {"property_ids": sorted(str(pid) for pid in report.changed)}
    assert len(report.changed) == len(SAMPLES.properties)


# ------------------------------------------------------------------------------------------------------------- CLI


def test_load_samples_command_on_a_fresh_data_dir(tmp_path: Path) -> None:
    env = cli_env(data_dir=str(tmp_path / "var"))
    command = [sys.executable, "-m", "src.cli", "load-samples"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "catalogue import: inserted" in first.stderr  # an empty database gets the catalogue first
    # rich wraps lines at the terminal width (80 columns without one): compare with whitespace collapsed
    assert f"properties +{len(SAMPLES.properties)} ~0" in " ".join(first.stderr.split()), first.stderr
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    assert "owner kept; properties +0 ~0; room types +0 ~0; nights +0" in " ".join(second.stderr.split())


def test_serve_loads_samples_on_the_embedded_default_only_unless_told() -> None:
    assert Settings(database_url="").loads_samples_at_start
    postgres = "postgresql+asyncpg://u@127.0.0.1/db"
    assert not Settings(database_url=postgres).loads_samples_at_start
    assert Settings(database_url=postgres, load_samples=True).loads_samples_at_start
    assert not Settings(database_url="", load_samples=False).loads_samples_at_start
