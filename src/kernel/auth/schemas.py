"""Request and response shapes of ``/v1/auth/...`` and ``/v1/admin/users`` (API.md). No shape holds a password hash.

Timestamps are RFC 3339 UTC; ``expires_in`` values are seconds (RFC 6749 §5.1).
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from src.kernel.auth.credentials import (
    DISPLAY_NAME_PATTERN,
    MAX_DISPLAY_NAME_CHARS,
    MAX_EMAIL_CHARS,
    MAX_PASSWORD_BYTES,
)

#: A served locale (``src/kernel/i18n.py``), as a user's preference.
LocaleTag = Literal["vi", "en", "zh-Hans", "fr", "ko"]
RoleName = Literal["tourist", "owner", "editor", "board", "admin"]

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=MAX_EMAIL_CHARS, description="An email address.")]
#: Characters; the 1,024-byte UTF-8 limit is checked by the service (422).
Password = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD_BYTES, description="10 characters to 1,024 bytes.")
]
DisplayName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_DISPLAY_NAME_CHARS,
        pattern=DISPLAY_NAME_PATTERN,
        description="A name shown in the apps: at least one visible character, no control characters.",
    ),
]
EncodedToken = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/auth/register``: a new tourist account. ``locale`` defaults to the request's negotiated one."""

    email: Email
    password: Password
    display_name: DisplayName
    locale: LocaleTag | None = None


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/auth/refresh`` and ``/v1/auth/logout``: the refresh token last received."""

    refresh_token: EncodedToken


class TokenPair(msgspec.Struct):
    """Tokens after login or refresh (RFC 6749 §5.1 names). Send ``access_token`` as ``Authorization: Bearer``;
    ``refresh_token`` is good for one ``/v1/auth/refresh`` only, which returns a new pair."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class UserRead(msgspec.Struct):
    """An account as its owner or an admin sees it."""

    id: UUID
    email: str
    display_name: str
    locale: str
    roles: list[str]
    created_at: datetime


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /v1/auth/me/profile``: the fields to change (absent or ``null`` fields are kept)."""

    display_name: DisplayName | None = None
    locale: LocaleTag | None = None


class UserPage(msgspec.Struct):
    items: list[UserRead]
    next_cursor: str | None


class RolesUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """``PUT /v1/admin/users/{id}/roles``: the complete set of roles the user holds afterwards."""

    roles: Annotated[list[RoleName], msgspec.Meta(min_length=1, max_length=5)]


class SessionRead(msgspec.Struct):
    """A signed-in session (one login and its refreshes); ``current`` marks the one the request came from."""

    id: UUID
    started_at: datetime
    last_refreshed_at: datetime
    expires_at: datetime
    current: bool
