"""Rate limits across real server processes sharing Redis: four ``laocai serve`` processes on four loopback ports,
one PostgreSQL database and one Redis, hammered concurrently. A 20/minute limit lets exactly 20 requests through
(Litestar's own limiter let 25-62 through: STACK-NOTES.md), a forged ``X-Forwarded-For`` on every request does not
reset it (uvicorn would otherwise trust it from 127.0.0.1), every 429 carries ``Retry-After``, and the log lines of a
request carry its id.

``hammer`` takes the method, path, body and settings, so the same proof runs on ``/v1/auth/login`` with
``LAOCAI_RATE_LIMIT_AUTH=20/minute`` once the auth endpoints exist (add a case to ``CASES``).
"""

import asyncio
import contextlib
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from src.kernel.rate_limits import KEY_PREFIX
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, cli_env, free_port, stop_process, wait_until_ready

needs_services = pytest.mark.skipif(
    not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="needs TEST_DATABASE_URL and TEST_REDIS_URL"
)


@dataclass
class Hammered:
    statuses: Counter[int]
    retry_after: list[str | None] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def servers(count: int, settings: dict[str, str], folder: Path) -> Iterator[list[str]]:
    """``count`` ``laocai serve`` processes on loopback ports with ``settings``; killed on exit."""
    processes: list[subprocess.Popen[bytes]] = []
    logs = [(folder / f"server{i}.log").open("wb") for i in range(count)]
    bases: list[str] = []
    try:
        for log in logs:
            port = free_port()
            command = [sys.executable, "-m", "src.cli", "serve", "--port", str(port)]
            processes.append(subprocess.Popen(command, env=cli_env(**settings), stdout=log, stderr=subprocess.STDOUT))
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes, strict=True):
            ready = wait_until_ready(base, process, seconds=90)
            assert ready is not None, f"{base} never answered"
            assert ready.status_code == 200, ready.text
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


async def hammer(
    bases: list[str], method: str, path: str, body: dict[str, Any] | None, *, requests: int, concurrency: int
) -> Hammered:
    """Send ``requests`` requests round-robin over ``bases``, at most ``concurrency`` at once, each with a forged
    ``X-Forwarded-For`` / ``X-Real-IP`` naming another client."""
    gate = asyncio.Semaphore(concurrency)
    result = Hammered(Counter())
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def one(i: int) -> None:
            forged = f"{random.randrange(1, 224)}.{random.randrange(256)}.{random.randrange(256)}.{i % 250 + 1}"
            headers = {"X-Forwarded-For": forged, "X-Real-IP": forged, "Accept-Language": "en"}
            async with gate:
                answer = await http.request(method, bases[i % len(bases)] + path, json=body, headers=headers)
            result.statuses[answer.status_code] += 1
            if answer.status_code == 429:
                result.retry_after.append(answer.headers.get("retry-after"))
                result.bodies.append(answer.json())

        await asyncio.gather(*(one(i) for i in range(requests)))
    return result


async def clear_counters() -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(f"{KEY_PREFIX}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


#: (method, path, body, settings) of each limit proven across processes: the general one on a public read, and the
#: strict one on login (every attempt there is a wrong password, answered 401 while under the limit).
CASES = [
    ("GET", "/v1/communes?limit=1", None, {"rate_limit_public": "20/minute"}),
    (
        "POST",
        "/v1/auth/login",
        {"email": "nobody@example.org", "password": "wrong-password-123"},
        {"rate_limit_auth": "20/minute", "rate_limit_public": "off"},
    ),
]


@needs_services
@pytest.mark.parametrize(("method", "path", "body", "limit_settings"), CASES)
async def test_four_processes_on_redis_let_at_most_the_limit_through(
    tmp_path: Path, method: str, path: str, body: dict[str, Any] | None, limit_settings: dict[str, str]
) -> None:
    await clear_counters()
    settings = {"database_url": TEST_DATABASE_URL, "redis_url": TEST_REDIS_URL, **limit_settings}
    with servers(4, settings, tmp_path) as bases:
        result = await hammer(bases, method, path, body, requests=160, concurrency=40)
        after = await hammer(bases, method, path, body, requests=8, concurrency=8)
    # Whatever the handler answers to the requests let through (200 here, 401 for a wrong login), none is a 5xx.
    assert all(status < 500 for status in result.statuses), result.statuses
    passed = sum(count for status, count in result.statuses.items() if status != 429)
    assert passed == 20, result.statuses  # at most 20, and not fewer: no hit was lost or counted twice
    assert result.statuses[429] == 140
    assert after.statuses == Counter({429: 8})  # new forged addresses still change nothing
    assert all(value is not None and 1 <= int(value) <= 60 for value in result.retry_after), result.retry_after
    assert {b["code"] for b in result.bodies} == {"too_many_requests"}
    for log in sorted(tmp_path.glob("server*.log")):  # noqa: ASYNC240 (the servers are stopped)
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-4000:]


def test_log_lines_of_a_request_carry_its_id(tmp_path: Path) -> None:
    # Redis unreachable: the limiter fails open (requests are served) and says so in a line naming the request.
    port = free_port()
    env = cli_env(data_dir=str(tmp_path / "var"), redis_url="redis://127.0.0.1:1/0", rate_limit_public="3/minute")
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "src.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            live = None
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    live = httpx.get(f"{base}/health/live", timeout=2)
                    break
                if process.poll() is not None:
                    break
                time.sleep(0.2)
            assert live is not None, log_path.read_text(errors="replace")
            answers = [
                httpx.get(f"{base}/v1/communes?limit=1", headers={"X-Request-ID": f"probe-{i}"}) for i in range(4)
            ]
        finally:
            stop_process(process)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-request-id"] for a in answers] == ["probe-0", "probe-1", "probe-2", "probe-3"]
    lines = log_path.read_text(errors="replace").splitlines()
    warning = [line for line in lines if "laocai.rate_limits" in line]
    assert len(warning) == 1, lines[-40:]
    assert "[probe-0]" in warning[0]
    access = [line for line in lines if "/v1/communes?limit=1" in line]
    assert [any(f"[probe-{i}]" in line for line in access) for i in range(4)] == [True] * 4, access
