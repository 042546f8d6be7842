"""Throughput and server CPU of the catalogue reads against two framework floors, driven by ``wrk``.

Run ``uv run python benches/catalogue.py`` (options below; ``--help``). The load generator is ``wrk`` (a compiled
HTTP/1.1 generator, Debian package ``wrk``: ``apt-get install wrk``), ``wrk -t1 -c16`` by default, so the client is
not what saturates first. For each database engine (SQLite in a temporary folder; PostgreSQL when
``--postgres-url`` or ``LAOCAI_BENCH_POSTGRES_URL`` is given, e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/laocai_bench``) the script imports the shipped catalogue with
``laocai import-catalogue``, then, for the response cache on (``LAOCAI_RESPONSE_CACHE_SECONDS=60``) and off (``0``),
starts one server process, ``uvicorn benches.catalogue_app:create_bench_app --factory`` with one worker (the app
``laocai serve`` runs plus one floor route), and measures, in ``--repeats`` interleaved rounds:

- ``bare``: the bare floor, a Litestar app without middleware or dependencies in its own uvicorn process
  (``benches/bare_app.py``) that answers with the detail's very bytes from memory;
- ``mw-floor``: the same bytes from a route of our app, through our whole middleware stack (input guard, locale
  negotiation, ETag/gzip, ``before_send``), so our middleware's own cost shows;
- ``detail``: ``GET /v1/destinations/cat-cat``;
- ``radius``: ``GET /v1/destinations?lat=22.3364&lon=103.8438&radius_km=15&limit=100`` (100 items).

Per route it prints the median rps, the server's CPU µs per request (user + system time of the server process
read from ``/proc/<pid>/stat`` before and after each run, divided by the requests served) and both ratios to the
bare floor (rps ratio: the target measure; CPU ratio beside it, since on a shared machine rps is noisy). Targets
(issue 5, section 6): cache off, detail ≥ 0.15 and radius ≥ 0.10 of the bare floor; cache on, detail ≥ 0.60.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benches.bare_app import BARE_PATH
from benches.catalogue_app import DETAIL_PATH, FLOOR_PATH
from src.kernel.config import PROJECT_ROOT

RADIUS_PATH = "/v1/destinations?lat=22.3364&lon=103.8438&radius_km=15&limit=100"
RADIUS_ITEMS = 100
READY_PATH = "/health/ready"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 60.0
IMPORT_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 10.0
#: (cache mode, route) -> least rps ratio to the bare floor (issue 5, section 6).
TARGETS = {("off", "detail"): 0.15, ("off", "radius"): 0.10, ("on", "detail"): 0.60}
ROUTES = ("bare", "mw-floor", "detail", "radius")

console = Console(width=max(Console().width, 120))


class BenchError(Exception):
    """A precondition of the benchmark does not hold; the message says which."""


def check(condition: bool, message: str) -> None:
    """``assert`` that survives ``python -O``."""
    if not condition:
        raise BenchError(message)


@dataclass
class Run:
    """One ``wrk`` run against one route."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float

    @property
    def us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else float("nan")


@dataclass
class Figures:
    """Median figures of one route in one (engine, cache) configuration."""

    engine: str
    cache: str
    route: str
    path: str
    runs: list[Run] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(run.rps for run in self.runs)

    @property
    def us(self) -> float:
        return statistics.median(run.us_per_request for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)


# --------------------------------------------------------------------------------------------------- processes


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def laocai_command() -> list[str]:
    """The ``laocai`` console script of this environment."""
    script = Path(sys.executable).with_name("laocai")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from src.cli import main; sys.exit(main())"]


