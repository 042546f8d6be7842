"""The security baseline in process, on both backends (memory counters on SQLite, Redis counters on PostgreSQL):
rate limits and their 429, client identity behind trusted proxies, request ids, security headers, CORS and the
request-body limit. Requests run concurrently through ``ASGITransport`` (not the serialising TestClient)."""

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from litestar import Litestar, post
from litestar.params import JSONBody

from src.app import create_app
from src.kernel.config import Settings
from src.kernel.errors import problem_responses
from src.kernel.logs import RequestIdFilter
from src.kernel.rate_limits import AUTH_RATE_LIMIT, SweptMemoryStorage
from src.kernel.security import TrustedProxies


@post("/v1/test-login", opt=AUTH_RATE_LIMIT, responses=problem_responses(413), status_code=200, security=[])
async def fake_login(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Stands in for ``/v1/auth/login`` (built on another branch): it opts in to the strict limit in one line."""
    return {"echo": len(data)}


@post("/v1/test-echo", responses=problem_responses(413), status_code=200, security=[])
async def echo(data: JSONBody[dict[str, Any]]) -> dict[str, int]:
    return {"keys": len(data)}


def a_client_address() -> str:
    """A fresh client address per test, so Redis counters of earlier runs (same minute) never interfere."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


async def _app(settings: Settings, **overrides: Any) -> Litestar:
    app = create_app(settings.model_copy(update=overrides))
    app.register(fake_login)
    app.register(echo)
    return app


async def _close(app: Litestar) -> None:
    for hook in app.on_shutdown:
        await hook(app)  # type: ignore[call-arg,misc]


def _client(app: Litestar, peer: str, base: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 4242)), base_url=base)


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[Litestar]:
    app = await _app(settings, rate_limit_public="5/minute", rate_limit_auth="3/minute")
    yield app
    await _close(app)


async def test_public_limit_refuses_concurrent_excess_with_retry_after(limited: Litestar) -> None:
    async with _client(limited, a_client_address()) as http:
        answers = await asyncio.gather(
            *(http.get("/v1/communes", headers={"Accept-Language": "en"}) for _ in range(12))
        )
        probe = await http.get("/health/live")  # outside /v1/: never limited
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 5 + [429] * 7
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert (body["code"], body["status"], body["title"]) == ("too_many_requests", 429, "Too many requests")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-request-id"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert probe.status_code == 200


async def test_the_title_of_a_429_is_translated(limited: Litestar) -> None:
    async with _client(limited, a_client_address()) as http:
        answers = [await http.get("/v1/communes", headers={"Accept-Language": "fr"}) for _ in range(6)]
    assert answers[-1].status_code == 429
    assert answers[-1].json()["title"] == "Trop de requêtes"


