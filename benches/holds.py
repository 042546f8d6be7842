"""Holds per second on PostgreSQL beside a pgbench floor, and the availability search's CPU beside a framework floor.

Run ``uv run python benches/holds.py`` (``--help`` for options). Needs PostgreSQL (``--postgres-url``, default
``postgresql+asyncpg://postgres@127.0.0.1:5432/bench_holds``; the database is dropped and created), ``wrk``
(Debian package ``wrk``) and ``pgbench`` (Debian package ``postgresql-contrib`` / ``postgresql-client``).

What it does, in one run (issue 7, "Benchmark"):

1. Builds the database with ``laocai import-catalogue`` and ``laocai load-samples`` (the ~20 sample properties).
2. **Availability**: ``GET /v1/properties`` for a 3-night stay over all sample properties (no area filter, uncached:
   the route never uses the response cache), against the bare floor (``benches/bare_app.py``: a Litestar route
   serving the same bytes from memory), each in its own one-worker uvicorn process. Printed: server CPU µs per
   request (from ``/proc/<pid>/stat``) and the CPU-time ratio floor / route.
3. Seeds 10 bench properties × 10 room types (100 room types, allotment 1,000,000 for 90 nights) and 100 other room
   types for the floor, then drives ``POST /v1/bookings`` (a 2-night hold, a fresh ``Idempotency-Key`` per request)
   with ``wrk -t2 -c64`` from a Lua script: **spread** (a random room type of the 100 and random dates) and **hot**
   (one room type, the same two nights for every request). Printed: holds/s (201 answers per second), p50/p99
   latency, the answers by status, per uvicorn worker count (``--workers``).
4. **pgbench floor** at the same concurrency (``-c64 -j2 -M prepared``): one transaction = the single-row
   conditional update of the hold mechanism (``UPDATE inventory_night SET sold = sold + 1 WHERE ... AND allotment -
   sold - blocked >= 1``) on the floor's room types, spread and hot alike; printed in tps and as the ratio
   holds/s ÷ pgbench tps.
5. **Oversold audit**: every night of the bench room types has ``sold <= allotment`` and ``sold`` equal to the rooms
   of its active reservations (must print 0).

Targets (issue 7): spread ≥ 500 holds/s and ≥ 0.25 × the spread pgbench floor measured in the same run; 0 oversold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from benches.bare_app import BARE_PATH
from benches.catalogue import (
    BenchError,
    check,
    free_loopback_port,
    process_cpu_seconds,
    run_laocai,
    start_uvicorn,
    stop,
    wait_ready,
)
from src.kernel.config import PROJECT_ROOT
from src.kernel.localtime import local_today

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_holds"
PROPERTIES = 10
ROOM_TYPES_PER_PROPERTY = 10
FLOOR_ROOM_TYPES = 100
NIGHTS = 90
ALLOTMENT = 1_000_000
PRICE = 500_000
HOT_OFFSET = 10  # the hot stay: nights today+10 and today+11
TARGET_HOLDS_PER_S = 500.0
TARGET_FLOOR_RATIO = 0.25


def room_type_id(k: int) -> UUID:
    """Bench room type ``k`` (1..100), floor room type ``1000 + k``."""
    return UUID(int=k)


def property_id(p: int) -> UUID:
    return UUID(int=100_000 + p)


@dataclass
class HoldRun:
    scenario: str
    workers: int
    seconds: float
    requests: int
    holds: int
    holds_per_s: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    server_cpu_us_per_request: float


@dataclass
class Report:
    when: str
    availability_cpu_us: float
    floor_cpu_us: float
    availability_cpu_ratio: float
    availability_rps: float
    floor_rps: float
    holds: list[HoldRun]
    pgbench_spread_tps: float
    pgbench_hot_tps: float
    oversold: int


# -------------------------------------------------------------------------------------------------- database


def plain_url(url: str) -> str:
    """``postgresql://...`` for pgbench and psql from the SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def recreate_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await admin.dispose()