def run_laocai(command: str, env: dict[str, str], timeout_s: float) -> float:
    """Run ``laocai <command>`` with ``env``; returns its wall time. ``BenchError`` on failure or timeout."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [*laocai_command(), command],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"laocai {command} took more than {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"laocai {command} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def import_catalogue(env: dict[str, str]) -> float:
    """Run ``laocai import-catalogue`` (migrations + import); returns its wall time."""
    return run_laocai("import-catalogue", env, IMPORT_TIMEOUT_S)


def start_uvicorn(factory: str, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """``uvicorn FACTORY --factory`` with one worker on loopback (own session: Ctrl-C reaches only this script)."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process we started (by its pid), then SIGKILL it if it has not exited in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def wait_ready(base_url: str, path: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    with httpx.Client(base_url=base_url, trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = log_path.read_text(errors="replace")[-3000:]
                raise BenchError(f"the server exited with {process.returncode} before it was ready:\n{log}")
            try:
                response = client.get(path)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
    raise BenchError(f"{base_url}{path} not ready after {READY_TIMEOUT_S:.0f} s (last: {last})")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads, from ``/proc/<pid>/stat`` (Linux)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------------- wrk

_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", re.MULTILINE)
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(url: str, args: argparse.Namespace, seconds: float, pid: int, script: Path | None = None) -> Run:
    """One ``wrk -t1 -cN -dS --latency`` run (with a Lua ``script`` when given); the server's CPU time is read
    around it."""
    command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    if args.accept_encoding:
        command[1:1] = ["-H", f"Accept-Encoding: {args.accept_encoding}"]
    before = process_cpu_seconds(pid)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    cpu = process_cpu_seconds(pid) - before
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    out = done.stdout
    match = _REQUESTS.search(out)
    if match is None:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    requests, elapsed = int(match.group(1)), float(match.group(2)) * _UNIT_S[match.group(3)]
    errors = int(m.group(1)) if (m := _NON_2XX.search(out)) else 0
    if m := _SOCKET_ERRORS.search(out):
        errors += sum(int(g) for g in m.groups())
    latency = {p: float(v) * _UNIT_S[u] * 1e3 for p, v, u in _PERCENTILE.findall(out)}
    return Run(
        requests=requests,
        errors=errors,
        seconds=elapsed,
        rps=requests / elapsed if elapsed else 0.0,
        p50_ms=latency.get("50", float("nan")),
        p99_ms=latency.get("99", float("nan")),
        server_cpu_s=cpu,
    )


# ------------------------------------------------------------------------------------------------------ checks


def verify(base_url: str, accept_encoding: str) -> tuple[bytes, str]:
    """Check the answers before measuring; returns the detail's identity bytes and media type."""
    headers = {"accept-encoding": accept_encoding or "identity"}
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10.0, headers=headers) as client:
        detail = client.get(DETAIL_PATH)
        check(detail.status_code == 200, f"GET {DETAIL_PATH} answered {detail.status_code}")
        check(detail.json().get("slug") == "cat-cat", f"GET {DETAIL_PATH} is not cat-cat")
        radius = client.get(RADIUS_PATH)
        check(radius.status_code == 200, f"GET {RADIUS_PATH} answered {radius.status_code}")
        items = radius.json()["items"]
        check(len(items) == RADIUS_ITEMS, f"GET {RADIUS_PATH} gave {len(items)} items, not {RADIUS_ITEMS}")
        distances = [item["distance_m"] for item in items]
        check(distances == sorted(distances), f"GET {RADIUS_PATH} is not sorted by distance")
        floor = client.get(FLOOR_PATH)
        check(floor.status_code == 200, f"GET {FLOOR_PATH} answered {floor.status_code}")
        check(floor.content == detail.content, "the floor bytes differ from the detail bytes")
        check(floor.headers.get("etag") == detail.headers.get("etag"), "the floor's ETag differs from the detail's")
        identity = client.get(DETAIL_PATH, headers={"accept-encoding": "identity"})
    return identity.content, identity.headers["content-type"]


# ------------------------------------------------------------------------------------------------------ report


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def git_commit() -> str:
    """``HEAD`` and whether tracked files differ from it (read-only: no optional locks)."""

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


