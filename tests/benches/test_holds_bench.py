"""The parts of ``benches/holds.py`` that decide what is measured: the seeded room types, the wrk script's requests,
the pgbench floor's statement and the oversell audit. (The benchmark itself is not run here:
``uv run python benches/holds.py --quick``.)"""

import json
import re
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text

from benches.holds import (
    FLOOR_ROOM_TYPES,
    NIGHTS,
    PROPERTIES,
    ROOM_TYPES_PER_PROPERTY,
    lua_script,
    oversold,
    property_id,
    room_type_id,
    seed,
)
from src.booking.schemas import BookingCreate
from src.kernel.db import create_engine
from tests.conftest import TEST_DATABASE_URL, catalogue_database


def test_the_spread_script_books_every_bench_room_type_of_its_own_property() -> None:
    script = lua_script("spread")
    pairs = re.findall(r'\{"([0-9a-f-]{36})","([0-9a-f-]{36})"\}', script)
    assert len(pairs) == PROPERTIES * ROOM_TYPES_PER_PROPERTY
    for prop, room in pairs:
        k = int(room.replace("-", ""), 16)
        assert prop == str(property_id((k - 1) // ROOM_TYPES_PER_PROPERTY + 1))
    dates = re.findall(r'\{"(\d{4}-\d{2}-\d{2})","(\d{4}-\d{2}-\d{2})"\}', script)
    assert len(dates) == NIGHTS - 3
    assert "Idempotency-Key" in script
    assert "BENCH-STATUS" in script


def test_the_scripts_request_body_is_a_valid_booking() -> None:
    script = lua_script("hot")
    template = re.search(r"local body = (.*?)\n  local headers", script, re.S)
    assert template is not None
    lua = template.group(1)
    pieces = re.findall(r"'([^']*)'|c\[1\]|c\[2\]|d\[1\]|d\[2\]", lua)
    values = iter([str(property_id(1)), str(room_type_id(1)), "2027-01-10", "2027-01-12"])
    raw = "".join(piece if piece else next(values) for piece in pieces)
    booking = msgspec.json.decode(raw, type=BookingCreate)
    assert booking.room_type_id == room_type_id(1)
    assert booking.rooms == 1
    assert json.loads(raw)["guest"]["nationality"] == "VN"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the benchmark runs on PostgreSQL only")
async def test_seed_and_the_oversell_audit(tmp_path: Path, catalogue_dir: Path) -> None:
    url = await catalogue_database("postgresql", tmp_path, catalogue_dir, scratch="bench_holds")
    await seed(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT count(DISTINCT room_type_id), count(*) FROM inventory_night WHERE price = 500000")
                )
            ).one()
        assert tuple(rows) == (
            PROPERTIES * ROOM_TYPES_PER_PROPERTY + FLOOR_ROOM_TYPES,
            (100 + FLOOR_ROOM_TYPES) * NIGHTS,
        )
        assert await oversold(url) == 0
        async with engine.begin() as connection:  # a night sold without a reservation is counted by the audit
            await connection.execute(
                text(
                    "UPDATE inventory_night SET sold = 1"
                    " WHERE room_type_id = :rt AND night = (SELECT min(night) FROM inventory_night)"
                ),
                {"rt": room_type_id(1)},
            )
        assert await oversold(url) == 1
    finally:
        await engine.dispose()