async def test_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(limited: Litestar) -> None:
    async with _client(limited, a_client_address()) as http:
        answers = [
            await http.get("/v1/communes", headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Real-IP": f"1.1.1.{i}"})
            for i in range(8)
        ]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 3


async def test_the_strict_limit_applies_to_handlers_that_opt_in(limited: Litestar) -> None:
    async with _client(limited, a_client_address()) as http:
        answers = await asyncio.gather(*(http.post("/v1/test-login", json={"email": "a@b.c"}) for _ in range(6)))
        public = await http.get("/v1/communes")  # the strict counter is its own: the public one still has room
    assert sorted(r.status_code for r in answers) == [200] * 3 + [429] * 3
    assert public.status_code == 200


async def test_limits_that_are_off_never_refuse(settings: Settings) -> None:
    app = await _app(settings, rate_limit_public="off", rate_limit_auth="off")
    try:
        assert app.state.rate_limiter.limits == {}  # no storage call at all per request
        async with _client(app, a_client_address()) as http:
            answers = await asyncio.gather(*(http.get("/v1/communes") for _ in range(30)))
        assert {r.status_code for r in answers} == {200}
    finally:
        await _close(app)


async def test_a_trusted_proxy_names_the_client(settings: Settings) -> None:
    proxy = a_client_address()
    app = await _app(settings, rate_limit_public="2/minute", trusted_proxies=f"{proxy}/32, 192.0.2.0/24")
    alice, bob = a_client_address(), a_client_address()
    try:
        async with _client(app, proxy) as http:

            async def via_proxy(forwarded: str) -> int:
                return (await http.get("/v1/communes", headers={"X-Forwarded-For": forwarded})).status_code

            # alice prepends a forged address each time; the right-most untrusted hop is still her.
            assert [await via_proxy(f"203.0.113.{i}, {alice}, 192.0.2.7") for i in range(3)] == [200, 200, 429]
            assert [await via_proxy(bob) for _ in range(3)] == [200, 200, 429]
    finally:
        await _close(app)


def test_trusted_proxies_resolution() -> None:
    proxies = TrustedProxies(Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxy_networks)

    def client(peer: str, *headers: tuple[bytes, bytes]) -> tuple[str, str]:
        scope: Any = {"client": (peer, 1), "scheme": "http", "headers": list(headers)}
        proxies.resolve(scope)
        return scope["client"][0], scope["scheme"]

    xff = b"x-forwarded-for"
    assert client("203.0.113.9", (xff, b"1.2.3.4")) == ("203.0.113.9", "http")  # untrusted peer: header ignored
    assert client("10.0.0.1", (xff, b"1.2.3.4, 5.6.7.8")) == ("5.6.7.8", "http")
    assert client("10.0.0.1", (xff, b"1.2.3.4"), (xff, b"5.6.7.8, 10.9.9.9")) == ("5.6.7.8", "http")
    assert client("10.0.0.1", (xff, b"10.1.1.1, 10.2.2.2")) == ("10.1.1.1", "http")  # all trusted: the left-most
    assert client("10.0.0.1", (xff, b"1.2.3.4, garbage, 10.2.2.2")) == ("10.2.2.2", "http")
    assert client("::1", (b"x-forwarded-proto", b"https")) == ("::1", "https")
    assert client("203.0.113.9", (b"x-forwarded-proto", b"https")) == ("203.0.113.9", "http")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_redis_down_fails_open_to_a_per_process_window(settings: Settings) -> None:
    app = await _app(settings, rate_limit_public="4/minute", redis_url="redis://127.0.0.1:1/0")
    records = _Records()
    records.addFilter(RequestIdFilter())
    logger = logging.getLogger("laocai.rate_limits")
    logger.addHandler(records)
    try:
        async with _client(app, a_client_address()) as http:
            answers = [await http.get("/v1/communes") for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 4 + [429] * 2
        assert len(records.records) == 1  # logged, but not once per request
        warning = records.records[0]
        assert warning.levelno == logging.WARNING
        assert "counting in this process only" in warning.getMessage()
        assert warning.request_id == answers[0].headers["x-request-id"]  # the log line names its request
    finally:
        logger.removeHandler(records)
        await _close(app)


async def test_request_id_is_echoed_when_sane_and_generated_otherwise(client: httpx.AsyncClient) -> None:
    sane = "req-42.a:b_C"
    assert (await client.get("/v1/communes", headers={"X-Request-ID": sane})).headers["x-request-id"] == sane
    for insane in ("x" * 129, "a b", "<script>", "é".encode(), "a\tb"):
        got = (await client.get("/v1/communes", headers={"X-Request-ID": insane})).headers["x-request-id"]
        assert got not in (insane, "é")
        assert len(got) == 32
        assert int(got, 16) >= 0
    one, two = (
        (await client.get("/health/live")).headers["x-request-id"],
        (await client.get("/health/live")).headers["x-request-id"],
    )
    assert one != two


async def test_router_answers_carry_request_id_and_security_headers(client: httpx.AsyncClient) -> None:
    for answer in (await client.get("/nowhere"), await client.post("/v1/communes")):
        assert answer.status_code in (404, 405)
        assert answer.headers["content-type"] == "application/problem+json"
        assert len(answer.headers["x-request-id"]) == 32
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert (await client.get("/nowhere", headers={"X-Request-ID": "abc"})).headers["x-request-id"] == "abc"


async def test_security_headers_and_docs_policy(client: httpx.AsyncClient) -> None:
    api = await client.get("/v1/communes")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"
    assert api.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in api.headers  # plain HTTP: never HSTS (RFC 6797 §7.2)
    docs = await client.get("/schema")
    assert docs.status_code == 200
    csp = docs.headers["content-security-policy"]
    scripts = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    # every external script the Scalar page loads is allowed by its policy
    for url in [token.split('"')[0] for token in docs.text.split('src="')[1:]]:
        assert url.startswith("https://cdn.jsdelivr.net/"), url
        assert "https://cdn.jsdelivr.net" in scripts
    assert "frame-ancestors 'none'" in csp
    assert "access-control-allow-origin" not in api.headers  # no CORS origins configured


async def test_hsts_only_over_tls(app: Litestar, settings: Settings) -> None:
    async with _client(app, "127.0.0.1", base="https://testserver") as http:
        assert (await http.get("/health/live")).headers["strict-transport-security"].startswith("max-age=")
    proxied = await _app(settings, trusted_proxies="127.0.0.1")
    try:
        async with _client(proxied, "127.0.0.1") as http:
            tls = await http.get("/health/live", headers={"X-Forwarded-Proto": "https"})
            assert "strict-transport-security" in tls.headers
        async with _client(proxied, "203.0.113.5") as http:
            forged = await http.get("/health/live", headers={"X-Forwarded-Proto": "https"})
            assert "strict-transport-security" not in forged.headers
        async with _client(proxied, "127.0.0.1") as http:  # the router's own 404 behind the proxy too
            missing = await http.get("/nowhere", headers={"X-Forwarded-Proto": "https"})
            assert missing.status_code == 404
            assert "strict-transport-security" in missing.headers
    finally:
        await _close(proxied)


async def test_cors_from_settings(settings: Settings) -> None:
    app = await _app(settings, cors_origins="https://app.example.org, https://portal.example.org/")
    try:
        async with _client(app, a_client_address()) as http:
            preflight = await http.options(
                "/v1/communes",
                headers={"Origin": "https://portal.example.org", "Access-Control-Request-Method": "GET"},
            )
            assert preflight.status_code in (200, 204)
            assert preflight.headers["access-control-allow-origin"] == "https://portal.example.org"
            simple = await http.get("/v1/communes", headers={"Origin": "https://app.example.org"})
            assert simple.headers["access-control-allow-origin"] == "https://app.example.org"
            assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
            foreign = await http.get("/v1/communes", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in foreign.headers
    finally:
        await _close(app)


async def _raw_post(
    app: Litestar, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    """POST ``chunks`` as ASGI body events with exactly ``headers`` (httpx would correct a lying Content-Length)."""
    events = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": (a_client_address(), 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), dict(start["headers"])


async def test_oversized_bodies_get_413_problem(settings: Settings) -> None:
    app = await _app(settings, max_body_bytes=100)
    big = json.dumps({"k": "x" * 200}).encode()
    try:
        async with _client(app, a_client_address()) as http:
            assert (await http.post("/v1/test-echo", json={"k": "small"})).status_code == 200
            honest = await http.post("/v1/test-echo", content=big, headers={"Content-Type": "application/json"})

            async def chunks() -> AsyncIterator[bytes]:
                for i in range(0, len(big), 40):
                    yield big[i : i + 40]

            chunked = await http.post("/v1/test-echo", content=chunks(), headers={"Content-Type": "application/json"})
        for answer in (honest, chunked):
            assert answer.status_code == 413
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "payload_too_large"
            assert answer.headers["x-request-id"]
        lying = await _raw_post(app, "/v1/test-echo", [(b"content-length", b"10")], [big[:60], big[60:]])
        assert lying[0] == 413
        assert lying[1]["code"] == "payload_too_large"
        assert lying[2][b"content-type"] == b"application/problem+json"
    finally:
        await _close(app)


async def test_memory_counters_of_quiet_clients_are_swept() -> None:
    storage = SweptMemoryStorage()
    window = MovingWindowRateLimiter(storage)
    item = parse("2/second")
    assert [await window.hit(item, "public", "quiet") for _ in range(3)] == [True, True, False]
    await asyncio.sleep(1.1)
    assert await window.hit(item, "public", "busy")  # the first hit after a second starts the sweep
    for _ in range(50):
        await asyncio.sleep(0.02)
        if not any("quiet" in key for key in storage.events):
            break
    assert [key for key in storage.events if "quiet" in key] == []
    assert await window.hit(item, "public", "quiet")
