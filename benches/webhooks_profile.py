"""Where the server's time goes under webhook ingest load: cProfile of a one-worker server driven by wrk.

Run ``uv run python benches/webhooks_profile.py`` (after, or instead of, ``benches/webhooks.py``; same database and
settings, Redis runner: ingest only). It recreates and migrates the bench database, starts
``python -m cProfile -o PROFILE -m uvicorn src.app:create_app --factory --workers 1 ...`` with the settings of
``benches/webhooks.py``, sends ``--seconds`` of fresh signed events with ``benches/webhooks.lua``, stops the server
(SIGINT: uvicorn shuts down cleanly and cProfile writes its file) and prints the top functions by own time and by
cumulative time, each as a share of the profiled total, plus own time grouped by package. cProfile inflates
Python-heavy parts relative to native ones (the unprofiled rate from ``benches/webhooks.py`` is the reference).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import shlex
import signal
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from benches.catalogue import BenchError, free_loopback_port, stop, wait_ready
from benches.holds import recreate_database
from benches.webhooks import (
    DEFAULT_REDIS,
    DEFAULT_URL,
    READY_PATH,
    WEBHOOK_SECRET,
    EventSource,
    clear_queue,
    migrate,
    run_wrk,
    server_env,
)
from src.kernel.config import PROJECT_ROOT


def area(filename: str) -> str:
    """A package-level name for a profile entry's file."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins / C"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return parts[i + 1].removesuffix(".py") if i + 1 < len(parts) else "site-packages"
    if str(PROJECT_ROOT) in filename:
        rel = path.relative_to(PROJECT_ROOT).parts
        return "/".join(rel[:2]).removesuffix(".py")
    if "python3" in filename:
        return "stdlib:" + path.stem
    return path.stem


def report(profile: Path, requests: int, top: int) -> None:
    stats = pstats.Stats(str(profile))
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values())
    print(f"profiled own time {total:.2f} s over {requests:,} requests ({total / max(requests, 1) * 1e6:,.0f} µs/req)")
    by_area: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        by_area[area(filename)] += tt
    print("\nown time by package:")
    for name, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:20]:
        print(f"  {tt / total * 100:5.1f} %  {name}")

    def label(key: tuple[str, int, str]) -> str:
        filename, line, name = key
        short = filename
        if "site-packages/" in filename:
            short = filename.split("site-packages/", 1)[1]
        elif str(PROJECT_ROOT) in filename:
            short = str(Path(filename).relative_to(PROJECT_ROOT))
        return f"{short}:{line}({name})"

    print(f"\ntop {top} by own time:")
    for key, (_cc, nc, tt, _ct, _callers) in sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"  {tt / total * 100:5.1f} %  {nc:>9,} calls  {label(key)}")
    print(f"\ntop {top} by cumulative time (share of the profiled total; nested entries overlap):")
    for key, (_cc, nc, _tt, ct, _callers) in sorted(raw.items(), key=lambda kv: -kv[1][3])[:top]:
        print(f"  {ct / total * 100:5.1f} %  {nc:>9,} calls  {label(key)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("LAOCAI_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--redis-url", default=os.environ.get("LAOCAI_BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--profile-file", type=Path, help="keep the cProfile output here")
    args = parser.parse_args(argv)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
    with tempfile.TemporaryDirectory(prefix="laocai-webhooks-profile-") as tmp:
        workdir = Path(tmp)
        base_env.update(
            {
                "LAOCAI_DATABASE_URL": args.postgres_url,
                "LAOCAI_DATA_DIR": str(workdir / "data"),
                "LAOCAI_RATE_LIMIT_PUBLIC": "off",
                "LAOCAI_RATE_LIMIT_AUTH": "off",
                "LAOCAI_SEARCH_LOG": "false",
                "LAOCAI_STRIPE_SECRET_KEY": "sk_test_bench",
                "LAOCAI_STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
                "LAOCAI_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "LAOCAI_STRIPE_API_BASE": "http://127.0.0.1:9",
                "PYTHONPATH": str(PROJECT_ROOT),
            }
        )
        asyncio.run(recreate_database(args.postgres_url))
        migrate(base_env)
        asyncio.run(clear_queue(args.redis_url))
        env = server_env(base_env, "redis", args.redis_url)
        profile = args.profile_file or workdir / "server.prof"
        port = free_loopback_port()
        command = [
            sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "uvicorn", "src.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-proxy-headers", "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip
        print("server:", shlex.join(["python", *command[1:]]))
        log = workdir / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        source = EventSource()
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, READY_PATH, server, log)
            events = workdir / "run.events"
            source.write(events, 60_000)
            result, _cpu = run_wrk(base, args.connections, args.seconds, events, workdir / "run.acked", server.pid)
            print("load:", result.command)
            print(
                f"under cProfile: {len(result.acked) / result.seconds:,.1f} events/s, p50 {result.p50_ms:.1f} ms,"
                f" p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx}"
            )
        finally:
            # SIGINT, not SIGTERM: uvicorn re-raises the signal it caught after shutting down, and only
            # KeyboardInterrupt lets cProfile's ``finally`` write the file
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    stop(server)
        asyncio.run(clear_queue(args.redis_url))
        if not profile.exists():
            raise BenchError(f"no profile written; server log:\n{log.read_text(errors='replace')[-3000:]}")
        report(profile, result.requests, args.top)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        sys.exit(2)
