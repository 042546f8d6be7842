"""App-wide ASGI middleware: input guard and locale negotiation (caching lives in ``src/kernel/caching.py``).

Both run for every routed HTTP request before the response cache, dependencies and handlers; what they raise is
rendered by ``src/kernel/errors.py`` as problem+json.
"""

import re
from urllib.parse import parse_qs, unquote_to_bytes

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from src.kernel.errors import BadRequest, UnsupportedLocale
from src.kernel.i18n import SUPPORTED_LOCALES, map_tag, negotiate

#: Control characters (C0 and DEL) have no place in a path or query value of this API: NUL cannot be stored in a
#: PostgreSQL text value, and a trailing line feed slips through ``$`` in regular expressions.
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")

#: Longest ``?lang=`` considered: a BCP 47 tag with script and region is far shorter (RFC 5646 §4.4.1 asks
#: implementations to handle at least 35 characters).
MAX_TAG_LENGTH = 35


class InputGuardMiddleware(ASGIMiddleware):
    """Refuses (400) a request whose path or query string carries control characters, raw or percent-encoded."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        query = scope.get("query_string", b"")
        if _CONTROL.search(unquote_to_bytes(raw_path)) or _CONTROL.search(unquote_to_bytes(query)):
            raise BadRequest("control characters (such as NUL or a line feed) are not allowed in the URL")
        await next_app(scope, receive, send)


class LocaleMiddleware(ASGIMiddleware):
    """Negotiates the locale of every routed HTTP request and keeps it in ``scope["state"]["locale"]``, so that
    cached responses, errors and ``Content-Language`` all agree. An unserved ``?lang=`` is a 422 (API.md)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        headers = dict(scope.get("headers", []))
        accept_language = headers.get(b"accept-language", b"").decode("latin-1")
        state = scope.setdefault("state", {})
        lang = query.get("lang", [None])[-1]
        if lang is not None and (len(lang) > MAX_TAG_LENGTH or map_tag(lang) is None):
            state["locale"] = negotiate(None, accept_language)  # the problem itself speaks the header's language
            shown = lang if len(lang) <= MAX_TAG_LENGTH else lang[:MAX_TAG_LENGTH] + "…"
            raise UnsupportedLocale(
                f"lang={shown!r} is not served; use one of {', '.join(SUPPORTED_LOCALES)}",
                errors=[{"field": "lang", "source": "query", "message": "unsupported language"}],
            )
        state["locale"] = negotiate(lang, accept_language)
        await next_app(scope, receive, send)
