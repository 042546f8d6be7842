"""Latency and throughput of ``/v1/search`` and ``/v1/search/suggest`` against the framework floor and the raw
engine, driven by ``wrk`` (issue 6, "Benchmark").

Run ``uv run python benches/search.py`` (about 13 minutes with the defaults, twice that with PostgreSQL too;
``--quick`` for a smoke run under a minute; ``--help`` for the options). The figures of the issue's note come from
``uv run python benches/search.py --duration 10 --repeats 3``.

Data: for each database engine (SQLite in a temporary folder; PostgreSQL too when ``--postgres-url`` or
``LAOCAI_BENCH_SEARCH_POSTGRES_URL`` names a database whose name contains ``bench``, e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/laocai_bench_search``) the script runs ``laocai import-catalogue``
(the full shipped catalogue), inserts 10,000 seeded synthetic destinations into that bench database only
(``benches/search_data.py``), and builds the tantivy index under the temporary data dir with ``laocai reindex``.

Server: one process, ``uvicorn benches.search_app:create_search_bench_app --factory`` with one worker (the app
``laocai serve`` runs, search log and in-process jobs included, plus a floor route), rate limits off, the catalogue's
response cache off. Two blocks, each with its own server: search result cache **off**
(``LAOCAI_SEARCH_CACHE_SECONDS=0``: every request runs the engine, as a query nobody sent in the last seconds does)
and **on** (the shipped default: a mix cycles through 300 queries, so after the first pass nearly every request is a
cache hit; that block measures the repeated-query path, not the engine, and its 5 s expiry of entries stored
together shows as periodic bursts of misses). Before measuring, every query of every mix is sent once and its answer
checked (200, distance order, radius, filters). The floor route replays the bytes of the text-mix response of median
size.

Load: ``wrk`` (compiled HTTP/1.1 generator, Debian package ``wrk``) with one thread and a Lua script per mix that
cycles through that mix's distinct queries (``benches/search_data.py``: ``text``, ``text+point``, ``filters``,
``suggest``). In ``--repeats`` interleaved rounds, for each mix: ``wrk -t1 -c4 --latency`` (p50/p95/p99 from wrk's
latency histogram, printed by the script's ``done`` hook) and ``wrk -t1 -c32`` (throughput); the floor the same way;
and the raw engine: in this process, the same index opened with ``TantivyEngine`` and ``engine.search(SearchQuery)``
(or ``engine.suggest``) timed for the same queries, one call at a time on one core, while the server is idle;
inside those calls the time spent in tantivy's own ``Searcher`` methods (``search``, ``aggregate``, ``doc``,
``fast_field_values``) is measured apart. The server's CPU per request comes from ``/proc/<pid>/stat``.

Targets (issue 6, "Done means"): p95 ≤ 15 ms at 4 clients; at 32 clients ≥ 0.5 × the floor's throughput (same
server, same run); API throughput at 32 clients ≥ 0.5 × the raw engine's rate. Figures are medians over rounds,
printed as tables and as one JSON line (``--json FILE`` also writes it to a file).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benches.catalogue import (
    LOOPBACK,
    READY_PATH,
    BenchError,
    check,
    cpu_model,
    free_loopback_port,
    git_commit,
    import_catalogue,
    process_cpu_seconds,
    run_laocai,
    start_uvicorn,
    stop,
    wait_ready,
)
from benches.search_app import FLOOR_PATH
from benches.search_data import (
    LOCALE,
    MIXES,
    SUGGEST_LIMIT,
    BenchQuery,
    CatalogueFacts,
    SyntheticRow,
    add_synthetic,
    build_mixes,
    check_bench_database,
    lua_script,
)
from src.kernel.config import Settings
from src.search.tantivy_engine import TantivyEngine

REINDEX_TIMEOUT_S = 600.0
#: Issue 6 targets.
P95_TARGET_MS = 15.0
FLOOR_TARGET = 0.5
ENGINE_TARGET = 0.5
LOW, HIGH = 4, 32
#: ``LAOCAI_SEARCH_CACHE_SECONDS`` of the "cache on" block: the shipped default (src/kernel/config.py).
CACHE_ON_SECONDS = f"{Settings.model_fields['search_cache_seconds'].default:g}"

console = Console(width=max(Console().width, 150))


@dataclass
class WrkRun:
    """One ``wrk`` run: requests, failures, throughput, latency percentiles (ms) and the server's CPU seconds."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_s: float

    @property
    def us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else float("nan")


