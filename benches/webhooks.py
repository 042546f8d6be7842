"""Stripe webhook ingest per second on PostgreSQL (verify + store + 200), driven by wrk (issue 8, "Benchmark").

Run ``uv run python benches/webhooks.py`` (``--help`` for options). Needs PostgreSQL (``--postgres-url``, default
``postgresql+asyncpg://postgres@127.0.0.1:5432/bench_webhooks``; the database is dropped, created and migrated with
``laocai db upgrade``), ``wrk`` (Debian package ``wrk``) and, for the Redis configuration, Redis (``--redis-url``,
default ``redis://127.0.0.1:6379/13``; only the keys of the bench's own SAQ queue ``saq:bench-webhooks:*`` are
deleted).

What it measures: ``POST /v1/webhooks/stripe`` (``src/payments/webhooks.py::ingest``: the SDK's signature check on
the raw body, ``INSERT ... ON CONFLICT DO NOTHING`` into ``webhook_event``, the ``payments.process_event`` job handed
to the backend after the commit, the 200 JSON answer) served by the real app (``uvicorn src.app:create_app
--factory --workers N``, as ``laocai serve`` runs it), with Stripe keys set (``LAOCAI_STRIPE_API_BASE`` points at a
closed loopback port: ingest never calls Stripe) and rate limits off.

Configurations (``--runners``):

- ``redis``: ``LAOCAI_REDIS_URL`` set, so each job goes to SAQ on Redis and no worker runs during the measurement:
  this is **ingest only**, what the issue asks for (processing is a job, measured elsewhere).
- ``inprocess``: no Redis; the embedded in-process runner of every server process also *processes* each event
  (``payments.process_event``: claim + apply, here "unknown intent") while the load runs: ingest plus processing on
  the same CPUs, shown for comparison.

For each configuration and uvicorn worker count (``--workers``): N distinct events ``payment_intent.processing``
(``evt_bench_<n>``, an intent that does not exist) are generated and signed with ``whsec_bench`` right before the run
(signatures are valid 300 s), written one a line to a file that ``benches/webhooks.lua`` reads in ``init``; wrk sends
each event once (``wrk -t1 -cC -dS --latency -s benches/webhooks.lua URL -- EVENTS ACKED``). Printed: events/s (200
answers with ``"duplicate": false`` per second), p50/p99 latency, non-2xx answers, and the database check: every
event acknowledged is stored in ``webhook_event`` (stored ∩ acknowledged = acknowledged; the few rows beyond are
requests still in flight when wrk stopped counting, at most one per connection). Then a **duplicates** run: one
signed body sent again and again (each answered 200 ``"duplicate": true``, one row).

Target (issue 8): ≥ 1,000 events/s on PostgreSQL (the best ``redis`` run; MET / NOT MET is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import bindparam, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from benches.catalogue import BenchError, check, free_loopback_port, laocai_command, stop, wait_ready
from benches.holds import process_tree_cpu, recreate_database
from src.kernel.config import PROJECT_ROOT
from src.payments.stripe import sign

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_webhooks"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
QUEUE = "bench-webhooks"
WEBHOOK_SECRET = "whsec_bench"
WEBHOOK_PATH = "/v1/webhooks/stripe"
READY_PATH = "/health/live"  # the catalogue is not imported: ingest does not need it
LUA_SCRIPT = PROJECT_ROOT / "benches" / "webhooks.lua"
TARGET_EVENTS_PER_S = 1000.0

_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", re.MULTILINE)
_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass
class WrkResult:
    command: str
    seconds: float
    requests: int
    statuses: dict[str, int]
    duplicates: int
    sent: int
    exhausted: int
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    acked: list[str] = field(default_factory=list, repr=False)


@dataclass
class IngestRun:
    runner: str
    workers: int
    scenario: str  # "new" (each event once) or "duplicates" (one signed body again and again)
    connections: int
    seconds: float
    requests: int
    ok: int  # 200 answers (new + duplicates)
    new_acked: int
    duplicates: int
    per_s: float  # new events/s (scenario new) or 200 answers/s (duplicates)
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    stored: int  # rows added by the run
    acked_stored: int  # acknowledged events found in webhook_event
    in_flight_stored: int  # stored rows beyond the acknowledged ones (answers wrk did not count)
    server_cpu_us_per_request: float
    command: str


@dataclass
class Report:
    when: str
    postgres: str
    target_events_per_s: float
    runs: list[IngestRun]
    best_redis_events_per_s: float
    met: bool


# ------------------------------------------------------------------------------------------------------ events


class EventSource:
    """Distinct Stripe events ``evt_bench_<n>``, ``n`` increasing over the whole bench (no id is ever sent twice)."""

    def __init__(self) -> None:
        self.next = 1

    def body(self, n: int, created: int) -> bytes:
        event = {
            "id": f"evt_bench_{n}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "type": "payment_intent.processing",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {
                "object": {
                    "id": f"pi_bench_missing_{n}",
                    "object": "payment_intent",
                    "amount": 1_850_000,
                    "amount_received": 0,
                    "currency": "vnd",
                    "status": "processing",
                    "last_payment_error": None,
                    "metadata": {"reservation_code": "BENCH0000", "payment_id": "00000000-0000-0000-0000-000000000000"},
                }
            },
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def write(self, path: Path, count: int) -> tuple[int, int]:
        """Write ``count`` new events signed now, one ``<signature>\\t<body>`` a line; ``(first n, last n)``."""
        now = int(time.time())
        first = self.next
        with path.open("w") as out:
            for n in range(first, first + count):
                body = self.body(n, now)
                out.write(sign(body, WEBHOOK_SECRET, timestamp=now))
                out.write("\t")
                out.write(body.decode())
                out.write("\n")
        self.next = first + count
        return first, first + count - 1

    def write_one(self, path: Path) -> str:
        """One new event signed now (the duplicates run); its id."""
        now = int(time.time())
        n = self.next
        self.next += 1
        body = self.body(n, now)
        path.write_text(f"{sign(body, WEBHOOK_SECRET, timestamp=now)}\t{body.decode()}\n")
        return f"evt_bench_{n}"


# ---------------------------------------------------------------------------------------------------- database


async def stored_counts(url: str, acked: list[str]) -> tuple[int, int]:
    """``(rows in webhook_event, how many of the acked ids are among them)``."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            total = int((await connection.execute(text("SELECT count(*) FROM webhook_event"))).scalar_one())
            found = 0
            for start in range(0, len(acked), 20_000):
                chunk = acked[start : start + 20_000]
                statement = text(
                    "SELECT count(*) FROM webhook_event WHERE provider = 'stripe' AND event_id IN :ids"
                ).bindparams(bindparam("ids", expanding=True))
                found += int((await connection.execute(statement, {"ids": chunk})).scalar_one())
            return total, found
    finally:
        await engine.dispose()


