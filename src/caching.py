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

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from src.http_headers import parse_weighted_list


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
