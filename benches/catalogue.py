"""Throughput and latency of the catalogue read endpoints, against a real uvicorn server on 127.0.0.1.

Run ``uv run python benches/catalogue.py`` (options: ``--seconds`` per route, default 10; ``--concurrency``, default
16; ``--warmup`` requests per route, default 200; ``--url http://127.0.0.1:PORT`` to measure a server that is already
running; ``--json PATH`` to keep the figures). Without ``--url`` the script imports the shipped catalogue with
``laocai import-catalogue`` into ``LAOCAI_DATA_DIR`` (a fresh temporary folder under /tmp unless that variable is set;
``LAOCAI_DATABASE_URL`` is honoured too), starts ``benches.catalogue_app:create_bench_app`` under uvicorn with one
worker on a free loopback port, waits for ``/health/ready``, checks the responses, warms up, then drives each route
for a fixed time with a fixed number of concurrent keep-alive HTTP/1.1 connections (httpx), and always stops the
server at the end. Three routes are measured: the destination detail ``/v1/destinations/cat-cat``, the radius query
around Sa Pa town, and the "framework floor" ``/_bench/floor``, a bare route on the same process and middleware stack
that returns, from memory, the very bytes of the detail response. The ratio ``rps / floor`` of an endpoint is the
share of the framework's best case it reaches: 1.0 would mean its database, dependency and serialisation work cost
nothing, 0.25 that this work costs three times the rest of the request path (HTTP, routing, middleware). On a
small machine the load generator shares the cores with the server, so the script also reports the server process's
CPU time per request and the same ratio computed from it, which does not depend on how fast the client is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benches.catalogue_app import DETAIL_PATH, FLOOR_PATH
from src.kernel.config import PROJECT_ROOT, Settings

RADIUS_PATH = "/v1/destinations?lat=22.3364&lon=103.8438&radius_km=3&limit=100"
READY_PATH = "/health/ready"
LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 60.0
IMPORT_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 10.0

console = Console(width=max(Console().width, 112))


class BenchError(Exception):
    """A precondition of the benchmark does not hold; the message says which."""


def check(condition: bool, message: str) -> None:
    """``assert`` that survives ``python -O``."""
    if not condition:
        raise AssertionError(message)


@dataclass
class Route:
    name: str
    path: str
    body_bytes: int = 0
    wire_bytes: int = 0
    encoding: str = "identity"


@dataclass
class Result:
    route: str
    path: str
    requests: int
    errors: int
    elapsed_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_s: float
    server_cpu_s: float | None = None
    error_samples: list[str] = field(default_factory=list)

    @property
    def server_us_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s / self.requests * 1e6


# --------------------------------------------------------------------------------------------------- server handling


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def laocai_command() -> list[str]:
    """The ``laocai`` console script of this environment."""
    script = Path(sys.executable).with_name("laocai")
    if script.exists():
        return [str(script)]
    found = shutil.which("laocai")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from src.cli import main; sys.exit(main())"]


def import_catalogue(env: dict[str, str]) -> float:
    """Run ``laocai import-catalogue`` (migrations + import); returns its wall time."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [*laocai_command(), "import-catalogue"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"laocai import-catalogue took more than {IMPORT_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"laocai import-catalogue failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "benches.catalogue_app:create_bench_app",
        "--factory",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
        "--lifespan",
        "on",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C in the terminal reaches only this script, which then stops the server itself.
        return subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server we started (by its pid), then SIGKILL it if it has not exited in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def wait_ready(base_url: str, process: subprocess.Popen[bytes] | None, log_path: Path | None) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    with httpx.Client(base_url=base_url, trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                log = log_path.read_text(errors="replace")[-3000:] if log_path else ""
                raise BenchError(f"the server exited with {process.returncode} before it was ready:\n{log}")
            try:
                response = client.get(READY_PATH)
                if response.status_code == 200:
                    return dict(response.json())
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
    raise BenchError(f"{base_url}{READY_PATH} not ready after {READY_TIMEOUT_S:.0f} s (last: {last})")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads, from ``/proc/<pid>/stat`` (Linux)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------------------ load generator


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


async def drive(
    client: httpx.AsyncClient,
    path: str,
    concurrency: int,
    *,
    seconds: float | None = None,
    count: int,
) -> tuple[list[float], int, float, list[str]]:
    """``concurrency`` workers send GET ``path`` back to back until ``seconds`` pass or ``count`` are sent.

    Returns the latencies (s) of the 200 answers, the number of failures, the wall time and a few error samples.
    """
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    budget = count
    started = time.perf_counter()
    deadline = started + seconds if seconds is not None else math.inf

    async def worker() -> None:
        nonlocal errors, budget
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            sent = time.perf_counter()
            try:
                response = await client.get(path)
                failure = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                failure = type(exc).__name__
            if failure is None:
                latencies.append(time.perf_counter() - sent)
            else:
                errors += 1
                if len(samples) < 5:
                    samples.append(failure)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started, samples


async def measure(
    client: httpx.AsyncClient, route: Route, args: argparse.Namespace, cpu: Callable[[], float] | None
) -> Result:
    server_before = cpu() if cpu else None
    client_before = time.process_time()
    async with asyncio.timeout(args.seconds + 3 * REQUEST_TIMEOUT_S):
        latencies, errors, elapsed, samples = await drive(
            client, route.path, args.concurrency, seconds=args.seconds, count=args.max_requests
        )
    client_cpu = time.process_time() - client_before
    server_cpu = cpu() - server_before if cpu and server_before is not None else None
    ordered = sorted(latencies)
    return Result(
        route=route.name,
        path=route.path,
        requests=len(ordered),
        errors=errors,
        elapsed_s=elapsed,
        rps=len(ordered) / elapsed if elapsed else 0.0,
        p50_ms=percentile(ordered, 50) * 1e3,
        p90_ms=percentile(ordered, 90) * 1e3,
        p99_ms=percentile(ordered, 99) * 1e3,
        max_ms=(ordered[-1] if ordered else math.nan) * 1e3,
        client_cpu_s=client_cpu,
        server_cpu_s=server_cpu,
        error_samples=samples,
    )


# ------------------------------------------------------------------------------------------------------- verification


async def verify(client: httpx.AsyncClient, routes: dict[str, Route], floor_required: bool) -> bool:
    """Check the answers before measuring; returns whether the floor route is there to measure."""
    detail = await client.get(DETAIL_PATH)
    check(detail.status_code == 200, f"GET {DETAIL_PATH} answered {detail.status_code}")
    check(detail.json().get("slug") == "cat-cat", f"GET {DETAIL_PATH} is not cat-cat")

    radius = await client.get(RADIUS_PATH)
    check(radius.status_code == 200, f"GET {RADIUS_PATH} answered {radius.status_code}")
    items = radius.json()["items"]
    slugs = [item["slug"] for item in items]
    check("cat-cat" in slugs, f"GET {RADIUS_PATH} does not list cat-cat: {slugs}")
    distances = [item["distance_m"] for item in items]
    check(distances == sorted(distances), f"GET {RADIUS_PATH} is not sorted by distance")

    floor = await client.get(FLOOR_PATH)
    if floor.status_code == 404 and not floor_required:
        floor_ok = False
    else:
        check(floor.status_code == 200, f"GET {FLOOR_PATH} answered {floor.status_code}")
        check(floor.content == detail.content, "the floor bytes differ from the detail bytes")
        check(
            floor.headers.get("content-type") == detail.headers.get("content-type"),
            f"floor content type {floor.headers.get('content-type')!r} != detail "
            f"{detail.headers.get('content-type')!r}",
        )
        floor_ok = True

    for name, response in (("detail", detail), ("radius", radius), ("floor", floor)):
        route = routes[name]
        route.body_bytes = len(response.content)
        route.wire_bytes = response.num_bytes_downloaded
        route.encoding = response.headers.get("content-encoding", "identity")
    return floor_ok


# ------------------------------------------------------------------------------------------------------------ report


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def git_commit() -> str:
    """``HEAD`` and whether tracked files differ from it (read-only: no optional locks, the index is not rewritten)."""

    def git(*args: str) -> str | None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ["git", "--no-optional-locks", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
            )
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    head = git("rev-parse", "--short", "HEAD")
    if head is None:
        return "unknown"
    changes = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} + uncommitted changes" if changes else head


def database_kind(url: str) -> str:
    """``sqlite`` or ``postgresql`` (never the URL itself: it may hold a password)."""
    return url.split(":", 1)[0].split("+", 1)[0]


def fmt_ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def print_report(
    results: list[Result], routes: dict[str, Route], floor: Result | None, args: argparse.Namespace
) -> None:
    table = Table(title="Catalogue endpoints vs framework floor (same process, same middleware)")
    table.add_column("route")
    table.add_column("requests", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("rps", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p90 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("max ms", justify="right")
    table.add_column("rps / floor", justify="right")
    for result in results:
        ratio = "—" if floor is None else f"{result.rps / floor.rps:.2f}" if floor.rps else "—"
        table.add_row(
            result.route,
            f"{result.requests:,}",
            str(result.errors),
            f"{result.rps:,.0f}",
            fmt_ms(result.p50_ms),
            fmt_ms(result.p90_ms),
            fmt_ms(result.p99_ms),
            fmt_ms(result.max_ms),
            ratio,
        )
    console.print(table)

    cpu = Table(title="Where the CPU went (server = the uvicorn process, client = this load generator)")
    cpu.add_column("route")
    cpu.add_column("body bytes", justify="right")
    cpu.add_column("on the wire", justify="right")
    cpu.add_column("server CPU", justify="right")
    cpu.add_column("server µs/req", justify="right")
    cpu.add_column("CPU ratio", justify="right")
    cpu.add_column("client CPU", justify="right")
    cpu.add_column("client µs/req", justify="right")
    floor_us = floor.server_us_per_request if floor else None
    for result in results:
        route = routes[result.route]
        us = result.server_us_per_request
        cpu.add_row(
            result.route,
            f"{route.body_bytes:,}",
            f"{route.wire_bytes:,} {route.encoding}",
            "—" if result.server_cpu_s is None else f"{result.server_cpu_s / result.elapsed_s:.0%}",
            "—" if us is None else f"{us:,.0f}",
            "—" if us is None or floor_us is None else f"{floor_us / us:.2f}",
            f"{result.client_cpu_s / result.elapsed_s:.0%}",
            f"{result.client_cpu_s / max(result.requests, 1) * 1e6:,.0f}",
        )
    console.print(cpu)
    for result in results:
        console.print(f"  {result.route:<7} GET {result.path}")

    for result in results:
        if result.errors:
            console.print(
                f"[red]{result.route}: {result.errors} failed requests, e.g. {escape(str(result.error_samples))}"
            )
    cores = os.cpu_count() or 0
    console.print(
        f"[dim]CPU % is of one core. This machine has {cores} logical CPU(s) and the load generator runs on it too: "
        "client and server compete for the same cores, so the rps figures (and the rps ratio) are a lower bound of "
        "what the server alone could do, and the ratio is squeezed toward 1 when the client is the bottleneck (server "
        "CPU well under 100%). 'CPU ratio' (floor µs/req ÷ route µs/req) is the same ratio from the server's own CPU "
        "time per request, which the client's speed does not distort. Latencies are measured in the client, from "
        "send to full body."
    )


# -------------------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement time per route (default 10)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per route (default 200)")
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="cap on requests per route (default 1,000,000)"
    )
    parser.add_argument("--accept-encoding", default="gzip", help="Accept-Encoding sent (default gzip)")
    parser.add_argument("--url", help="benchmark a running server at http://127.0.0.1:PORT instead of starting one")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if not 0.5 <= args.seconds <= 300:
        parser.error("--seconds must be between 0.5 and 300")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    if not 0 <= args.warmup <= 100_000:
        parser.error("--warmup must be between 0 and 100000")
    if not 1 <= args.max_requests <= 10_000_000:
        parser.error("--max-requests must be between 1 and 10000000")
    if args.url is not None:
        parts = urlsplit(args.url)
        if parts.scheme != "http" or parts.hostname != LOOPBACK or parts.username or parts.password:
            parser.error(f"--url must be http://{LOOPBACK}:PORT (loopback only); got {args.url!r}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None or parts.path not in {"", "/"} or parts.query or parts.fragment:
            parser.error(f"--url must be exactly http://{LOOPBACK}:PORT; got {args.url!r}")
        args.url = f"http://{LOOPBACK}:{port}"
    return args


def event_loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, f"uvloop {uvloop.__version__}"


async def run_benchmark(
    base_url: str, args: argparse.Namespace, cpu: Callable[[], float] | None, managed: bool
) -> tuple[list[Result], dict[str, Route], Result | None]:
    routes = {"detail": Route("detail", DETAIL_PATH), "radius": Route("radius", RADIUS_PATH)}
    routes["floor"] = Route("floor", FLOOR_PATH)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=base_url,
        limits=limits,
        timeout=httpx.Timeout(REQUEST_TIMEOUT_S),
        headers={"accept-encoding": args.accept_encoding},
        trust_env=False,
        follow_redirects=False,
    ) as client:
        floor_ok = await verify(client, routes, floor_required=managed)
        console.print(
            "verified: detail is cat-cat; radius is 200, lists cat-cat, nearest first; "
            + ("floor bytes == detail bytes" if floor_ok else "[yellow]no floor route on this server")
        )
        order = (["floor"] if floor_ok else []) + ["detail", "radius"]
        if not floor_ok:
            console.print(
                f"[yellow]note: {base_url}{FLOOR_PATH} answers 404, so the floor is not measured; start the server "
                "with `uvicorn benches.catalogue_app:create_bench_app --factory` to have it."
            )
        if args.warmup:
            async with asyncio.timeout(60 + args.warmup * REQUEST_TIMEOUT_S / args.concurrency):
                for name in order:
                    _, errors, _, samples = await drive(client, routes[name].path, args.concurrency, count=args.warmup)
                    if errors:
                        raise BenchError(f"warm-up of {name}: {errors} failures, e.g. {samples}")
            console.print(f"warmed up: {args.warmup} requests per route")
        measured: dict[str, Result] = {}
        for name in order:
            console.print(f"measuring {name} ({routes[name].path}) for {args.seconds:g} s ...")
            measured[name] = await measure(client, routes[name], args, cpu)
    results = [measured[name] for name in ("detail", "radius", "floor") if name in measured]
    return results, routes, measured.get("floor")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    loop_factory, loop_name = event_loop_factory()
    managed = args.url is None
    created_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    env = dict(os.environ)
    try:
        if managed:
            if not env.get("LAOCAI_DATA_DIR"):
                created_dir = Path(tempfile.mkdtemp(prefix="laocai-bench-", dir="/tmp"))
                env["LAOCAI_DATA_DIR"] = str(created_dir)
            settings = Settings(data_dir=Path(env["LAOCAI_DATA_DIR"]))
            db = database_kind(settings.effective_database_url)
            where = f" at {settings.data_dir.resolve()}" if settings.is_sqlite else ""
            database = f"{db}{where}"
        else:
            database = "unknown (external server; not started by this script)"

        console.rule("catalogue benchmark")
        console.print(f"python      {platform.python_implementation()} {platform.python_version()} ({sys.executable})")
        console.print(f"machine     {platform.platform()}; {os.cpu_count()} logical CPU(s), {cpu_model()}")
        console.print(
            f"versions    litestar {version('litestar')}, uvicorn {version('uvicorn')}, httpx {version('httpx')}; "
            f"commit {git_commit()}"
        )
        console.print(f"database    {database}")
        console.print(
            f"load        concurrency {args.concurrency} keep-alive HTTP/1.1 connections, {args.seconds:g} s per "
            f"route, warm-up {args.warmup} per route, Accept-Encoding: {args.accept_encoding}, client loop {loop_name}"
        )

        cpu: Callable[[], float] | None = None
        if managed:
            seconds = import_catalogue(env)
            console.print(f"imported    laocai import-catalogue in {seconds:.1f} s")
            port = free_loopback_port()
            log_path = Path(env["LAOCAI_DATA_DIR"]) / "bench-server.log"
            process = start_server(env, port, log_path)
            base_url = f"http://{LOOPBACK}:{port}"
            pid = process.pid
            cpu = partial(process_cpu_seconds, pid)
            console.print(
                f"server      uvicorn benches.catalogue_app:create_bench_app --factory, 1 worker, {base_url}, "
                f"pid {pid}, --no-access-log, log level warning"
            )
        else:
            base_url = args.url
            console.print(f"server      {base_url} (already running)")
        ready = wait_ready(base_url, process, log_path)
        console.print(f"ready       {ready.get('destinations')} destinations, checks {ready.get('checks')}")

        with asyncio.Runner(loop_factory=loop_factory) as runner:
            results, routes, floor = runner.run(run_benchmark(base_url, args, cpu, managed))
        print_report(results, routes, floor, args)
        if args.json:
            payload = {
                "python": platform.python_version(),
                "cpu_count": os.cpu_count(),
                "database": database,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "accept_encoding": args.accept_encoding,
                "commit": git_commit(),
                "results": [asdict(result) for result in results],
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
            console.print(f"figures written to {args.json}")
        return 0
    except (BenchError, AssertionError) as exc:
        console.print(f"[red]benchmark aborted: {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted")
        return 130
    finally:
        if process is not None:
            stop_server(process)
        if created_dir is not None:
            shutil.rmtree(created_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
