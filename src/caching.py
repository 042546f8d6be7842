"""HTTP caching and compression of catalogue GETs (everything under ``/v1/``).

- ``ETag`` + ``If-None-Match`` -> 304 (RFC 9110 §8.8.3, §13.1.2). The tag is a weak validator (``W/"..."``) computed
  from the identity body and its ``Content-Language``: it changes whenever the served content changes and is the
  same for the gzip and identity codings of one representation (weak tags may be shared by semantically
  equivalent representations), so an offline app revalidates cheaply whatever coding it accepts.
- gzip (RFC 9110 §8.4.1.3) when the client accepts it and the body is at least ``minimum_size`` bytes, with a zero
  mtime so the same body always compresses to the same bytes.
- ``Cache-Control: public, max-age=...`` lets apps and proxies keep a copy; ``Vary: Accept-Encoding`` is added to
  compressible responses (``Vary: Accept-Language`` is added for every response in ``src/app.py``).
"""

import gzip
import hashlib
from typing import Any

from litestar import Request
from litestar.config.response_cache import ResponseCacheConfig, default_cache_key_builder
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from litestar.types import ASGIApp, HTTPResponseStartEvent, HTTPScope, Message, Receive, Scope, Send
from redis.asyncio import Redis

from src.request_input import parse_weighted_list


def entity_tag(representation: bytes) -> str:
    """The weak entity tag of a representation: ``W/"<first 32 hex digits of its SHA-256>"``."""
    return f'W/"{hashlib.sha256(representation).hexdigest()[:32]}"'


def none_match(if_none_match: str, etag: str) -> bool:
    """True when ``If-None-Match`` matches ``etag`` by weak comparison (RFC 9110 §13.1.2), ``*`` included."""
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    """True when ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*`` with a non-zero weight)."""
    return any(coding.lower() in {"gzip", "x-gzip", "*"} for coding in parse_weighted_list(accept_encoding))


class HttpCacheMiddleware(ASGIMiddleware):
    """Buffers each 200 response to a GET under ``/v1/``, tags it, answers 304 on a match, gzips when accepted."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, max_age: int, minimum_size: int = 1024) -> None:
        self.should_bypass_for_scope = lambda scope: not scope["path"].startswith("/v1/")
        self.cache_control = f"public, max-age={max_age}".encode()
        self.minimum_size = minimum_size

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") != "GET":
            await next_app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers", []))
        if_none_match = request_headers.get(b"if-none-match", b"").decode("latin-1")
        gzip_ok = accepts_gzip(request_headers.get(b"accept-encoding", b"").decode("latin-1"))
        start: HTTPResponseStartEvent | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message if message["status"] == 200 else None
                if start is None:
                    await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            locale = str((scope.get("state") or {}).get("locale", ""))
            etag = entity_tag(locale.encode() + b"\n" + body)
            dropped = {b"etag", b"cache-control", b"content-length", b"content-encoding"}
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in dropped]
            headers += [(b"etag", etag.encode()), (b"cache-control", self.cache_control)]
            if if_none_match and none_match(if_none_match, etag):
                kept = {b"etag", b"cache-control", b"vary", b"content-language", b"date"}
                await send(
                    {"type": "http.response.start", "status": 304, "headers": [h for h in headers if h[0] in kept]}
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if len(body) >= self.minimum_size:
                headers.append((b"vary", b"Accept-Encoding"))
                if gzip_ok:
                    body = gzip.compress(body, compresslevel=6, mtime=0)
                    headers.append((b"content-encoding", b"gzip"))
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await next_app(scope, receive, buffered_send)


def response_cache_key(request: Request[Any, Any, Any]) -> str:
    """Key of a cached response: the negotiated locale, method, path and sorted query.

    Litestar's default key ignores ``Accept-Language`` (STACK-NOTES.md): without the locale a page would be served
    in the language of whoever asked first.
    """
    locale = request.scope.get("state", {}).get("locale", "")
    return f"{locale}|{default_cache_key_builder(request)}"


def response_cache_config(seconds: int) -> ResponseCacheConfig:
    """Server-side caching of rendered catalogue responses for ``seconds`` (0: never cached)."""

    def cacheable(_scope: HTTPScope, status_code: int) -> bool:
        return seconds > 0 and status_code == 200

    return ResponseCacheConfig(
        default_expiration=seconds or None,
        key_builder=response_cache_key,
        store=RESPONSE_CACHE_STORE,
        cache_response_filter=cacheable,
    )


#: Name of the store holding rendered responses (a namespace of the Redis store when Redis is configured).
RESPONSE_CACHE_STORE = "response_cache"


def build_stores(redis: Redis | None) -> StoreRegistry:
    """The app's stores: namespaces of one Redis store (``laocai:<name>``) when Redis is configured, so every
    worker shares them; otherwise one in-process ``MemoryStore`` per name (the embedded default)."""
    if redis is None:
        return StoreRegistry(default_factory=lambda _name: MemoryStore())
    root = RedisStore(redis, namespace="laocai")
    return StoreRegistry(default_factory=root.with_namespace)


async def clear_response_cache(redis_url: str) -> None:
    """Drop every cached response in the shared (Redis) store, e.g. after the catalogue changed.

    In-process stores need no clearing from outside: they live in the server process and expire on their own.
    """
    if not redis_url:
        return
    redis = Redis.from_url(redis_url)
    try:
        await build_stores(redis).get(RESPONSE_CACHE_STORE).delete_all()
    finally:
        await redis.aclose()