async def seed(url: str) -> None:
    """The bench owner, 10 properties × 10 room types and 100 floor room types, each open for ``NIGHTS`` nights."""
    engine = create_async_engine(url)
    today = local_today()
    try:
        async with engine.begin() as connection:
            owner = UUID(int=999_999)
            await connection.execute(
                text(
                    "INSERT INTO user_account (id, email, email_key, display_name, locale, password_hash, created_at,"
                    " updated_at) VALUES (:id, 'bench-owner@example.org', 'bench-owner@example.org', 'Bench owner',"
                    " 'en', '!', now(), now())"
                ),
                {"id": owner},
            )
            props = [
                {"id": property_id(p), "name": f"Bench property {p:02d}", "owner": owner}
                for p in range(1, PROPERTIES + 2)
            ]
            await connection.execute(
                text(
                    "INSERT INTO property (id, owner_id, name, kind, commune_code, lat, lon, address, check_in_time,"
                    " check_out_time, currency, description, house_rules, amenities, photos, cancellation_policy,"
                    " tax_fees, is_sample, is_listed, created_at, updated_at) VALUES (:id, :owner, :name, 'hotel',"
                    " '03006', 22.3364, 103.8438, '', '14:00', '12:00', 'VND', '{}', '{}', '[]', '[]',"
                    ' \'{"rules": [{"days_before": 3, "refund_percent": 100}]}\','
                    ' \'[{"code": "vat", "name": {"vi": "VAT"}, "kind": "percent", "rate_bp": 800,'
                    ' "included": true}]\', false, :listed, now(), now())'
                ),
                [{**p, "listed": i < PROPERTIES} for i, p in enumerate(props)],
            )
            room_types = []
            for p in range(1, PROPERTIES + 1):
                for j in range(1, ROOM_TYPES_PER_PROPERTY + 1):
                    k = (p - 1) * ROOM_TYPES_PER_PROPERTY + j
                    room_types.append({"id": room_type_id(k), "property": property_id(p), "secret": f"bench-{k}"})
            for k in range(1, FLOOR_ROOM_TYPES + 1):  # the floor's rows live on an unlisted property
                room_types.append(
                    {"id": room_type_id(1000 + k), "property": property_id(PROPERTIES + 1), "secret": f"floor-{k}"}
                )
            await connection.execute(
                text(
                    "INSERT INTO room_type (id, property_id, name, description, max_adults, max_children,"
                    " max_occupancy, beds, amenities, photos, ical_secret, is_active, created_at, updated_at)"
                    " VALUES (:id, :property, '{\"vi\": \"Phòng đôi\"}', '{}', 2, 1, 3, '[]', '[]', '[]', :secret,"
                    " true, now(), now())"
                ),
                room_types,
            )
            await connection.execute(
                text(
                    "INSERT INTO inventory_night (room_type_id, night, allotment, sold, blocked, stop_sell, price,"
                    " min_stay, closed_to_arrival, closed_to_departure, updated_at)"
                    " SELECT rt.id, CAST(:today AS date) + n, :allotment, 0, 0, false, :price, 1, false, false, now()"
                    " FROM room_type rt CROSS JOIN generate_series(0, :last) AS n"
                    " WHERE rt.ical_secret LIKE 'bench-%' OR rt.ical_secret LIKE 'floor-%'"
                ),
                {"today": today, "allotment": ALLOTMENT, "price": PRICE, "last": NIGHTS - 1},
            )
        vacuum = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with vacuum.connect() as connection:
                await connection.execute(text("VACUUM ANALYZE"))
        finally:
            await vacuum.dispose()
    finally:
        await engine.dispose()


async def oversold(url: str) -> int:
    """Nights of the bench room types where ``sold`` exceeds the allotment or differs from the active
    reservations' rooms (0 when nothing was oversold or lost)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT count(*) FROM inventory_night i JOIN room_type rt ON rt.id = i.room_type_id"
                    " WHERE rt.ical_secret LIKE 'bench-%' AND (i.sold > i.allotment OR i.sold <> ("
                    "  SELECT coalesce(sum(r.rooms), 0) FROM reservation r WHERE r.room_type_id = i.room_type_id"
                    "  AND r.status IN ('held', 'confirmed', 'checked_in')"
                    "  AND r.check_in <= i.night AND r.check_out > i.night))"
                )
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------------------------------------- wrk

_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", re.MULTILINE)
_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def lua_script(scenario: str) -> str:
    """The wrk script: POST /v1/bookings with a unique Idempotency-Key; status counts printed by ``done``."""
    today = local_today()
    if scenario == "hot":
        choices = [(str(property_id(1)), str(room_type_id(1)))]
        offsets = [HOT_OFFSET]
    else:
        choices = [
            (str(property_id((k - 1) // ROOM_TYPES_PER_PROPERTY + 1)), str(room_type_id(k)))
            for k in range(1, PROPERTIES * ROOM_TYPES_PER_PROPERTY + 1)
        ]
        offsets = list(range(1, NIGHTS - 2))
    dates = [((today + timedelta(days=d)).isoformat(), (today + timedelta(days=d + 2)).isoformat()) for d in offsets]
    lua_choices = ",".join(f'{{"{p}","{r}"}}' for p, r in choices)
    lua_dates = ",".join(f'{{"{a}","{b}"}}' for a, b in dates)
    return f"""
