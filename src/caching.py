"""HTTP caching of catalogue GETs: ``ETag`` + ``If-None-Match`` -> 304 (RFC 9110 §8.8.3, §13.1.2).

The entity tag is a weak validator (``W/"..."``) derived from the response body, so it changes whenever the
served bytes change (data, locale, fields) and stays valid across gzip encoding. ``Cache-Control`` lets the app keep
a copy offline for ``max_age`` seconds; ``Vary: Accept-Language`` keeps caches from mixing languages.
"""

import hashlib

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send


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


class ConditionalGetMiddleware(ASGIMiddleware):
    """Buffers a 200 response to a GET/HEAD, adds ``ETag`` and ``Cache-Control``, and answers 304 on a match."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, max_age: int, prefixes: tuple[str, ...] = ("/v1/",)) -> None:
        self.should_bypass_for_scope = lambda scope: not scope["path"].startswith(prefixes)
        self.cache_control = f"public, max-age={max_age}".encode()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") not in {"GET", "HEAD"}:
            await next_app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers", []))
        if_none_match = request_headers.get(b"if-none-match", b"").decode("latin-1")
        start: HTTPResponseStartEvent | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    start = None
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            # The same bytes in another Content-Language are another representation (RFC 9110 §8.8.3).
            locale = str((scope.get("state") or {}).get("locale", ""))
            etag = entity_tag(locale.encode() + b"\n" + body)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in {b"etag", b"cache-control"}]
            headers += [(b"etag", etag.encode()), (b"cache-control", self.cache_control)]
            if if_none_match and none_match(if_none_match, etag):
                kept = {b"etag", b"cache-control", b"vary", b"content-language", b"date"}
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": [h for h in headers if h[0] in kept],
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await next_app(scope, receive, buffered_send)