def count_rows(url: str) -> int:
    return asyncio.run(stored_counts(url, []))[0]


async def clear_queue(redis_url: str) -> int:
    """Delete the keys of the bench's own SAQ queue (``saq:bench-webhooks:*``); how many there were."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"saq:{QUEUE}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        await client.aclose()


async def queued_jobs(redis_url: str) -> int:
    """Jobs waiting in the bench's SAQ queue (``LLEN saq:bench-webhooks:queued``), for the output."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        return int(await client.llen(f"saq:{QUEUE}:queued"))
    finally:
        await client.aclose()


# ------------------------------------------------------------------------------------------------------- wrk


def run_wrk(
    base_url: str, connections: int, seconds: float, events: Path, acked: Path, pid: int
) -> tuple[WrkResult, float]:
    """One wrk run over ``events``; ``(result, server CPU seconds)``."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s",
        str(LUA_SCRIPT.relative_to(PROJECT_ROOT)), base_url, "--", str(events), str(acked), "1",
    ]  # fmt: skip
    before = process_tree_cpu(pid)
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False)
    cpu = process_tree_cpu(pid) - before
    check(done.returncode == 0, f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    out = done.stdout
    match = _REQUESTS.search(out)
    check(match is not None, f"cannot read wrk's output:\n{out}")
    assert match is not None
    lines = acked.read_text().splitlines() if acked.exists() else []
    ids = [line for line in lines if not line.startswith("BENCH-")]
    summary = [line.split() for line in lines if line.startswith("BENCH-")]
    check(bool(summary), f"the wrk script wrote no summary:\n{out}\n{done.stderr[-2000:]}")
    statuses = {s[1]: int(s[2]) for s in summary if s[0] == "BENCH-STATUS"}
    value = {s[0]: int(s[1]) for s in summary if s[0] != "BENCH-STATUS"}
    latency = {p: float(v) * _UNIT_S[u] * 1e3 for p, v, u in _LATENCY.findall(out)}
    errors = _SOCKET_ERRORS.search(out)
    result = WrkResult(
        command=shlex.join(command),
        seconds=float(match.group(2)) * _UNIT_S[match.group(3)],
        requests=int(match.group(1)),
        statuses=statuses,
        duplicates=value.get("BENCH-DUPLICATE", 0),
        sent=value.get("BENCH-SENT", 0),
        exhausted=value.get("BENCH-EXHAUSTED", 0),
        non_2xx=int(m.group(1)) if (m := _NON_2XX.search(out)) else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        p50_ms=latency.get("50", float("nan")),
        p99_ms=latency.get("99", float("nan")),
        acked=ids,
    )
    return result, cpu


# -------------------------------------------------------------------------------------------------- processes


def start_server(env: dict[str, str], port: int, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The app as ``laocai serve`` runs it (uvicorn, factory, no proxy headers), without the access log."""
    command = [
        sys.executable, "-m", "uvicorn", "src.app:create_app", "--factory", "--host", "127.0.0.1", "--port",
        str(port), "--workers", str(workers), "--no-proxy-headers", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, shlex.join(["python", *command[1:]])


def server_env(base: dict[str, str], runner: str, redis_url: str) -> dict[str, str]:
    env = dict(base)
    if runner == "redis":
        env.update({"LAOCAI_REDIS_URL": redis_url, "LAOCAI_WORKER_IN_PROCESS": "false", "LAOCAI_JOBS_QUEUE": QUEUE})
    return env


def shown_env(env: dict[str, str]) -> str:
    keys = sorted(k for k in env if k.startswith("LAOCAI_") and k != "LAOCAI_DATA_DIR")
    return " ".join(f"{k}={shlex.quote(env[k])}" for k in keys)


# ---------------------------------------------------------------------------------------------------- running


def measure(
    args: argparse.Namespace,
    url: str,
    runner: str,
    workers: int,
    env: dict[str, str],
    source: EventSource,
    workdir: Path,
) -> list[IngestRun]:
    if runner == "redis":
        asyncio.run(clear_queue(args.redis_url))
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / f"server-{runner}-{workers}.log"
    server, server_command = start_server(env, port, workers, log)
    runs: list[IngestRun] = []
    try:
        wait_ready(base, READY_PATH, server, log)
        print(f"  server: {shown_env(env)} {server_command}")
        # warm every worker (and size the measured file from the rate seen)
        warm_file, warm_acked = workdir / "warm.events", workdir / "warm.acked"
        source.write(warm_file, args.warmup_events)
        warm, _ = run_wrk(base, args.connections, args.warmup_seconds, warm_file, warm_acked, server.pid)
        check(warm.non_2xx == 0, f"warm-up: {warm.non_2xx} non-2xx answers {warm.statuses}; server log {log}")
        warm_rate = len(warm.acked) / warm.seconds if warm.seconds else 0.0
        count = max(args.events, int(warm_rate * args.seconds * 2) + args.connections * 4)

        events, acked = workdir / "run.events", workdir / "run.acked"
        started = time.perf_counter()
        first, last = source.write(events, count)
        generated = time.perf_counter() - started
        before = count_rows(url)
        result, cpu = run_wrk(base, args.connections, args.seconds, events, acked, server.pid)
        time.sleep(0.5)  # answers still in flight when wrk stopped counting: let them commit
        after, found = asyncio.run(stored_counts(url, result.acked))
        check(
            result.exhausted == 0,
            f"the run used up its {count:,} events ({result.exhausted:,} requests repeated one): use more --events",
        )
        run = IngestRun(
            runner=runner,
            workers=workers,
            scenario="new",
            connections=args.connections,
            seconds=round(result.seconds, 2),
            requests=result.requests,
            ok=result.statuses.get("200", 0),
            new_acked=len(result.acked),
            duplicates=result.duplicates,
            per_s=round(len(result.acked) / result.seconds, 1) if result.seconds else 0.0,
            p50_ms=round(result.p50_ms, 2),
            p99_ms=round(result.p99_ms, 2),
            non_2xx=result.non_2xx,
            socket_errors=result.socket_errors,
            stored=after - before,
            acked_stored=found,
            in_flight_stored=after - before - found,
            server_cpu_us_per_request=round(cpu / max(result.requests, 1) * 1e6),
            command=result.command,
        )
        runs.append(run)
        lost = run.new_acked - run.acked_stored
        print(
            f"  ingest {runner:9} workers={workers}: {run.per_s:8,.1f} events/s  p50 {run.p50_ms:6.2f} ms"
            f"  p99 {run.p99_ms:6.2f} ms  non-2xx {run.non_2xx}  socket errors {run.socket_errors}"
            f"  server CPU {run.server_cpu_us_per_request:,.0f} µs/req"
        )
        print(
            f"    {count:,} events evt_bench_{first}..evt_bench_{last} signed in {generated:.1f} s;"
            f" 200 new: {run.new_acked:,}, 200 duplicate: {run.duplicates}, stored: {run.stored:,}"
            f" (acknowledged and stored {run.acked_stored:,}, lost {lost}, stored while in flight at the end"
            f" {run.in_flight_stored})"
        )
        print(f"    {run.command}")
        if runner == "redis":
            waiting = asyncio.run(queued_jobs(args.redis_url))
            print(f"    jobs waiting in Redis queue {QUEUE!r} (warm-up and run; no worker ran): {waiting:,}")
        check(lost == 0, f"{lost} acknowledged events are not in webhook_event")
        check(run.duplicates == 0, f"{run.duplicates} fresh events were answered as duplicates")
        check(
            0 <= run.in_flight_stored <= args.connections,
            f"{run.in_flight_stored} rows beyond the acknowledged events (at most {args.connections} expected)",
        )

        # duplicates: one signed body, stored by a first request, then sent again and again
        dup_file, dup_acked = workdir / "dup.events", workdir / "dup.acked"
        event_id = source.write_one(dup_file)
        signature, body = dup_file.read_text().rstrip("\n").split("\t", 1)
        first_answer = httpx.post(
            base + WEBHOOK_PATH,
            content=body.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            timeout=10,
        )
        check(first_answer.status_code == 200, f"duplicate seed answered {first_answer.status_code}")
        before = count_rows(url)
        dup, cpu = run_wrk(base, args.connections, args.dup_seconds, dup_file, dup_acked, server.pid)
        after, _ = asyncio.run(stored_counts(url, []))
        ok = dup.statuses.get("200", 0)
        drun = IngestRun(
            runner=runner,
            workers=workers,
            scenario="duplicates",
            connections=args.connections,
            seconds=round(dup.seconds, 2),
            requests=dup.requests,
            ok=ok,
            new_acked=len(dup.acked),
            duplicates=dup.duplicates,
            per_s=round(ok / dup.seconds, 1) if dup.seconds else 0.0,
            p50_ms=round(dup.p50_ms, 2),
            p99_ms=round(dup.p99_ms, 2),
            non_2xx=dup.non_2xx,
            socket_errors=dup.socket_errors,
            stored=after - before,
            acked_stored=0,
            in_flight_stored=0,
            server_cpu_us_per_request=round(cpu / max(dup.requests, 1) * 1e6),
            command=dup.command,
        )
        runs.append(drun)
        print(
            f"  dupes  {runner:9} workers={workers}: {drun.per_s:8,.1f} answers/s  p50 {drun.p50_ms:6.2f} ms"
            f"  p99 {drun.p99_ms:6.2f} ms  non-2xx {drun.non_2xx}  200 duplicate=true {drun.duplicates:,}"
            f" of {ok:,}  rows added {drun.stored} ({event_id})"
        )
        print(f"    {drun.command}")
        check(drun.new_acked == 0 and drun.stored == 0, "a redelivered event was stored again")
    finally:
        stop(server)
    return runs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("LAOCAI_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default=os.environ.get("LAOCAI_BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument(
        "--runners", default=None, help="redis (ingest only) and/or inprocess (default both; --quick: redis)"
    )
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured run (whole seconds)")
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--dup-seconds", type=float, default=10.0, help="length of each duplicates run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--events", type=int, default=60_000, help="least events per measured run (more if needed)")
    parser.add_argument("--warmup-events", type=int, default=15_000)
    parser.add_argument("--quick", action="store_true", help="2-second runs, one worker, Redis only (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.seconds, args.warmup_seconds, args.dup_seconds = 2.0, 1.0, 1.0
        args.events, args.warmup_events, args.connections, args.workers = 8_000, 3_000, 16, "1"
    if args.runners is None:
        args.runners = "redis" if args.quick else "redis,inprocess"
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    check(set(runners) <= {"redis", "inprocess"}, f"unknown runner in {args.runners!r}")
    url = args.postgres_url
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
    runs: list[IngestRun] = []
    with tempfile.TemporaryDirectory(prefix="laocai-webhooks-") as tmp:
        workdir = Path(tmp)
        base_env.update(
            {
                "LAOCAI_DATABASE_URL": url,
                "LAOCAI_DATA_DIR": str(workdir / "data"),
                "LAOCAI_RATE_LIMIT_PUBLIC": "off",
                "LAOCAI_RATE_LIMIT_AUTH": "off",
                "LAOCAI_SEARCH_LOG": "false",
                "LAOCAI_STRIPE_SECRET_KEY": "sk_test_bench",
                "LAOCAI_STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
                "LAOCAI_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "LAOCAI_STRIPE_API_BASE": "http://127.0.0.1:9",  # a closed port: never the internet
                "PYTHONPATH": str(PROJECT_ROOT),
            }
        )
        shown = make_url(url).render_as_string(hide_password=True)
        print(f"database {shown}: recreating, migrating (laocai db upgrade)")
        asyncio.run(recreate_database(url))
        migrate(base_env)
        source = EventSource()
        for runner in runners:
            what = (
                "jobs to SAQ on Redis, no worker running: ingest only"
                if runner == "redis"
                else "embedded in-process runner: each server process also processes the events it stored"
            )
            for count in workers:
                print(f"{runner} ({what}), {count} uvicorn worker(s), wrk -t1 -c{args.connections}:")
                runs.extend(
                    measure(args, url, runner, count, server_env(base_env, runner, args.redis_url), source, workdir)
                )
        if "redis" in runners:
            asyncio.run(clear_queue(args.redis_url))
    best = max((r.per_s for r in runs if r.runner == "redis" and r.scenario == "new"), default=0.0)
    met = best >= TARGET_EVENTS_PER_S
    print()
    print("summary (events/s = 200 answers with duplicate=false per second; duplicates: 200 answers per second)")
    for r in runs:
        print(
            f"  {r.runner:9} workers={r.workers} {r.scenario:10} {r.per_s:8,.1f}/s  p50 {r.p50_ms:6.2f} ms"
            f"  p99 {r.p99_ms:6.2f} ms  non-2xx {r.non_2xx}  stored {r.stored:,}"
        )
    if "redis" in runners:
        print(
            f"target (issue 8): ingest ≥ {TARGET_EVENTS_PER_S:,.0f} events/s on PostgreSQL: best {best:,.1f} events/s"
            f" (redis, ingest only): {'MET' if met else 'NOT MET'}"
        )
    if args.json:
        report = Report(
            when=datetime.now(UTC).isoformat(timespec="seconds"),
            postgres=shown,
            target_events_per_s=TARGET_EVENTS_PER_S,
            runs=runs,
            best_redis_events_per_s=best,
            met=met,
        )
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0


def migrate(env: dict[str, str]) -> None:
    """``laocai db upgrade`` (head) on the bench database."""
    done = subprocess.run(
        [*laocai_command(), "db", "upgrade"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    check(done.returncode == 0, f"laocai db upgrade failed ({done.returncode}):\n{done.stderr[-3000:]}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
