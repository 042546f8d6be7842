"""Domain errors and the one renderer that turns every error into RFC 9457 ``application/problem+json``.

Status rules (API.md): unparseable input or a missing required parameter is 400; a well-formed request with invalid
values (out-of-range coordinates, unknown enum, unsupported ``?lang=``) is 422; an unknown resource is 404. Every
problem carries ``type``, ``title`` (translated into the negotiated locale), ``status``, ``detail``, a stable
``code`` and the ``instance`` path. A 5xx means a bug: it is logged with its traceback and shown without internals.
"""

import logging
import re
from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError

from src.kernel.db import is_lock_contention
from src.kernel.i18n import N_, gettext, negotiate

logger = logging.getLogger("laocai.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"


class DomainError(Exception):
    """Base of every error the service raises on purpose; subclasses fix the HTTP status, code and title.

    ``detail`` is an English sentence for developers, specific to this occurrence; ``extra`` members are added to
    the problem document (RFC 9457 §3.2 extension members).
    """

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = N_("Bad request")
    #: Response headers every occurrence carries (e.g. ``WWW-Authenticate`` on a 401, RFC 9110 §11.6.1).
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(DomainError):
    """The request could not be parsed, or a required parameter is missing (400)."""


class InvalidParameter(DomainError):
    """A well-formed request carries an invalid value (422); ``extra["errors"]`` lists the fields."""

    status = 422
    code = "invalid_parameter"
    title = N_("Invalid parameter")

    @classmethod
    def of_field(cls, field: str, message: str, source: str = "body") -> "InvalidParameter":
        """The error for one field: detail ``"<field>: <message>"`` and ``errors`` naming the field and where it
        came from (``body``, ``query``, ``header``)."""
        return cls(f"{field}: {message}", errors=[{"field": field, "source": source, "message": message}])


class UnsupportedLocale(DomainError):
    """``?lang=`` names a language the service does not serve (422)."""

    status = 422
    code = "unsupported_locale"
    title = N_("Unsupported language")


class NotFound(DomainError):
    """No resource at this address (404)."""

    status = 404
    code = "not_found"
    title = N_("Not found")


class NotReady(DomainError):
    """A dependency the service needs (database, Redis) does not answer (503)."""

    status = 503
    code = "not_ready"
    title = N_("Service not ready")


class PreconditionFailed(DomainError):
    """A conditional write's ``If-Match`` names no current version of the resource (412, RFC 9110 §13.1.1): someone
    else changed it since the client read it. The client reads it again and reapplies its edit."""

    status = 412
    code = "precondition_failed"
    title = N_("Precondition failed")


class PreconditionRequired(DomainError):
    """A write that must be conditional came without ``If-Match`` (428, RFC 6585 §3): lost updates are refused."""

    status = 428
    code = "precondition_required"
    title = N_("Precondition required")


class Conflict(DomainError):
    """The request conflicts with the resource's current state (409)."""

    status = 409
    code = "conflict"
    title = N_("Conflict")


class Busy(DomainError):
    """Another request holds what this one needs (a row lock or the SQLite write lock) past the lock timeout (409
    with ``Retry-After``, RFC 9110 §10.2.3): nothing was changed, and the same request can be sent again."""

    status = 409
    code = "busy"
    title = N_("Busy, try again")
    headers = {"Retry-After": "1"}


#: Titles of statuses raised by the framework itself rather than by a DomainError.
_HTTP_TITLES: dict[int, tuple[str, str]] = {
    400: ("bad_request", N_("Bad request")),
    401: ("unauthorized", N_("Authentication required")),
    403: ("forbidden", N_("Forbidden")),
    404: ("not_found", N_("Not found")),
    405: ("method_not_allowed", N_("Method not allowed")),
    406: ("not_acceptable", N_("Not acceptable")),
    413: ("payload_too_large", N_("Request too large")),
    415: ("unsupported_media_type", N_("Unsupported media type")),
    409: ("conflict", N_("Conflict")),
    412: ("precondition_failed", N_("Precondition failed")),
    422: ("invalid_parameter", N_("Invalid parameter")),
    428: ("precondition_required", N_("Precondition required")),
    429: ("too_many_requests", N_("Too many requests")),
    500: ("internal_error", N_("Internal server error")),
    503: ("not_ready", N_("Service not ready")),
}


def request_locale(request: Request[Any, Any, Any]) -> str:
    """The locale negotiated for this request by ``LocaleMiddleware``, or negotiated here when no route matched
    (the router answers 404/405 before any middleware runs)."""
    locale = (request.scope.get("state") or {}).get("locale")
    if isinstance(locale, str):
        return locale
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """Build an RFC 9457 problem document; ``title`` is an untranslated message id, translated here."""
    locale = request_locale(request)
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{code}",
        "title": gettext(title, locale),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    if extra:
        body.update(extra)
    return Response(
        content=body,
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={"Content-Language": locale, **(headers or {})},
    )


def _domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        extra=exc.extra,
        headers=dict(exc.headers),
    )


