"""Errors of the search domain, with their HTTP meaning (rendered as RFC 9457 problem+json by the kernel)."""

from src.kernel.errors import DomainError
from src.kernel.i18n import N_

#: Seconds a client should wait before asking again when the engine is down (RFC 9110 §10.2.3).
RETRY_AFTER_SECONDS = 5


class SearchUnavailable(DomainError):
    """The configured search engine cannot answer now (down, timing out, index unreadable): 503 with
    ``Retry-After``. The rest of the API keeps working; ``/health/ready`` reports search as unavailable."""

    status = 503
    code = "search_unavailable"
    title = N_("Search is unavailable")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


__all__ = ["RETRY_AFTER_SECONDS", "SearchUnavailable"]