@dataclass
class EngineRun:
    """Engine calls made one at a time in this process: rate (calls per wall second, one core), latency of one
    call, and the part of it spent inside tantivy's ``Searcher`` methods (ms)."""

    calls: int
    seconds: float
    qps: float
    p50_ms: float
    p95_ms: float
    native_p50_ms: float
    native_p95_ms: float
    native_share: float
    #: share of the tantivy time per ``Searcher`` method (``search``, ``aggregate``, ``doc``, ``fast_field_values``)
    native_split: dict[str, float] = field(default_factory=dict)
    #: mean calls per engine call of each ``Searcher`` method
    native_calls: dict[str, float] = field(default_factory=dict)

    @property
    def us_per_call(self) -> float:
        return 1e6 / self.qps if self.qps else float("nan")


@dataclass
class MixFigures:
    """Every run of one mix (or of the floor) in one database configuration."""

    database: str
    mix: str
    low: list[WrkRun] = field(default_factory=list)
    high: list[WrkRun] = field(default_factory=list)
    engine: list[EngineRun] = field(default_factory=list)
    queries: int = 0
    zero_hits: float = 0.0
    median_hits: float = 0.0
    median_bytes: float = 0.0

    def med(self, runs: str, attr: str) -> float:
        values = [getattr(run, attr) for run in getattr(self, runs)]
        return statistics.median(values) if values else float("nan")

    @property
    def errors(self) -> int:
        return sum(run.errors for run in (*self.low, *self.high))


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# ----------------------------------------------------------------------------------------------------- the data