local choices = {{{lua_choices}}}
local dates = {{{lua_dates}}}
local threads = {{}}
local counter = 0
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  -- "tid" is the global each thread got from setup(): keys and choices differ between threads
  counts = {{}}
  replays = 0
  math.randomseed(os.time() * 1000 + tid * 7919)
end
function request()
  counter = counter + 1
  local c = choices[math.random(#choices)]
  local d = dates[math.random(#dates)]
  local body = '{{"property_id":"' .. c[1] .. '","room_type_id":"' .. c[2] .. '","check_in":"' .. d[1] ..
    '","check_out":"' .. d[2] .. '","adults":2,"children":0,"rooms":1,' ..
    '"guest":{{"name":"Bench Guest","email":"bench@example.org","nationality":"VN"}}}}'
  local headers = {{}}
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("bench-%d-%d-%d-%d", tid, counter, os.time(), math.random(1e9))
  return wrk.format("POST", "/v1/bookings", headers, body)
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then replays = replays + 1 end
end
function done(summary, latency, requests)
  local total = {{}}
  local replayed = 0
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
    replayed = replayed + t:get("replays")
  end
  for k, v in pairs(total) do print("BENCH-STATUS " .. k .. " " .. v) end
  print("BENCH-STATUS replayed " .. replayed)
end
"""


def wrk_holds(
    base_url: str, scenario: str, seconds: float, connections: int, pid: int, workdir: Path
) -> tuple[float, int, dict[str, int], float, float, float]:
    """One wrk run; ``(elapsed s, requests, statuses, p50 ms, p99 ms, server CPU s)``."""
    script = workdir / f"holds-{scenario}.lua"
    script.write_text(lua_script(scenario))
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), base_url]
    before = process_tree_cpu(pid)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    cpu = process_tree_cpu(pid) - before
    check(done.returncode == 0, f"wrk failed: {done.stderr[-2000:]}")
    out = done.stdout
    match = _REQUESTS.search(out)
    check(match is not None, f"cannot read wrk's output:\n{out}")
    assert match is not None
    elapsed = float(match.group(2)) * _UNIT_S[match.group(3)]
    statuses = {line.split()[1]: int(line.split()[2]) for line in out.splitlines() if line.startswith("BENCH-STATUS")}
    latency = {p: float(v) * _UNIT_S[u] * 1e3 for p, v, u in _LATENCY.findall(out)}
    return elapsed, int(match.group(1)), statuses, latency.get("50", float("nan")), latency.get("99", float("nan")), cpu


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (uvicorn's worker processes)."""
    total = 0.0
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    except FileNotFoundError:
        children = []
    for one in [str(pid), *children]:
        try:
            total += process_cpu_seconds(int(one))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def pgbench(url: str, scenario: str, seconds: float, connections: int, workdir: Path) -> float:
    """tps of the single-row conditional update (``-M prepared``, ``-c connections -j2``)."""
    script = workdir / f"floor-{scenario}.sql"
    if scenario == "hot":
        chooser = "\\set k 1001\n\\set d " + str(HOT_OFFSET) + "\n"
    else:
        chooser = f"\\set k random(1001, {1000 + FLOOR_ROOM_TYPES})\n\\set d random(1, {NIGHTS - 3})\n"
    script.write_text(
        chooser + "UPDATE inventory_night SET sold = sold + 1, updated_at = now()"
        " WHERE room_type_id = ('00000000-0000-0000-0000-' || lpad(to_hex(:k::int), 12, '0'))::uuid"
        " AND night = CURRENT_DATE + :d::int AND allotment - sold - blocked >= 1;\n"
    )
    command = [
        "pgbench", "-n", "-M", "prepared", f"-c{connections}", "-j2", f"-T{int(seconds)}", "-f", str(script),
        plain_url(url),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)
    check(done.returncode == 0, f"pgbench failed: {done.stderr[-2000:]}")
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    check(match is not None, f"cannot read pgbench's output:\n{done.stdout}")
    assert match is not None
    return float(match.group(1))


# -------------------------------------------------------------------------------------------- availability


def availability_path() -> str:
    start = local_today() + timedelta(days=14)
    return f"/v1/properties?check_in={start.isoformat()}&check_out={(start + timedelta(days=3)).isoformat()}&limit=100"


def measure_cpu(base_url: str, path: str, seconds: float, pid: int) -> tuple[float, float]:
    """``(server CPU µs per request, rps)`` of ``wrk -t1 -c16`` on ``path``."""
    command = ["wrk", "-t1", "-c16", f"-d{seconds:g}s", base_url + path]
    before = process_cpu_seconds(pid)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    cpu = process_cpu_seconds(pid) - before
    check(done.returncode == 0, f"wrk failed: {done.stderr}")
    match = _REQUESTS.search(done.stdout)
    check(match is not None and "Non-2xx" not in done.stdout, f"wrk output:\n{done.stdout}")
    assert match is not None
    requests = int(match.group(1))
    elapsed = float(match.group(2)) * _UNIT_S[match.group(3)]
    return cpu / requests * 1e6, requests / elapsed


def measure_availability(env: dict[str, str], seconds: float, workdir: Path) -> tuple[float, float, float, float, int]:
    """Availability route and bare floor: ``(route µs, floor µs, route rps, floor rps, items)``."""
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / "availability.log"
    server = start_uvicorn("src.app:create_app", env, port, log)
    try:
        wait_ready(base, "/health/ready", server, log)
        response = httpx.get(base + availability_path(), timeout=30)
        check(response.status_code == 200, f"availability answered {response.status_code}: {response.text[:500]}")
        items = len(response.json()["items"])
        body_file = workdir / "availability.json"
        body_file.write_bytes(response.content)
        measure_cpu(base, availability_path(), 2, server.pid)  # warm up
        route_us, route_rps = measure_cpu(base, availability_path(), seconds, server.pid)
    finally:
        stop(server)
    floor_port = free_loopback_port()
    floor_base = f"http://127.0.0.1:{floor_port}"
    floor_env = {**env, "LAOCAI_BENCH_BODY_FILE": str(body_file)}
    floor = start_uvicorn("benches.bare_app:create_bare_app", floor_env, floor_port, workdir / "floor.log")
    try:
        wait_ready(floor_base, BARE_PATH, floor, workdir / "floor.log")
        measure_cpu(floor_base, BARE_PATH, 2, floor.pid)
        floor_us, floor_rps = measure_cpu(floor_base, BARE_PATH, seconds, floor.pid)
    finally:
        stop(floor)
    return route_us, floor_us, route_rps, floor_rps, items


# ---------------------------------------------------------------------------------------------------- main


def start_workers(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "src.app:create_app", "--factory", "--host", "127.0.0.1", "--port",
        str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("LAOCAI_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each load run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to measure holds with")
    parser.add_argument("--quick", action="store_true", help="5-second runs, one worker count (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.seconds, args.workers = 5.0, "2"
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    url = args.postgres_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
    with tempfile.TemporaryDirectory(prefix="laocai-holds-") as tmp:
        workdir = Path(tmp)
        env.update(
            {
                "LAOCAI_DATABASE_URL": url,
                "LAOCAI_DATA_DIR": str(workdir / "data"),
                "LAOCAI_RATE_LIMIT_PUBLIC": "off",
                "LAOCAI_RATE_LIMIT_AUTH": "off",
                "LAOCAI_HOLD_MINUTES": "120",
                "LAOCAI_SEARCH_LOG": "false",
                "PYTHONPATH": str(PROJECT_ROOT),
            }
        )
        print(f"database {make_url(url).render_as_string(hide_password=True)}: recreating, importing, loading samples")
        asyncio.run(recreate_database(url))
        run_laocai("import-catalogue", env, 600)
        run_laocai("load-samples", env, 600)
        route_us, floor_us, route_rps, floor_rps, items = measure_availability(env, args.seconds, workdir)
        print(
            f"availability (3 nights, {items} sample properties, uncached): {route_us:,.0f} µs CPU/request, "
            f"{route_rps:,.0f} rps; bare floor {floor_us:,.0f} µs, {floor_rps:,.0f} rps; "
            f"CPU ratio floor/route {floor_us / route_us:.3f}"
        )
        asyncio.run(seed(url))
        runs: list[HoldRun] = []
        for count in workers:
            port = free_loopback_port()
            base = f"http://127.0.0.1:{port}"
            log = workdir / f"holds-{count}.log"
            server = start_workers(env, port, count, log)
            try:
                wait_ready(base, "/health/ready", server, log)
                for scenario in ("spread", "hot"):
                    wrk_holds(base, scenario, 2, args.connections, server.pid, workdir)  # warm every worker
                    elapsed, requests, statuses, p50, p99, cpu = wrk_holds(
                        base, scenario, args.seconds, args.connections, server.pid, workdir
                    )
                    holds = statuses.get("201", 0) - statuses.get("replayed", 0)  # replays are no new hold
                    run = HoldRun(
                        scenario=scenario,
                        workers=count,
                        seconds=round(elapsed, 2),
                        requests=requests,
                        holds=holds,
                        holds_per_s=round(holds / elapsed, 1),
                        p50_ms=round(p50, 2),
                        p99_ms=round(p99, 2),
                        statuses=statuses,
                        server_cpu_us_per_request=round(cpu / max(requests, 1) * 1e6),
                    )
                    runs.append(run)
                    print(
                        f"holds {scenario:6} workers={count}: {run.holds_per_s:8,.1f} holds/s  p50 {p50:7.2f} ms"
                        f"  p99 {p99:7.2f} ms  statuses {statuses}  server CPU {run.server_cpu_us_per_request:,} µs/req"
                    )
            finally:
                stop(server)
        spread_tps = pgbench(url, "spread", args.seconds, args.connections, workdir)
        hot_tps = pgbench(url, "hot", args.seconds, args.connections, workdir)
        print(
            f"pgbench floor (single-row conditional update, -c{args.connections} -j2 -M prepared): "
            f"spread {spread_tps:,.0f} tps, hot {hot_tps:,.0f} tps"
        )
        bad = asyncio.run(oversold(url))
        print(f"oversold nights: {bad}")
        report = Report(
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            availability_cpu_us=round(route_us),
            floor_cpu_us=round(floor_us),
            availability_cpu_ratio=round(floor_us / route_us, 4),
            availability_rps=round(route_rps),
            floor_rps=round(floor_rps),
            holds=runs,
            pgbench_spread_tps=round(spread_tps),
            pgbench_hot_tps=round(hot_tps),
            oversold=bad,
        )
    best_spread = max((r.holds_per_s for r in runs if r.scenario == "spread"), default=0.0)
    best_hot = max((r.holds_per_s for r in runs if r.scenario == "hot"), default=0.0)
    spread_ratio = best_spread / spread_tps if spread_tps else 0.0
    hot_ratio = best_hot / hot_tps if hot_tps else 0.0
    print()
    verdict = "PASS" if best_spread >= TARGET_HOLDS_PER_S else "FAIL"
    print(f"spread: best {best_spread:,.1f} holds/s (target ≥ {TARGET_HOLDS_PER_S:.0f}): {verdict}")
    verdict = "PASS" if spread_ratio >= TARGET_FLOOR_RATIO else "FAIL"
    print(f"spread: ratio to pgbench {spread_ratio:.3f} (target ≥ {TARGET_FLOOR_RATIO}): {verdict}")
    print(f"hot: best {best_hot:,.1f} holds/s, ratio to pgbench hot {hot_ratio:.3f}")
    print(f"oversold: {bad} ({'PASS' if bad == 0 else 'FAIL'})")
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        time.sleep(0)
        sys.exit(130)