_MISSING_NAME = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def _validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """Litestar's parameter and body validation: missing or unparseable -> 400, invalid values -> 422."""
    errors = [
        {"field": item.get("key"), "source": item.get("source"), "message": item.get("message")}
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    messages = [str(e["message"]) for e in errors] or [str(exc.detail)]
    missing = all(message.startswith("Missing required") for message in messages)
    if not errors and (named := _MISSING_NAME.search(str(exc.detail))):
        errors = [{"field": named.group(2), "source": named.group(1), "message": str(exc.detail)}]
    unparseable = "decode" in str(exc.detail).lower() or "malformed" in str(exc.detail).lower()
    status = 400 if (missing or unparseable) else 422
    code, title = (
        ("bad_request", N_("Bad request")) if status == 400 else ("invalid_parameter", N_("Invalid parameter"))
    )
    detail = "; ".join(str(e["message"]) for e in errors) or str(exc.detail)
    return problem_response(request, status=status, code=code, title=title, detail=detail, extra={"errors": errors})


def _http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    code, title = _HTTP_TITLES.get(exc.status_code, ("http_error", N_("Request failed")))
    if isinstance(exc, NotFoundException) and exc.detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    else:
        detail = str(exc.detail)
    headers = dict(exc.headers or {})
    return problem_response(request, status=exc.status_code, code=code, title=title, detail=detail, headers=headers)


def _unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    code, title = _HTTP_TITLES[HTTP_500_INTERNAL_SERVER_ERROR]
    return problem_response(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        code=code,
        title=title,
        detail="The server failed to answer this request; the error was logged.",
    )


def _database_error_handler(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """A statement that gave up waiting for a lock (PostgreSQL ``lock_timeout`` or deadlock, SQLite "database is
    locked") is ``Busy`` (409, ``Retry-After``): the transaction was rolled back and the request may be sent again.
    Any other database error is a bug (500)."""
    if is_lock_contention(exc):
        busy = Busy("the resource is busy with another request; nothing was changed, send the request again")
        return _domain_error_handler(request, busy)
    return _unexpected_error_handler(request, exc)


class JSONRequest(Request[Any, Any, Any]):
    """The app's request class: Litestar's, except that a JSON body nested too deeply for the decoder is a 400.

    msgspec raises ``RecursionError`` for input like ``[[[[...]]]]`` some thousands of levels deep (well under the
    body size limit); it is no decode error, so Litestar would let it through as an unexpected error (500).
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as exc:
            raise BadRequest("JSON is malformed: nested too deeply") from exc


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error_handler,
    ValidationException: _validation_error_handler,
    DBAPIError: _database_error_handler,
    HTTPException: _http_error_handler,
    Exception: _unexpected_error_handler,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "BadRequest",
    "Busy",
    "Conflict",
    "DomainError",
    "InvalidParameter",
    "JSONRequest",
    "NotFound",
    "NotReady",
    "PreconditionFailed",
    "PreconditionRequired",
    "ProblemDetails",
    "UnsupportedLocale",
    "problem_response",
    "problem_responses",
]


class ProblemDetails(msgspec.Struct):
    """RFC 9457 problem document as this API sends it (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int, rate_limited: bool = True) -> dict[int, ResponseSpec]:
    """OpenAPI entries documenting the problem responses a route can send (for clients and schemathesis).

    400 (control characters in the URL, a missing parameter) and 422 (an unserved ``?lang=``) can come from any
    route, so they are always listed, and so is 429 (``Retry-After``) unless ``rate_limited=False`` (routes outside
    ``/v1/`` or with ``opt={"rate_limit": None}``: see ``src/kernel/rate_limits.py``). A route that reads a request
    body lists 413 (body over ``LAOCAI_MAX_BODY_BYTES``).
    """
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            media_type=PROBLEM_MEDIA_TYPE,
            description=_HTTP_TITLES.get(status, ("", "Problem"))[1],
        )
        for status in sorted({400, 422, *((429,) if rate_limited else ()), *statuses})
    }
