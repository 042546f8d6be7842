"""The security baseline of every request: request id, client identity behind trusted proxies, rate limits,
security headers and CORS.

Per-request work is one ASGI middleware (``SecurityMiddleware``, first of the app's middleware: request id, then
client, then rate limit) and one ``before_send`` hook (``SecurityHeaders``), which also covers the router's own
404/405 answers that no middleware sees. Header lists are built once; a limit that is off costs no storage call.

- Request id: ``X-Request-ID`` is echoed when the client sent a sane one (1-128 characters of ``A-Za-z0-9._:-``),
  generated otherwise (32 hex digits); it is in every response and in every log line of the request
  (``src/kernel/logs.py``).
- Client: the socket peer, unless the peer is in ``LAOCAI_TRUSTED_PROXIES``: then the right-most address of
  ``X-Forwarded-For`` that is not a trusted proxy (a client can prepend anything; only what our own proxies append
  is believed). ``X-Forwarded-Proto`` is believed from trusted proxies only. ``scope["client"]`` and
  ``scope["scheme"]`` are rewritten so the rest of the app sees the real client. uvicorn's own proxy handling is
  turned off by ``laocai serve``. IPv6 clients are limited per /64 (one subscriber's usual allocation).
- Headers (OWASP secure headers for APIs): ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY``, ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` on API
  responses and a CSP that lets the Scalar renderer load from its CDN on the docs page (``/schema``), and
  ``Strict-Transport-Security`` only when the request came over TLS (RFC 6797 §7.2: never over plain HTTP).
"""

import re
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from os import urandom
from typing import Any, cast

from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from src.kernel.logs import REQUEST_ID
from src.kernel.rate_limits import RateLimiter

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

#: The Scalar renderer's page (``ScalarRenderPlugin``) loads its script, stylesheet and favicon from jsDelivr,
#: fonts from fonts.scalar.com, uses inline styles, and fetches ``/schema/openapi.json`` from this origin.
DOCS_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.scalar.com; "
    "font-src https://cdn.jsdelivr.net https://fonts.scalar.com data:; img-src 'self' https://cdn.jsdelivr.net data:; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = b"max-age=31536000; includeSubDomains"


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when sane, else a new random id (32 hex digits)."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _SANE_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return urandom(16).hex()


class TrustedProxies:
    """Decides who the client is: see the module docstring. ``networks`` empty: always the socket peer."""

    def __init__(self, networks: list[IPv4Network | IPv6Network]) -> None:
        self.networks = tuple(networks)
        self.trusts = lru_cache(maxsize=4096)(self._trusts)

    def _trusts(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.networks)

    def resolve(self, scope: Scope) -> None:
        """Rewrite ``scope["client"]`` (and ``scope["scheme"]``) from the forwarding headers of a trusted peer."""
        client = scope.get("client")
        if not self.networks or client is None or not self.trusts(client[0]):
            return
        forwarded: list[str] = []
        proto = b""
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded.extend(value.decode("latin-1").split(","))
            elif name == b"x-forwarded-proto":
                proto = value
        for hop in reversed(forwarded):
            hop = hop.strip()
            if not self.trusts(hop):
                try:
                    ip_address(hop)
                except ValueError:
                    break  # not an address: keep the nearest proxy that appended it
                scope["client"] = (hop, 0)
                break
            scope["client"] = (hop, 0)  # a further trusted proxy: keep walking left
        if proto:
            last = proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
            if last in ("http", "https"):
                scope["scheme"] = last


@lru_cache(maxsize=65536)
def client_key(address: str) -> str:
    """The rate-limit identity of a client address: itself for IPv4, its /64 network for IPv6."""
    if ":" not in address:
        return address
    try:
        return str(ip_network(f"{address}/64", strict=False))
    except ValueError:
        return address


class SecurityMiddleware(ASGIMiddleware):
    """Request id, client identity and rate limit of every routed HTTP request (first middleware of the app).

    The limit of a request is its handler's ``opt["rate_limit"]`` (``"auth"``, or ``None`` for none), by default
    ``"public"`` under ``/v1/`` and none elsewhere (health probes, the docs).
    """

    scopes = (ScopeType.HTTP,)

    def __init__(self, limiter: RateLimiter | None, proxies: TrustedProxies) -> None:
        self.limiter = limiter if limiter is not None and limiter.limits else None
        self.proxies = proxies

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope["state"]
        # Not reset on the way out: the exception handlers that render (and log) an error run outside this
        # middleware, and their lines must still name the request. Each request runs in its own task (uvicorn), so
        # the value dies with it.
        REQUEST_ID.set(state.setdefault("request_id", request_id(scope)))
        if self.proxies.networks:
            self.proxies.resolve(scope)
        limiter = self.limiter
        if limiter is not None:
            opt = scope["route_handler"].opt
            kind = opt["rate_limit"] if "rate_limit" in opt else ("public" if scope["path"][:4] == "/v1/" else None)
            if limiter.applies(kind):
                client = scope.get("client")
                retry_after = await limiter.hit(cast("str", kind), client_key(client[0]) if client else "unknown")
                if retry_after is not None:
                    raise TooManyRequestsException(
                        detail=f"Too many requests from this client; retry in {retry_after} s.",
                        headers={"Retry-After": str(retry_after)},
                    )
        await next_app(scope, receive, send)


class SecurityHeaders:
    """``before_send`` hook adding the request id and the security headers to every response."""

    def __init__(self, proxies: TrustedProxies, docs_path: str = "/schema") -> None:
        self.proxies = proxies
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        self.api_headers = [*common, (b"content-security-policy", API_CSP.encode())]
        self.docs_headers = [*common, (b"content-security-policy", DOCS_CSP.encode())]
        self.docs_path = docs_path

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = cast("list[tuple[bytes, bytes]]", message.setdefault("headers", []))
        path: str = scope["path"]
        headers.extend(self.docs_headers if path.startswith(self.docs_path) else self.api_headers)
        state: dict[str, Any] = scope["state"]
        rid = state.get("request_id")
        if rid is None:  # answered by the router (404, 405) before any middleware ran
            rid = state["request_id"] = request_id(scope)
            if self.proxies.networks:
                self.proxies.resolve(scope)
        headers.append((REQUEST_ID_HEADER, rid.encode()))
        if scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS))


def cors_config(origins: list[str]) -> CORSConfig | None:
    """CORS for ``origins`` (``None`` when empty: no CORS headers at all). Credentials are not allowed: the API
    authenticates with bearer tokens, not cookies; ``X-Request-ID`` and ``Retry-After`` are readable by scripts."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Accept-Language",
            "If-None-Match",
            "Idempotency-Key",
            "X-Request-ID",
            "X-Booking-Token",
        ],
        expose_headers=["X-Request-ID", "Retry-After", "ETag", "Content-Language"],
        max_age=600,
    )
