"""HTTP caching and compression of catalogue GETs (everything under ``/v1/``).

- ``ETag`` + ``If-None-Match`` -> 304 (RFC 9110 §8.8.3, §13.1.2). The tag is a weak validator (``W/"..."``) computed
  from the identity body and its ``Content-Language``: it changes whenever the served content changes and is the
  same for the gzip and identity codings of one representation (weak tags may be shared by semantically
  equivalent representations), so an offline app revalidates cheaply whatever coding it accepts.
- gzip (RFC 9110 §8.4.1.3) when the client accepts it and the body is at least ``minimum_size`` bytes, with a zero
  mtime so the same body always compresses to the same bytes.
- ``Cache-Control: public, max-age=...`` lets apps and proxies keep a copy; ``Vary: Accept-Encoding`` is added to
  compressible responses (``Vary: Accept-Language`` is added for every response in ``src/app.py``). A route may
  ask for a shorter lifetime with ``opt={"cache_max_age": seconds}`` (search results: a few seconds).

Staleness after a catalogue edit: a write purges this process's response cache and the shared (Redis) one after
its commit (``purge_after_commit``); another server process without Redis keeps its own copy at most
``LAOCAI_RESPONSE_CACHE_SECONDS``; apps and proxies reuse theirs at most ``LAOCAI_CACHE_MAX_AGE`` before
revalidating with ``If-None-Match``. The longest a stale catalogue page can be shown is therefore the sum of the two.
"""

import gzip
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response
from litestar.config.response_cache import ResponseCacheConfig
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from litestar.types import ASGIApp, HTTPResponseStartEvent, HTTPScope, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.db import AFTER_COMMIT
from src.kernel.jobs import JobContext, PeriodicJob
from src.kernel.request_input import parse_weights

logger = logging.getLogger("laocai.caching")


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


@lru_cache(maxsize=256)
def _accepts_gzip_memo(accept_encoding: str) -> bool:
    return accepts_gzip(accept_encoding)


def accepts_gzip_cached(accept_encoding: str) -> bool:
    """``accepts_gzip``, memoised for the few short headers clients send."""
    return _accepts_gzip_memo(accept_encoding) if len(accept_encoding) <= 256 else accepts_gzip(accept_encoding)


def accepts_gzip(accept_encoding: str) -> bool:
    """True when ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3): ``gzip``/``x-gzip`` with a non-zero weight, or
    else ``*`` with one (``*`` covers only codings the header does not name: ``gzip;q=0, *`` refuses gzip)."""
    weights = {coding.lower(): quality for coding, quality in reversed(parse_weights(accept_encoding))}
    for named in ("gzip", "x-gzip"):
        if named in weights:
            return weights[named] > 0
    return weights.get("*", 0.0) > 0


