"""Size and speed of the smart guide's reads: the offline pack of the Sa Pa ward, tours, articles, events, alerts.

Run ``uv run python benches/guide.py`` (``--help`` for options). On the embedded default (SQLite in a temporary
data dir, the shipped catalogue and the sample content loaded by ``laocai load-samples``), it starts one server
process (``uvicorn src.app:create_app --factory``, one worker, rate limits off) and:

- builds ``GET /v1/offline-packs/03006?lang=en`` (the Sa Pa ward) ``--builds`` times one after another and prints
  its size (target from issue 9: under 5 MB without media), member sizes, median and p95 build time and the
  server's CPU per build; checks that every build gave the same bytes and ETag;
- drives, with ``wrk -t1 -cN``, the pack's revalidation (``If-None-Match`` -> 304), the full pack, a tour, the
  article list, the events of a month and the alerts at a point, and prints requests/s, p50/p99 latency and the
  server CPU µs per request (user + system time of the server from ``/proc/<pid>/stat``).

Issue 9 sets no throughput target for these reads; the figures are for comparison between changes.
"""

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from io import BytesIO
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from benches.catalogue import (
    BenchError,
    check,
    free_loopback_port,
    process_cpu_seconds,
    run_laocai,
    stop,
    wait_ready,
    wrk,
)

PACK = "/v1/offline-packs/03006?lang=en"
SIZE_TARGET = 5 * 1024 * 1024
console = Console(width=max(Console().width, 120))


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "src.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with log.open("wb") as handle:
        return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=int, default=30, help="sequential pack builds to time")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument("--accept-encoding", default="")
    args = parser.parse_args(argv)
    check(shutil.which(args.wrk) is not None, "wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="laocai-bench-guide-"))
    env = {**os.environ, "LAOCAI_DATA_DIR": str(folder), "LAOCAI_RATE_LIMIT_PUBLIC": "off",
           "LAOCAI_RATE_LIMIT_AUTH": "off", "LAOCAI_LOAD_SAMPLES": "false"}  # fmt: skip
    env.pop("LAOCAI_DATABASE_URL", None)
    env.pop("LAOCAI_REDIS_URL", None)
    seconds = run_laocai("load-samples", env, 300)
    console.print(f"catalogue and samples loaded in {seconds:.1f} s ({folder})")
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    server = start_server(env, port, log)
    try:
        wait_ready(base, "/health/ready", server, log)
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            tours = client.get("/v1/tours", params={"limit": 100}).json()["items"]
            check(bool(tours), "no sample tour is published (laocai load-samples)")
            tour_path = f"/v1/tours/{tours[0]['slug']}?lang=en"
            client.get(PACK)  # the first build records the version's snapshot
            bodies, timings = set(), []
            cpu_before = process_cpu_seconds(server.pid)
            for _ in range(args.builds):
                started = time.perf_counter()
                response = client.get(PACK)
                timings.append((time.perf_counter() - started) * 1000)
                check(response.status_code == 200, f"GET {PACK}: {response.status_code}")
                bodies.add(hashlib.sha256(response.content).hexdigest())
                etag = response.headers["etag"]
                body = response.content
            cpu_ms = (process_cpu_seconds(server.pid) - cpu_before) / args.builds * 1000
            check(len(bodies) == 1, f"{len(bodies)} different pack bodies for unchanged content")
            with zipfile.ZipFile(BytesIO(body)) as archive:
                members = {info.filename: info.file_size for info in archive.infolist()}
        quantiles = statistics.quantiles(timings, n=20)
        table = Table(title=f"Offline pack {PACK}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_row("archive size (bytes)", f"{len(body):,}")
        table.add_row("uncompressed members (bytes)", f"{sum(members.values()):,}")
        for name, size in members.items():
            table.add_row(f"  {name}", f"{size:,}")
        table.add_row("target: under 5 MB without media", "met" if len(body) < SIZE_TARGET else "NOT MET")
        table.add_row(
            f"build time median / p95 (ms, {args.builds} builds)",
            f"{statistics.median(timings):.1f} / {quantiles[18]:.1f}",
        )
        table.add_row("server CPU per build (ms)", f"{cpu_ms:.1f}")
        table.add_row("same bytes and ETag every build", "yes")
        console.print(table)
        routes = [
            ("pack 304 (If-None-Match)", PACK, {"If-None-Match": etag}),
            ("pack full", PACK, {}),
            ("tour detail", tour_path, {}),
            ("article list", "/v1/articles?lang=en&limit=20", {}),
            ("events (a month)", "/v1/events?from=2027-01-01&to=2027-01-31&lang=en", {}),
            ("alerts at a point", "/v1/alerts?lat=22.3364&lon=103.8438", {}),
        ]
        results = Table(
            title=f"wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s, 1 uvicorn worker, SQLite"
        )
        for column in ("route", "requests/s", "p50 ms", "p99 ms", "server CPU µs/request", "errors"):
            results.add_column(column, justify="right" if column != "route" else "left")
        for label, path, headers in routes:
            run_args = argparse.Namespace(**{**vars(args), "accept_encoding": args.accept_encoding})
            if headers:
                script = folder / "headers.lua"
                script.write_text("".join(f"wrk.headers[\"{k}\"] = '{v}'\n" for k, v in headers.items()))
                run = wrk(base + path, run_args, args.seconds, server.pid, script)
            else:
                run = wrk(base + path, run_args, args.seconds, server.pid)
            figures = (f"{run.rps:,.0f}", f"{run.p50_ms:.1f}", f"{run.p99_ms:.1f}", f"{run.us_per_request:,.0f}")
            results.add_row(label, *figures, str(run.errors))
        console.print(results)
    finally:
        stop(server)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        console.print(f"[red]{exc}")
        sys.exit(1)