def print_report(all_figures: list[Figures]) -> None:
    table = Table(title="Catalogue reads vs the bare floor (medians; ratio = route ÷ bare of the same block)")
    for name in ("engine", "cache", "route", "rps", "p50 ms", "p99 ms", "server µs/req", "rps ratio", "CPU ratio"):
        table.add_column(name, justify="left" if name in {"engine", "cache", "route"} else "right")
    table.add_column("target", justify="right")
    bare: dict[tuple[str, str], Figures] = {(f.engine, f.cache): f for f in all_figures if f.route == "bare"}
    for fig in all_figures:
        floor = bare[(fig.engine, fig.cache)]
        rps_ratio = fig.rps / floor.rps if floor.rps else float("nan")
        cpu_ratio = floor.us / fig.us if fig.us else float("nan")
        target = TARGETS.get((fig.cache, fig.route))
        verdict = ""
        if target is not None:
            verdict = f"≥ {target:.2f} " + ("[green]met" if rps_ratio >= target else "[red]not met")
        table.add_row(
            fig.engine,
            fig.cache,
            fig.route,
            f"{fig.rps:,.0f}",
            f"{statistics.median(r.p50_ms for r in fig.runs):.2f}",
            f"{statistics.median(r.p99_ms for r in fig.runs):.2f}",
            f"{fig.us:,.0f}",
            f"{rps_ratio:.3f}",
            f"{cpu_ratio:.3f}",
            verdict,
            end_section=fig.route == ROUTES[-1],
        )
    console.print(table)
    for route, path in zip(ROUTES, (BARE_PATH, FLOOR_PATH, DETAIL_PATH, RADIUS_PATH), strict=True):
        console.print(f"  {route:<9} GET {path}")
    for fig in all_figures:
        if fig.errors:
            console.print(f"[red]{fig.engine}/{fig.cache}/{fig.route}: {fig.errors} failed requests")
    console.print(
        "[dim]rps ratio = route rps ÷ bare rps (the target measure); CPU ratio = bare µs/req ÷ route µs/req, from the "
        "server process's own CPU time, which the load generator's share of the cores does not distort. "
        "'bare' is a separate uvicorn process; every other route is served by the one app process of its block."
    )


# -------------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of one wrk run (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per block; medians (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="wrk warm-up seconds per route (default 1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--accept-encoding", default="", help="Accept-Encoding wrk sends (default: none, identity)")
    parser.add_argument(
        "--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql (default both)"
    )
    parser.add_argument("--cache", default="off,on", help="comma-separated: off, on (default both)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LAOCAI_BENCH_POSTGRES_URL", ""),
        help="postgresql+asyncpg://... of a database the benchmark may fill (default $LAOCAI_BENCH_POSTGRES_URL); "
        "PostgreSQL is skipped without one",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if not 0.5 <= args.seconds <= 300:
        parser.error("--seconds must be between 0.5 and 300")
    if not 1 <= args.repeats <= 50:
        parser.error("--repeats must be between 1 and 50")
    if not 1 <= args.connections <= 1024 or not 1 <= args.threads <= args.connections:
        parser.error("--connections must be 1..1024 and --threads 1..connections")
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.cache = [c.strip() for c in args.cache.split(",") if c.strip()]
    if not set(args.engines) <= {"sqlite", "postgresql"} or not set(args.cache) <= {"on", "off"}:
        parser.error("--engines takes sqlite/postgresql, --cache takes on/off")
    if "postgresql" in args.engines and not args.postgres_url:
        console.print("[yellow]no --postgres-url (or LAOCAI_BENCH_POSTGRES_URL): PostgreSQL is skipped")
        args.engines.remove("postgresql")
    found = shutil.which("wrk")
    if found is None:
        parser.error("wrk is not installed: apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)")
    args.wrk = found
    return args


