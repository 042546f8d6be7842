"""Where the time of one ``/v1/search`` request goes: cProfile of in-process calls through ``httpx.ASGITransport``.

Run ``uv run python benches/search_profile.py`` (``--mix text|text+point|filters|suggest``, ``--calls 1000``,
``--search-cache off|on``: off by default, so that every call runs the engine). It
prepares the same data as ``benches/search.py`` (catalogue + 10,000 synthetic destinations, ``laocai reindex``) in a
temporary folder, builds the application as ``laocai serve`` does (``src.app.create_app()``, lifespan entered, so
the search log writer and in-process jobs run), sends one warm-up pass of the mix, times ``--calls`` calls without
the profiler, then the same calls under cProfile, and prints: the wall time per call, the profiled time by area
(tantivy's native calls, our engine adapter, ranking, text analysis, the search service and rendering, our
middleware, Litestar, msgspec, database drivers, the in-process client, asyncio) and the top functions by own and
by cumulative time. cProfile inflates Python-heavy parts relative to native ones; the unprofiled wall time per call
is the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import httpx
from rich.table import Table

from benches.search import bench_env, console, prepare_data
from benches.search_data import MIXES, BenchQuery, build_mixes
from src.kernel.config import Settings

#: (area, test on (file, function name)): the first that matches takes a profile entry's own time.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tantivy native (Searcher, Query builders)", ("tantivy",)),
    ("src/search/tantivy_engine.py (adapter)", ("src/search/tantivy_engine.py",)),
    ("src/search/ranking.py", ("src/search/ranking.py",)),
    ("src/search/text.py + rapidfuzz", ("src/search/text.py", "rapidfuzz", "unicodedata")),
    ("src/search/ other (service, render, log, docs)", ("src/search/",)),
    ("src/guide + src/kernel (middleware, i18n, db)", ("src/guide/", "src/kernel/")),
    ("litestar", ("litestar/",)),
    ("msgspec", ("msgspec",)),
    ("sqlalchemy + aiosqlite/asyncpg", ("sqlalchemy/", "aiosqlite/", "asyncpg/")),
    ("httpx client side (not server cost)", ("httpx/", "httpcore/", "anyio/", "sniffio/", "h11/")),
    ("asyncio", ("asyncio/",)),
)


def area_of(filename: str, function: str) -> str:
    where = f"{filename} {function}"
    for name, needles in AREAS:
        if any(needle in where for needle in needles):
            return name
    return "other (stdlib, builtins called from it, ...)"


class GcPauses:
    """Collector pauses per generation (seconds), recorded through ``gc.callbacks`` while installed."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def summary(self) -> str:
        parts = []
        for generation, pauses in self.pauses.items():
            if pauses:
                parts.append(
                    f"gen{generation}: {len(pauses)} pauses, total {sum(pauses) * 1e3:.1f} ms, "
                    f"max {max(pauses) * 1e3:.1f} ms"
                )
        return "; ".join(parts) or "no collections"


async def run(
    queries: list[BenchQuery], calls: int, data_dir: Path
) -> tuple[list[float], cProfile.Profile, GcPauses, int]:
    from src.app import create_app

    app = create_app(Settings())
    async with app.lifespan():
        transport = httpx.ASGITransport(app=cast(Any, app))
        logging.getLogger("httpx").setLevel(logging.WARNING)
        # wrk sends no Accept-Encoding: ask for identity too, so the server does not gzip here either
        headers = {"accept-encoding": "identity"}
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as client:

            async def call(i: int) -> None:
                response = await client.get(queries[i % len(queries)].path)
                if response.status_code != 200:
                    raise SystemExit(f"GET {queries[i % len(queries)].path} answered {response.status_code}")

            for i in range(len(queries)):  # warm-up: caches, first reader, lazy imports
                await call(i)
            wall: list[float] = []
            pauses = GcPauses()
            gc.callbacks.append(pauses)
            try:
                for i in range(calls):
                    started = time.perf_counter()
                    await call(i)
                    wall.append(time.perf_counter() - started)
            finally:
                gc.callbacks.remove(pauses)
            tracked = len(gc.get_objects())
            profile = cProfile.Profile()
            profile.enable()
            for i in range(calls):
                await call(i)
            profile.disable()
    return wall, profile, pauses, tracked


