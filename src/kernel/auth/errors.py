"""Errors of accounts and tokens, each with its HTTP meaning (rendered as problem+json by ``src/kernel/errors.py``).

Every 401 carries a ``WWW-Authenticate`` challenge (RFC 9110 §15.5.2; RFC 6750 §3 for bearer tokens).
"""

from src.kernel.errors import DomainError
from src.kernel.i18n import N_

CHALLENGE = 'Bearer realm="laocai"'
INVALID_TOKEN_CHALLENGE = 'Bearer realm="laocai", error="invalid_token"'  # noqa: S105 (a header value)


class Unauthenticated(DomainError):
    """A protected route was called without ``Authorization: Bearer <access token>`` (401)."""

    status = 401
    code = "unauthorized"
    title = N_("Authentication required")
    headers = {"WWW-Authenticate": CHALLENGE}


class InvalidToken(DomainError):
    """A token that is malformed, forged, expired, revoked, already used, or of the wrong type (401)."""

    status = 401
    code = "invalid_token"
    title = N_("Invalid or expired token")
    headers = {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE}


class RefreshTokenReused(InvalidToken):
    """A refresh token presented again after it was rotated: the whole session is revoked (RFC 9700 §4.14.2)."""


class InvalidCredentials(DomainError):
    """Login failed (401). One status, code and body whether the email is unknown or the password wrong."""

    status = 401
    code = "invalid_credentials"
    title = N_("Invalid email or password")
    headers = {"WWW-Authenticate": CHALLENGE}


class EmailTaken(DomainError):
    """Registration with an address (in any spelling) that already has an account (409)."""

    status = 409
    code = "email_taken"
    title = N_("Email already registered")
