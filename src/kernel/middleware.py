"""App-wide ASGI middleware: input guard and locale negotiation (caching lives in ``src/kernel/caching.py``).

Both run for every routed HTTP request before the response cache, dependencies and handlers; what they raise is
rendered by ``src/kernel/errors.py`` as problem+json. ``RequestPipelineMiddleware`` runs the input guard, the
locale negotiation and the HTTP cache as one middleware (one pass over the request headers, one layer instead
of three); ``src/app.py`` uses it, the separate classes remain for apps that want one concern only.
"""

import re
from functools import lru_cache
from urllib.parse import parse_qs, unquote_to_bytes

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from src.kernel.caching import HttpCacheMiddleware
from src.kernel.errors import BadRequest, UnsupportedLocale
from src.kernel.i18n import SUPPORTED_LOCALES, map_tag, negotiate

#: Control characters (C0 and DEL) have no place in a path or query value of this API: NUL cannot be stored in a
#: PostgreSQL text value, and a trailing line feed slips through ``$`` in regular expressions.
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")

#: Longest ``?lang=`` considered: a BCP 47 tag with script and region is far shorter (RFC 5646 §4.4.1 asks
#: implementations to handle at least 35 characters).
MAX_TAG_LENGTH = 35


def check_input(scope: Scope) -> None:
    """Raise ``BadRequest`` when the path or query string carries control characters, raw or percent-encoded."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    query = scope.get("query_string", b"")
    for part in (raw_path, query):
        if _CONTROL.search(part) or (b"%" in part and _CONTROL.search(unquote_to_bytes(part))):
            raise BadRequest("control characters (such as NUL or a line feed) are not allowed in the URL")


#: Longest ``Accept-Language`` whose negotiation is memoised (browsers send well under 100 characters).
_MEMO_HEADER_LENGTH = 256


@lru_cache(maxsize=1024)
def _negotiate_memo(lang: str | None, accept_language: str) -> str:
    return negotiate(lang, accept_language)


def _negotiate_cached(lang: str | None, accept_language: str) -> str:
    if len(accept_language) > _MEMO_HEADER_LENGTH:
        return negotiate(lang, accept_language)
    return _negotiate_memo(lang, accept_language)


def negotiate_scope(scope: Scope, accept_language: str) -> None:
    """Store the request's locale in ``scope["state"]["locale"]``; ``UnsupportedLocale`` (422) for an unserved
    ``?lang=`` (the problem itself then speaks the header's language)."""
    query_string: bytes = scope.get("query_string", b"")
    lang = parse_qs(query_string.decode("latin-1")).get("lang", [None])[-1] if b"lang" in query_string else None
    state = scope.setdefault("state", {})
    if lang is not None and (len(lang) > MAX_TAG_LENGTH or map_tag(lang) is None):
        state["locale"] = _negotiate_cached(None, accept_language)
        shown = lang if len(lang) <= MAX_TAG_LENGTH else lang[:MAX_TAG_LENGTH] + "…"
        raise UnsupportedLocale(
            f"lang={shown!r} is not served; use one of {', '.join(SUPPORTED_LOCALES)}",
            errors=[{"field": "lang", "source": "query", "message": "unsupported language"}],
        )
    state["locale"] = _negotiate_cached(lang, accept_language)


class InputGuardMiddleware(ASGIMiddleware):
    """Refuses (400) a request whose path or query string carries control characters, raw or percent-encoded."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_input(scope)
        await next_app(scope, receive, send)


class LocaleMiddleware(ASGIMiddleware):
    """Negotiates the locale of every routed HTTP request and keeps it in ``scope["state"]["locale"]``, so that
    cached responses, errors and ``Content-Language`` all agree. An unserved ``?lang=`` is a 422 (API.md)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        accept_language = b""
        for name, value in scope.get("headers", []):
            if name == b"accept-language":
                accept_language = value
        negotiate_scope(scope, accept_language.decode("latin-1"))
        await next_app(scope, receive, send)


class RequestPipelineMiddleware(ASGIMiddleware):
    """Input guard, locale negotiation and (GETs under ``/v1/``) the HTTP cache of ``cache`` in one middleware:
    the same checks, in the same order, as ``InputGuardMiddleware``, ``LocaleMiddleware`` and
    ``HttpCacheMiddleware`` stacked, with the request headers read in one pass."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, cache: HttpCacheMiddleware) -> None:
        self.cache = cache

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_input(scope)
        accept_language = if_none_match = accept_encoding = b""
        for name, value in scope.get("headers", []):
            if name == b"accept-language":
                accept_language = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"accept-encoding":
                accept_encoding = value
        negotiate_scope(scope, accept_language.decode("latin-1"))
        if scope.get("method") == "GET" and scope["path"].startswith("/v1/"):
            await self.cache.serve(
                scope, receive, send, next_app, if_none_match.decode("latin-1"), accept_encoding.decode("latin-1")
            )
        else:
            await next_app(scope, receive, send)