def report(mix: str, calls: int, wall: list[float], profile: cProfile.Profile, pauses: GcPauses, tracked: int) -> None:
    wall.sort()
    median_ms = statistics.median(wall) * 1e3
    console.print(
        f"[bold]{mix}[/]: {calls} in-process calls, unprofiled wall per call: median {median_ms:.2f} "
        f"ms, p95 {wall[int(len(wall) * 0.95)] * 1e3:.2f} ms, mean {statistics.fmean(wall) * 1e3:.2f} ms"
    )
    console.print(f"  garbage collector during the unprofiled calls: {pauses.summary()}; {tracked:,} tracked objects")
    stats = pstats.Stats(profile)
    raw = cast(dict[tuple[str, int, str], tuple[int, int, float, float, Any]], stats.stats)  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values())
    areas: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, tt, _ct, callers) in raw.items():
        name = area_of(filename, function)
        if filename == "~" and not name.startswith("tantivy") and callers:
            # a builtin (len, dict.get, str methods...): its time goes to the areas of its callers
            for (caller_file, _caller_line, caller_function), caller_times in callers.items():
                caller_area = area_of(caller_file, caller_function)
                areas[caller_area] = areas.get(caller_area, 0.0) + caller_times[2]
            continue
        areas[name] = areas.get(name, 0.0) + tt
    server = total - areas.get("httpx client side (not server cost)", 0.0)
    table = Table(
        title=f"{mix}: profiled own time by area (total {total / calls * 1e3:.2f} ms per call under cProfile)"
    )
    for column in ("area", "ms per call", "share of all", "share of server side"):
        table.add_column(column, justify="left" if column == "area" else "right")
    for name, seconds in sorted(areas.items(), key=lambda item: -item[1]):
        server_share = "" if name.startswith("httpx") else f"{seconds / server:.0%}"
        table.add_row(name, f"{seconds / calls * 1e3:.3f}", f"{seconds / total:.0%}", server_share)
    console.print(table)
    for title, key in (("own time", 2), ("cumulative time", 3)):
        rows = sorted(raw.items(), key=lambda item: -item[1][key])
        table = Table(title=f"{mix}: top functions by {title} (ms per call)")
        for column in ("function", "calls per call", "own ms", "cumulative ms"):
            table.add_column(column, justify="left" if column == "function" else "right")
        shown = 0
        for (filename, line, function), (_cc, nc, tt, ct, _callers) in rows:
            if key == 3 and not any(part in filename for part in ("src/", "tantivy", "litestar/")):
                continue
            short = filename.split("site-packages/")[-1].split("/wt/")[-1]
            table.add_row(
                f"{short}:{line} {function}"[:110],
                f"{nc / calls:.1f}",
                f"{tt / calls * 1e3:.3f}",
                f"{ct / calls * 1e3:.3f}",
            )
            shown += 1
            if shown == 30:
                break
        console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--mix", choices=MIXES, action="append", help="mix(es) to profile (default: text)")
    parser.add_argument("--calls", type=int, default=1000, help="calls profiled per mix (default 1000)")
    parser.add_argument("--queries", type=int, default=300, help="distinct queries per mix (default 300)")
    parser.add_argument("--synthetic", type=int, default=10_000, help="synthetic destinations (default 10000)")
    parser.add_argument("--seed", type=int, default=6, help="seed (default 6, as benches/search.py)")
    parser.add_argument(
        "--search-cache",
        choices=("off", "on"),
        default="off",
        help="off (default): LAOCAI_SEARCH_CACHE_SECONDS=0, every call runs the engine; on: the shipped default",
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="laocai-bench-profile-", dir="/tmp"))
    try:
        data_dir = workdir / "sqlite"
        env = bench_env(data_dir)
        if args.search_cache == "off":
            env["LAOCAI_SEARCH_CACHE_SECONDS"] = "0"
        facts, rows, _setup = prepare_data("sqlite", env, data_dir, args.synthetic, args.seed)
        mixes = build_mixes(facts, rows, args.seed, args.queries)
        for key in [k for k in os.environ if k.startswith("LAOCAI_")]:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if k.startswith("LAOCAI_")})
        for mix in args.mix or ["text"]:
            wall, profile, pauses, tracked = asyncio.run(run(mixes[mix], args.calls, data_dir))
            report(f"{mix} (search cache {args.search_cache})", args.calls, wall, profile, pauses, tracked)
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