class HttpCacheMiddleware(ASGIMiddleware):
    """Buffers each 200 response to a GET under ``/v1/``, tags it, answers 304 on a match, gzips when accepted.

    A response that already carries ``Cache-Control`` (set by its route) is left untouched."""

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
        await self.serve(
            scope,
            receive,
            send,
            next_app,
            request_headers.get(b"if-none-match", b"").decode("latin-1"),
            request_headers.get(b"accept-encoding", b"").decode("latin-1"),
        )

    async def serve(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp, if_none_match: str, accept_encoding: str
    ) -> None:
        """Run ``next_app`` for a GET under ``/v1/`` with the request's ``If-None-Match`` and ``Accept-Encoding``."""
        gzip_ok = accepts_gzip_cached(accept_encoding)
        cache_control = self.cache_control
        handler = scope.get("route_handler")
        if handler is not None and (own_age := handler.opt.get("cache_max_age")) is not None:
            cache_control = f"public, max-age={int(own_age)}".encode()
        start: HTTPResponseStartEvent | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # A route that chose its own caching (an account's page is ``no-store``) is passed through as is.
                own_policy = any(k.lower() == b"cache-control" for k, _ in message.get("headers", []))
                start = message if message["status"] == 200 and not own_policy else None
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
            headers += [(b"etag", etag.encode()), (b"cache-control", cache_control)]
            compressible = len(body) >= self.minimum_size
            if compressible:  # the 304 must carry the Vary of the 200 it stands for (RFC 9110 §15.4.5)
                headers.append((b"vary", b"Accept-Encoding"))
            if if_none_match and none_match(if_none_match, etag):
                kept = {b"etag", b"cache-control", b"vary", b"content-language", b"date"}
                await send(
                    {"type": "http.response.start", "status": 304, "headers": [h for h in headers if h[0] in kept]}
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if compressible and gzip_ok:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                headers.append((b"content-encoding", b"gzip"))
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await next_app(scope, receive, buffered_send)


class LocalMemoryStore(MemoryStore):
    """Litestar's ``MemoryStore`` whose plain reads take no lock: the store lives in one event loop and a read
    without renewal does not await between looking up and returning, so no other task can interleave (the lock's
    task lookups were a visible share of a cached response's CPU, issue 5 §6). Writes and renewals keep the lock."""

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        if renew_for:
            return await super().get(key, renew_for)
        storage_obj = self._store.get(key)
        if not storage_obj:
            return None
        if storage_obj.expired:
            self._store.pop(key, None)
            return None
        return storage_obj.data


def response_cache_key(request: Request[Any, Any, Any]) -> str:
    """Key of a cached response: the negotiated locale, the method and path, and the sorted query parameters the
    route handler declares.

    Litestar's default key ignores ``Accept-Language`` (STACK-NOTES.md): without the locale a page would be served
    in the language of whoever asked first. Parameters the handler does not declare cannot change the response, so
    they are left out: ``?x=1``, ``?x=2``... share one entry instead of filling the store.
    """
    scope = request.scope
    locale = scope.get("state", {}).get("locale", "")
    if not scope.get("query_string"):
        return f"{locale}|{scope['method']}{scope['path']}?"
    declared = request.route_handler.parsed_fn_signature.parameters
    query = sorted((name, values) for name, values in request.query_params.dict().items() if name in declared)
    return f"{locale}|{scope['method']}{scope['path']}?{urlencode(query, doseq=True)}"


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


class FailOpenStore(Store):
    """A cache store that treats an unreachable backend as an empty cache instead of failing the request.

    A rendered response is an optimisation: when Redis is down the catalogue is still served from the database
    (readiness reports Redis as down). Each failure is logged as a warning without a traceback.
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        with self._absorb("set"):
            await self.inner.set(key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        with self._absorb("get"):
            return await self.inner.get(key, renew_for)
        return None

    async def delete(self, key: str) -> None:
        with self._absorb("delete"):
            await self.inner.delete(key)

    async def delete_all(self) -> None:
        await self.inner.delete_all()  # an explicit purge must not pass silently

    async def exists(self, key: str) -> bool:
        with self._absorb("exists"):
            return await self.inner.exists(key)
        return False

    async def expires_in(self, key: str) -> int | None:
        with self._absorb("expires_in"):
            return await self.inner.expires_in(key)
        return None

    @contextmanager
    def _absorb(self, operation: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            logger.warning("response cache %s skipped: %s: %s", operation, type(exc).__name__, exc)


def build_stores(redis: Redis | None) -> StoreRegistry:
    """The app's stores: namespaces of one Redis store (``laocai:<name>``) when Redis is configured, so every
    worker shares them; otherwise one in-process ``LocalMemoryStore`` per name (the embedded default). The response
    cache fails open (``FailOpenStore``)."""

    def factory(name: str) -> Store:
        store: Store = (
            LocalMemoryStore() if redis is None else RedisStore(redis, namespace="laocai").with_namespace(name)
        )
        return FailOpenStore(store) if name == RESPONSE_CACHE_STORE else store

    return StoreRegistry(default_factory=factory)


async def sweep_expired(stores: StoreRegistry) -> None:
    """Drop expired entries of the in-process response cache (``MemoryStore`` only frees an entry when that key is
    read again; Redis expires keys itself, so this does nothing there)."""
    for name in (RESPONSE_CACHE_STORE,):
        store = stores.get(name)
        inner = store.inner if isinstance(store, FailOpenStore) else store
        if isinstance(inner, MemoryStore):
            await inner.delete_expired()


async def _sweep_response_cache(ctx: JobContext) -> None:
    await sweep_expired(ctx.resources["stores"])


#: Every 30 s, in every server process: the in-memory store is per process, so its sweep is too (scope "process").
SWEEP_RESPONSE_CACHE = PeriodicJob(
    "kernel.sweep_response_cache", _sweep_response_cache, cron="* * * * * */30", scope="process"
)


def purge_after_commit(session: AsyncSession, stores: StoreRegistry) -> None:
    """Drop every rendered response of ``stores``' response cache (this process's memory, or the shared Redis
    namespace) once ``session``'s unit of work commits, so a catalogue edit is not served stale from the server's
    cache (nothing happens on rollback). A failure is logged: entries then expire after their lifetime."""

    async def purge() -> None:
        try:
            await stores.get(RESPONSE_CACHE_STORE).delete_all()
        except (RedisError, OSError) as exc:
            logger.warning("response cache not purged after a catalogue edit: %s: %s", type(exc).__name__, exc)

    session.info.setdefault(AFTER_COMMIT, []).append(purge)


async def clear_response_cache(redis_url: str) -> bool:
    """Drop every cached response in the shared (Redis) store, e.g. after the catalogue changed; ``False`` (and a
    warning) when Redis cannot be reached, in which case entries still expire after ``response_cache_seconds``.

    In-process stores need no clearing from outside: they live in the server process and expire on their own.
    """
    if not redis_url:
        return True
    redis = Redis.from_url(redis_url)
    try:
        await build_stores(redis).get(RESPONSE_CACHE_STORE).delete_all()
    except (RedisError, OSError) as exc:
        logger.warning("could not clear the shared response cache: %s: %s", type(exc).__name__, exc)
        return False
    finally:
        await redis.aclose()
    return True


def short_lived(content: Any, if_none_match: str | None, max_age: int) -> Response[Any]:
    """A JSON response that clients may keep only ``max_age`` seconds (a state that changes at a known time: an
    alert's end, a closing hour), with its own weak ``ETag`` over the msgspec encoding and 304 on a matching
    ``If-None-Match`` (RFC 9110 §13.1.2). Its ``Cache-Control`` keeps the caching middleware's longer default off."""
    etag = entity_tag(msgspec.json.encode(content))
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max(0, int(max_age))}"}
    if if_none_match and none_match(if_none_match, etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(content, headers=headers)