def bench_env(data_dir: Path, postgres_url: str = "") -> dict[str, str]:
    """The environment of every ``laocai`` and server process of the bench: this one's without ``LAOCAI_*``, then
    the bench data dir, rate limits off, server-side response cache off (and PostgreSQL when given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
    env["LAOCAI_DATA_DIR"] = str(data_dir)
    env["LAOCAI_RATE_LIMIT_PUBLIC"] = "off"
    env["LAOCAI_RESPONSE_CACHE_SECONDS"] = "0"
    if postgres_url:
        env["LAOCAI_DATABASE_URL"] = postgres_url
    return env


def prepare_data(
    database: str, env: dict[str, str], data_dir: Path, synthetic: int, seed: int
) -> tuple[CatalogueFacts, list[SyntheticRow], dict[str, Any]]:
    """Import the catalogue, add the synthetic rows, build the index; print and return what was done."""
    url = Settings(data_dir=data_dir, database_url=env.get("LAOCAI_DATABASE_URL", "")).effective_database_url
    seconds = import_catalogue(env)
    t0 = time.perf_counter()
    facts, rows = asyncio.run(add_synthetic(url, synthetic, seed))
    synthetic_s = time.perf_counter() - t0
    index_s, how = run_laocai("reindex", env, REINDEX_TIMEOUT_S), "laocai reindex"
    console.print(
        f"{database:<11} laocai import-catalogue {seconds:.1f} s ({len(facts.names):,} destinations, "
        f"{len(facts.communes)} communes); {len(rows):,} synthetic destinations {synthetic_s:.1f} s; "
        f"index by {how} {index_s:.1f} s"
    )
    setup = {
        "import_s": round(seconds, 2),
        "real_destinations": len(facts.names),
        "communes": len(facts.communes),
        "synthetic_destinations": len(rows),
        "index": how,
        "index_s": round(index_s, 2),
    }
    return facts, rows, setup


# ---------------------------------------------------------------------------------------------------------- wrk

_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_LATENCY = re.compile(r"^BENCH-LATENCY (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+)$", re.MULTILINE)
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk(base_url: str, script: Path, connections: int, seconds: int, pid: int, wrk_path: str) -> WrkRun:
    """``wrk -t1 -cN -dS --latency -s SCRIPT``; the server's CPU time is read around it."""
    command = [wrk_path, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    command += ["-s", str(script), base_url]
    before = process_cpu_seconds(pid)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    cpu = process_cpu_seconds(pid) - before
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return parse_wrk(done.stdout, cpu)


def parse_wrk(out: str, server_cpu_s: float) -> WrkRun:
    """The figures of one wrk run from its output (the ``BENCH-LATENCY`` line comes from ``lua_script``)."""
    match = _REQUESTS.search(out)
    latency = _LATENCY.search(out)
    if match is None or latency is None:
        raise BenchError(f"cannot read wrk's output:\n{out}")
    requests, elapsed = int(match.group(1)), float(match.group(2)) * _UNIT_S[match.group(3)]
    errors = int(m.group(1)) if (m := _NON_2XX.search(out)) else 0
    if m := _SOCKET_ERRORS.search(out):
        errors += sum(int(g) for g in m.groups())
    p50, p90, p95, p99, top = (int(v) / 1000 for v in latency.groups()[:5])
    return WrkRun(
        requests=requests,
        errors=errors,
        seconds=elapsed,
        rps=requests / elapsed if elapsed else 0.0,
        p50_ms=p50,
        p90_ms=p90,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=top,
        server_cpu_s=server_cpu_s,
    )


# ------------------------------------------------------------------------------------------------- raw engine


class NativeClock:
    """Nanoseconds spent inside tantivy's ``Searcher`` methods since the last reset."""

    def __init__(self) -> None:
        self.ns = 0
        self.by_method: dict[str, int] = {}
        self.calls: dict[str, int] = {}


class TimedSearcher:
    """A ``tantivy.Searcher`` stand-in that forwards every call and adds the time of the native ones to a clock."""

    def __init__(self, inner: Any, clock: NativeClock) -> None:
        self._inner = inner
        self._clock = clock

    def _timed(self, name: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return getattr(self._inner, name)(*args, **kwargs)
        finally:
            spent = time.perf_counter_ns() - started
            self._clock.ns += spent
            self._clock.by_method[name] = self._clock.by_method.get(name, 0) + spent
            self._clock.calls[name] = self._clock.calls.get(name, 0) + 1

    def search(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("search", *args, **kwargs)

    def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("aggregate", *args, **kwargs)

    def doc(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("doc", *args, **kwargs)

    def fast_field_values(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("fast_field_values", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RawEngine:
    """The server's index opened read-only in this process, with tantivy's own time measured apart."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings(data_dir=data_dir)
        self.engine = TantivyEngine(settings.search_dir, reload_seconds=settings.search_reload_seconds)
        self.clock = NativeClock()
        plain = self.engine._searcher
        setattr(self.engine, "_searcher", lambda: TimedSearcher(plain(), self.clock))  # noqa: B010

    async def call(self, query: BenchQuery) -> None:
        if query.query is not None:
            await self.engine.search(query.query)
        else:
            await self.engine.suggest(query.prefix, SUGGEST_LIMIT, LOCALE)

    def run(self, queries: Sequence[BenchQuery], seconds: float) -> EngineRun:
        """Call the engine for ``queries`` in order, round and round, for at least ``seconds`` and one full pass."""

        async def loop() -> EngineRun:
            times: list[int] = []
            natives: list[int] = []
            clock, n = self.clock, len(queries)
            clock.by_method = {}
            clock.calls = {}
            started = time.perf_counter()
            deadline = started + seconds
            i = 0
            while i < n or time.perf_counter() < deadline:
                clock.ns = 0
                t0 = time.perf_counter_ns()
                await self.call(queries[i % n])
                times.append(time.perf_counter_ns() - t0)
                natives.append(clock.ns)
                i += 1
            wall = time.perf_counter() - started
            total = sum(times)
            times.sort()
            native_total = sum(natives)
            natives.sort()
            return EngineRun(
                calls=i,
                seconds=wall,
                qps=i / wall,
                p50_ms=percentile(times, 0.50) / 1e6,
                p95_ms=percentile(times, 0.95) / 1e6,
                native_p50_ms=percentile(natives, 0.50) / 1e6,
                native_p95_ms=percentile(natives, 0.95) / 1e6,
                native_share=native_total / total if total else float("nan"),
                native_split={
                    name: round(ns / native_total, 3) for name, ns in sorted(clock.by_method.items()) if native_total
                },
                native_calls={name: round(count / i, 2) for name, count in sorted(clock.calls.items())},
            )

        return asyncio.run(loop())


# ------------------------------------------------------------------------------------------------------ checks


def verify(base_url: str, mixes: dict[str, list[BenchQuery]], figures: dict[str, MixFigures]) -> BenchQuery:
    """Send every query once and check its answer; fill each mix's hit and size figures. Returns the text query
    whose response has the median size (the floor replays it)."""
    sized: list[tuple[int, str, BenchQuery]] = []
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30.0) as client:
        for mix, queries in mixes.items():
            hits_per_query: list[int] = []
            sizes: list[int] = []
            for query in queries:
                response = client.get(query.path)
                check(response.status_code == 200, f"GET {query.path} answered {response.status_code}")
                body = response.json()
                hits = body["hits"]
                hits_per_query.append(int(body.get("estimated_total", len(hits))) if mix != "suggest" else len(hits))
                sizes.append(len(response.content))
                if mix == "text":
                    sized.append((len(response.content), query.path, query))
                if "lat" in query.params:
                    distances = [hit["distance_m"] for hit in hits]
                    if query.params.get("sort") == "distance":
                        check(distances == sorted(distances), f"GET {query.path}: hits not in distance order")
                    if "radius_km" in query.params:
                        limit_m = float(query.params["radius_km"]) * 1000 + 1
                        check(all(d <= limit_m for d in distances), f"GET {query.path}: a hit outside the radius")
                if "kind" in query.params:
                    check(all(hit["kind"] == query.params["kind"] for hit in hits), f"GET {query.path}: kind ignored")
                    check(
                        all((hit.get("commune") or {}).get("code") == query.params["commune"] for hit in hits),
                        f"GET {query.path}: commune ignored",
                    )
                    check(set(body["facets"]) == {"kind", "commune"}, f"GET {query.path}: facets missing")
            fig = figures[mix]
            fig.queries = len(queries)
            fig.zero_hits = sum(1 for h in hits_per_query if h == 0) / len(queries)
            fig.median_hits = statistics.median(hits_per_query)
            fig.median_bytes = statistics.median(sizes)
    sized.sort(key=lambda item: (item[0], item[1]))
    return sized[len(sized) // 2][2]


def sanity(base_url: str) -> list[str]:
    """Top hits of a few curated queries (shown, not enforced: ranking is the contract suite's business)."""
    lines = []
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10.0) as client:
        for q in ("sapa", "bac ha", "fansipn", "沙坝", "o quy ho", "cat cat"):
            hits = client.get("/v1/search", params={"q": q, "limit": 3}).json()["hits"]
            lines.append(f"{q!r} -> " + ", ".join(f"{hit['name']} ({hit['kind']})" for hit in hits))
    return lines


def capture_floor(base_url: str, source: BenchQuery) -> int:
    """Make the floor route replay the response of ``source``; check that it does. Returns its size in bytes."""
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30.0) as client:
        captured = client.put(FLOOR_PATH, params={"path": source.path})
        check(captured.status_code == 200, f"PUT {FLOOR_PATH} answered {captured.status_code}: {captured.text[:300]}")
        floor = client.get(FLOOR_PATH)
        check(floor.status_code == 200, f"GET {FLOOR_PATH} answered {floor.status_code}")
        digest = hashlib.sha256(floor.content).hexdigest()
        check(digest == captured.json()["sha256"], "the floor does not replay the captured bytes")
        return len(floor.content)


# ------------------------------------------------------------------------------------------------------ report


def median_split(runs: Sequence[EngineRun]) -> dict[str, float]:
    names = sorted({name for run in runs for name in run.native_split})
    return {name: statistics.median(run.native_split.get(name, 0.0) for run in runs) for name in names}


def split_text(runs: Sequence[EngineRun]) -> str:
    """``search 98% (x1.0), ffv 2% (x1.0)``: share of tantivy time and mean calls per engine call, per method."""
    short = {"search": "search", "aggregate": "agg", "doc": "doc", "fast_field_values": "ffv"}
    split = median_split(runs)
    calls = runs[-1].native_calls if runs else {}
    return ", ".join(
        f"{short.get(name, name)} {share:.0%} (x{calls.get(name, 0):.1f})" for name, share in split.items()
    )


def verdict(ok: bool) -> str:
    return "[green]met" if ok else "[red]NOT MET"


def targets_of(fig: MixFigures, floor: MixFigures) -> dict[str, tuple[float, float, bool]]:
    """{target: (measured, threshold, met)} of one mix."""
    p95 = fig.med("low", "p95_ms")
    floor_ratio = fig.med("high", "rps") / floor.med("high", "rps")
    engine_ratio = fig.med("high", "rps") / fig.med("engine", "qps")
    return {
        "p95_ms_at_4": (p95, P95_TARGET_MS, p95 <= P95_TARGET_MS),
        "rps_at_32_over_floor": (floor_ratio, FLOOR_TARGET, floor_ratio >= FLOOR_TARGET),
        "api_over_engine": (engine_ratio, ENGINE_TARGET, engine_ratio >= ENGINE_TARGET),
    }


def print_report(database: str, figures: dict[str, MixFigures], floor: MixFigures, floor_bytes: int) -> None:
    mixes = [figures[mix] for mix in MIXES]
    table = Table(title=f"{database}: the query mixes (every query sent once before measuring)")
    for name in ("mix", "distinct queries", "zero-hit share", "median hits", "median bytes"):
        table.add_column(name, justify="left" if name == "mix" else "right")
    for fig in mixes:
        table.add_row(
            fig.mix, f"{fig.queries}", f"{fig.zero_hits:.0%}", f"{fig.median_hits:g}", f"{fig.median_bytes:,.0f}"
        )
    table.add_row("floor", "1", "", "", f"{floor_bytes:,}")
    console.print(table)

    table = Table(title=f"{database}: API over HTTP (wrk -t1; medians of rounds; floor = same server, same run)")
    for name in (
        "mix",
        f"rps @{LOW}",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        f"rps @{HIGH}",
        f"p99 ms @{HIGH}",
        "server µs/req",
        "÷ floor rps",
        "÷ floor CPU",
    ):
        table.add_column(name, justify="left" if name == "mix" else "right")
    for fig in [*mixes, floor]:
        ratio = fig.med("high", "rps") / floor.med("high", "rps")
        cpu_ratio = floor.med("high", "us_per_request") / fig.med("high", "us_per_request")
        table.add_row(
            fig.mix,
            f"{fig.med('low', 'rps'):,.0f}",
            f"{fig.med('low', 'p50_ms'):.2f}",
            f"{fig.med('low', 'p95_ms'):.2f}",
            f"{fig.med('low', 'p99_ms'):.2f}",
            f"{fig.med('high', 'rps'):,.0f}",
            f"{fig.med('high', 'p99_ms'):.2f}",
            f"{fig.med('high', 'us_per_request'):,.0f}",
            f"{ratio:.3f}",
            f"{cpu_ratio:.3f}",
        )
    console.print(table)

    table = Table(title=f"{database}: raw engine, same queries, one call at a time in the bench process (one core)")
    for name in (
        "mix",
        "engine q/s",
        "p50 ms",
        "p95 ms",
        "tantivy p50 ms",
        "tantivy p95 ms",
        "tantivy share",
        f"API rps @{HIGH} ÷ engine q/s",
        "engine µs/call",
        f"API server µs/req @{HIGH}",
    ):
        table.add_column(name, justify="left" if name == "mix" else "right")
    for fig in mixes:
        table.add_row(
            fig.mix,
            f"{fig.med('engine', 'qps'):,.0f}",
            f"{fig.med('engine', 'p50_ms'):.2f}",
            f"{fig.med('engine', 'p95_ms'):.2f}",
            f"{fig.med('engine', 'native_p50_ms'):.3f}",
            f"{fig.med('engine', 'native_p95_ms'):.3f}",
            f"{fig.med('engine', 'native_share'):.0%}",
            f"{fig.med('high', 'rps') / fig.med('engine', 'qps'):.3f}",
            f"{fig.med('engine', 'us_per_call'):,.0f}",
            f"{fig.med('high', 'us_per_request'):,.0f}",
        )
    console.print(table)
    console.print(
        "  tantivy time by Searcher method (search, aggregate = facets, doc = stored record, ffv = fast field "
        "values; xN = calls per query): " + "; ".join(f"{fig.mix}: {split_text(fig.engine)}" for fig in mixes)
    )

    table = Table(title=f"{database}: targets of issue 6 (suggest shown for information: the targets name /v1/search)")
    for name in (
        "mix",
        f"p95 @{LOW} ≤ {P95_TARGET_MS:g} ms",
        f"@{HIGH} ≥ {FLOOR_TARGET} × floor",
        "API ≥ 0.5 × engine",
    ):
        table.add_column(name, justify="left" if name == "mix" else "right")
    for fig in mixes:
        cells = [f"{measured:.3g} {verdict(ok)}" for measured, _t, ok in targets_of(fig, floor).values()]
        table.add_row(fig.mix if fig.mix != "suggest" else "suggest (info)", *cells)
    console.print(table)
    for fig in [*mixes, floor]:
        if fig.errors:
            console.print(f"[red]{database}/{fig.mix}: {fig.errors} failed requests (non-2xx or socket errors)")


def payload_of(
    args: argparse.Namespace, results: list[tuple[str, dict[str, MixFigures], MixFigures, int, dict[str, Any]]]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "search",
        "commit": git_commit(),
        "cpu_count": os.cpu_count(),
        "cpu": cpu_model(),
        "load": f"wrk -t1 -c{LOW}/-c{HIGH} -d{args.duration:g}s x{args.repeats}",
        "synthetic": args.synthetic,
        "loadavg_end": os.getloadavg(),
        "seed": args.seed,
        "blocks": {},
    }
    for database, figures, floor, floor_bytes, setup in results:
        entry: dict[str, Any] = {"setup": setup, "floor_bytes": floor_bytes, "mixes": {}}
        for fig in [*(figures[m] for m in MIXES), floor]:
            entry["mixes"][fig.mix] = {
                "queries": fig.queries,
                "zero_hit_share": round(fig.zero_hits, 3),
                "median_bytes": fig.median_bytes,
                "rps_at_4": round(fig.med("low", "rps"), 1),
                "p50_ms_at_4": round(fig.med("low", "p50_ms"), 3),
                "p95_ms_at_4": round(fig.med("low", "p95_ms"), 3),
                "p99_ms_at_4": round(fig.med("low", "p99_ms"), 3),
                "rps_at_32": round(fig.med("high", "rps"), 1),
                "p99_ms_at_32": round(fig.med("high", "p99_ms"), 3),
                "server_us_per_request_at_32": round(fig.med("high", "us_per_request"), 1),
                "errors": fig.errors,
                "runs": {"c4": [asdict(r) for r in fig.low], "c32": [asdict(r) for r in fig.high]},
            }
            if fig.engine:
                entry["mixes"][fig.mix]["engine"] = {
                    "qps": round(fig.med("engine", "qps"), 1),
                    "p50_ms": round(fig.med("engine", "p50_ms"), 3),
                    "p95_ms": round(fig.med("engine", "p95_ms"), 3),
                    "tantivy_p50_ms": round(fig.med("engine", "native_p50_ms"), 4),
                    "tantivy_p95_ms": round(fig.med("engine", "native_p95_ms"), 4),
                    "tantivy_share": round(fig.med("engine", "native_share"), 3),
                    "tantivy_split": median_split(fig.engine),
                    "tantivy_calls_per_query": fig.engine[-1].native_calls,
                }
                entry["mixes"][fig.mix]["targets"] = {
                    name: {"measured": round(measured, 3), "threshold": threshold, "met": ok}
                    for name, (measured, threshold, ok) in targets_of(fig, floor).items()
                }
        out["blocks"][database] = entry
    return out


# -------------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="whole seconds of one wrk run (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians (default 3)")
    parser.add_argument("--warmup", type=int, default=2, help="whole wrk warm-up seconds per mix (default 2)")
    parser.add_argument(
        "--engine-seconds", type=float, help="seconds of one raw-engine run per mix (default: half of --duration)"
    )
    parser.add_argument("--queries", type=int, default=300, help="distinct queries per mix (default 300)")
    parser.add_argument("--synthetic", type=int, default=10_000, help="synthetic destinations (default 10000)")
    parser.add_argument("--seed", type=int, default=6, help="seed of the synthetic rows and queries (default 6)")
    parser.add_argument("--quick", action="store_true", help="smoke run under a minute: 2 s runs, 1 round")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LAOCAI_BENCH_SEARCH_POSTGRES_URL", ""),
        help="postgresql+asyncpg://... of a database named *bench* the benchmark may fill (default "
        "$LAOCAI_BENCH_SEARCH_POSTGRES_URL); without one only SQLite runs",
    )
    parser.add_argument(
        "--search-cache",
        default=None,
        help="comma-separated: off (LAOCAI_SEARCH_CACHE_SECONDS=0: every request runs the engine), on (the "
        f"shipped default, {CACHE_ON_SECONDS} s: the mixes' repeated queries come from the result cache); "
        "default both (--quick: off)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.search_cache is None:
        args.search_cache = "off" if args.quick else "off,on"
    args.search_cache = [c.strip() for c in args.search_cache.split(",") if c.strip()]
    if not args.search_cache or not set(args.search_cache) <= {"on", "off"}:
        parser.error("--search-cache takes off and/or on")
    if args.quick:
        args.duration, args.repeats, args.warmup = 2, 1, 1
    if args.engine_seconds is None:
        args.engine_seconds = args.duration / 2
    if not 1 <= args.duration <= 300 or not 1 <= args.warmup <= 60 or not 0.1 <= args.engine_seconds <= 300:
        parser.error(
            "--duration must be 1..300 s, --warmup 1..60 s (wrk takes whole seconds), --engine-seconds 0.1..300 s"
        )
    if not 1 <= args.repeats <= 50 or not 10 <= args.queries <= 5000 or not 0 <= args.synthetic <= 200_000:
        parser.error("--repeats must be 1..50, --queries 10..5000, --synthetic 0..200000")
    if args.postgres_url:
        try:
            check_bench_database(args.postgres_url)
        except ValueError as exc:
            parser.error(str(exc))
    found = shutil.which("wrk")
    if found is None:
        parser.error("wrk is not installed: apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)")
    args.wrk = found
    return args


def measure(
    database: str, env: dict[str, str], data_dir: Path, workdir: Path, args: argparse.Namespace, mixes: Any
) -> tuple[dict[str, MixFigures], MixFigures, int]:
    """Start the server, verify, capture the floor, warm up, then ``--repeats`` interleaved rounds."""
    figures = {mix: MixFigures(database, mix) for mix in MIXES}
    floor = MixFigures(database, "floor")
    scripts = {}
    stem = re.sub(r"[^a-z0-9]+", "-", database.lower())
    for mix in MIXES:
        scripts[mix] = workdir / f"{stem}-{mix.replace('+', '-')}.lua"
        scripts[mix].write_text(lua_script([q.path for q in mixes[mix]]))
    scripts["floor"] = workdir / f"{stem}-floor.lua"
    scripts["floor"].write_text(lua_script([FLOOR_PATH]))
    log_path = workdir / f"app-{stem}.log"
    port = free_loopback_port()
    app = start_uvicorn("benches.search_app:create_search_bench_app", env, port, log_path)
    try:
        base_url = f"http://{LOOPBACK}:{port}"
        wait_ready(base_url, READY_PATH, app, log_path)
        source = verify(base_url, mixes, figures)
        floor_bytes = capture_floor(base_url, source)
        console.print(f"  floor replays GET {escape(source.path)} ({floor_bytes:,} bytes)")
        for line in sanity(base_url):
            console.print(f"  sanity: {escape(line)}")
        raw = RawEngine(data_dir)
        for name, script in scripts.items():
            wrk(base_url, script, HIGH, args.warmup, app.pid, args.wrk)
            if name != "floor":
                raw.run(mixes[name], 0.0)
        for round_no in range(args.repeats):
            console.print(f"  {database}: round {round_no + 1}/{args.repeats}")
            for mix in [*MIXES, "floor"]:
                fig = floor if mix == "floor" else figures[mix]
                fig.low.append(wrk(base_url, scripts[mix], LOW, args.duration, app.pid, args.wrk))
                fig.high.append(wrk(base_url, scripts[mix], HIGH, args.duration, app.pid, args.wrk))
                if mix != "floor":
                    fig.engine.append(raw.run(mixes[mix], args.engine_seconds))
        return figures, floor, floor_bytes
    finally:
        stop(app)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    workdir = Path(tempfile.mkdtemp(prefix="laocai-bench-search-", dir="/tmp"))
    wrk_version = subprocess.run([args.wrk, "-v"], capture_output=True, text=True, check=False)
    started = time.perf_counter()
    try:
        console.rule("search benchmark")
        console.print(f"python      {platform.python_implementation()} {platform.python_version()}")
        console.print(f"machine     {platform.platform()}; {os.cpu_count()} logical CPU(s), {cpu_model()}")
        console.print(
            f"versions    litestar {version('litestar')}, uvicorn {version('uvicorn')}, tantivy {version('tantivy')}; "
            f"{(wrk_version.stdout or wrk_version.stderr).splitlines()[0]}; commit {git_commit()}"
        )
        console.print(
            f"load        wrk -t1 -c{LOW} --latency and -c{HIGH}, -d{args.duration:g}s, {args.repeats} round(s), "
            f"warm-up {args.warmup:g} s per mix; engine {args.engine_seconds:g} s per mix and round"
        )
        console.print(f"load avg    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) before the run")
        databases = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
        results = []
        for database in databases:
            data_dir = workdir / database
            env = bench_env(data_dir, args.postgres_url if database == "postgresql" else "")
            facts, rows, setup = prepare_data(database, env, data_dir, args.synthetic, args.seed)
            mixes = build_mixes(facts, rows, args.seed, args.queries)
            for cache in args.search_cache:
                block = f"{database}, search cache {cache}"
                block_env = {**env, "LAOCAI_SEARCH_CACHE_SECONDS": "0" if cache == "off" else CACHE_ON_SECONDS}
                figures, floor, floor_bytes = measure(block, block_env, data_dir, workdir, args, mixes)
                results.append((block, figures, floor, floor_bytes, setup))
                print_report(block, figures, floor, floor_bytes)
        payload = payload_of(args, results)
        line = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
        sys.stdout.write(line + "\n")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
            console.print(f"figures written to {args.json}")
        console.print(
            f"[dim]total {time.perf_counter() - started:.0f} s; load avg "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at the end"
        )
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