def measure_block(
    engine: str, cache: str, env: dict[str, str], workdir: Path, args: argparse.Namespace
) -> list[Figures]:
    """Start the app (and the bare floor), verify, warm up, then ``--repeats`` interleaved rounds of every route."""
    env = {**env, "LAOCAI_RESPONSE_CACHE_SECONDS": "60" if cache == "on" else "0"}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        app_port = free_loopback_port()
        app_log = workdir / f"app-{engine}-{cache}.log"
        app = start_uvicorn("benches.catalogue_app:create_bench_app", env, app_port, app_log)
        processes.append(app)
        app_url = f"http://{LOOPBACK}:{app_port}"
        wait_ready(app_url, READY_PATH, app, app_log)
        body, media_type = verify(app_url, args.accept_encoding)
        body_file = workdir / "detail-body"
        body_file.write_bytes(body)
        bare_port = free_loopback_port()
        bare_env = {**env, "LAOCAI_BENCH_BODY_FILE": str(body_file), "LAOCAI_BENCH_MEDIA_TYPE": media_type}
        bare_log = workdir / f"bare-{engine}-{cache}.log"
        bare = start_uvicorn("benches.bare_app:create_bare_app", bare_env, bare_port, bare_log)
        processes.append(bare)
        bare_url = f"http://{LOOPBACK}:{bare_port}"
        wait_ready(bare_url, BARE_PATH, bare, bare_log)
        targets = {
            "bare": (bare_url + BARE_PATH, bare.pid),
            "mw-floor": (app_url + FLOOR_PATH, app.pid),
            "detail": (app_url + DETAIL_PATH, app.pid),
            "radius": (app_url + RADIUS_PATH, app.pid),
        }
        figures = {
            route: Figures(engine, cache, route, url.split(str(port), 1)[-1])
            for route, (url, _pid) in targets.items()
            for port in (bare_port if route == "bare" else app_port,)
        }
        for url, pid in targets.values():
            wrk(url, args, args.warmup, pid)
        for round_no in range(args.repeats):
            console.print(f"  {engine}, cache {cache}: round {round_no + 1}/{args.repeats}")
            for route, (url, pid) in targets.items():
                figures[route].runs.append(wrk(url, args, args.seconds, pid))
        return [figures[route] for route in ROUTES]
    finally:
        for process in processes:
            stop(process)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="laocai-bench-", dir="/tmp"))
    wrk_version = subprocess.run([args.wrk, "-v"], capture_output=True, text=True, check=False)
    try:
        console.rule("catalogue benchmark")
        console.print(f"python      {platform.python_implementation()} {platform.python_version()}")
        console.print(f"machine     {platform.platform()}; {os.cpu_count()} logical CPU(s), {cpu_model()}")
        console.print(
            f"versions    litestar {version('litestar')}, uvicorn {version('uvicorn')}; "
            f"{(wrk_version.stdout or wrk_version.stderr).splitlines()[0]}; commit {git_commit()}"
        )
        console.print(
            f"load        wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s, {args.repeats} rounds, "
            f"warm-up {args.warmup:g} s per route, Accept-Encoding: {args.accept_encoding or '(none)'}"
        )
        all_figures: list[Figures] = []
        for engine in args.engines:
            env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
            env["LAOCAI_DATA_DIR"] = str(workdir / engine)
            env["LAOCAI_RATE_LIMIT_PUBLIC"] = "off"
            if engine == "postgresql":
                env["LAOCAI_DATABASE_URL"] = args.postgres_url
            seconds = import_catalogue(env)
            console.print(f"{engine:<11} laocai import-catalogue in {seconds:.1f} s")
            for cache in args.cache:
                all_figures += measure_block(engine, cache, env, workdir, args)
        print_report(all_figures)
        if args.json:
            payload: dict[str, Any] = {
                "commit": git_commit(),
                "cpu_count": os.cpu_count(),
                "load": f"wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s x{args.repeats}",
                "figures": [{**asdict(f), "median_rps": f.rps, "median_us_per_request": f.us} for f in all_figures],
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
            console.print(f"figures written to {args.json}")
        return 0
    except BenchError as exc:
        console.print(f"[red]benchmark aborted: {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
