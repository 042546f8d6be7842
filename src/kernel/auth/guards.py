"""Authorisation, declared on handlers: role guards (``guards=[requires_role("admin")]``) and the ownership rule.

- Authentication (who): the JWT backend (``src/kernel/auth/backend.py``) answers 401 before any guard runs.
- Role (what kind of user): ``requires_role(...)`` answers 403 when the user holds none of the roles; a route is
  not a resource, so naming it reveals nothing.
- Ownership (whose): ``ensure_owned`` answers 404 for a resource that exists but belongs to someone else, exactly
  as for one that does not exist, so ids cannot be probed (API.md: "a resource that is not yours 404").
"""

from typing import Any
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from src.kernel.auth.errors import Unauthenticated
from src.kernel.auth.identity import Identity
from src.kernel.auth.models import ROLE_VALUES
from src.kernel.errors import NotFound


def current_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The authenticated caller; ``Unauthenticated`` (401) on a route where authentication was optional and absent."""
    user = connection.scope.get("user")
    if not isinstance(user, Identity):
        raise Unauthenticated("this route needs Authorization: Bearer <access token>")
    return user


def optional_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    """The authenticated caller on a route where authentication is optional (``security=OPTIONAL_AUTH``), or
    ``None`` for an anonymous one."""
    user = connection.scope.get("user")
    return user if isinstance(user, Identity) else None


def requires_role(*roles: str) -> Guard:
    """A guard letting through users holding at least one of ``roles`` (403 otherwise, 401 when anonymous)."""
    unknown = set(roles) - set(ROLE_VALUES)
    if not roles or unknown:
        raise ValueError(f"requires_role needs known roles, got {roles!r}")
    wanted = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        if current_identity(connection).roles.isdisjoint(wanted):
            raise PermissionDeniedException(f"this route is for: {', '.join(sorted(wanted))}")

    guard.__name__ = f"requires_role({', '.join(sorted(wanted))})"
    guard.required_roles = wanted  # type: ignore[attr-defined]
    return guard


def ensure_owned(owner_id: UUID | None, identity: Identity, not_found_detail: str) -> None:
    """Raise ``NotFound`` (404) unless the resource exists (``owner_id`` is not ``None``) and is the caller's.

    Call it with the same ``not_found_detail`` that the missing case uses, so both answers are identical.
    """
    if owner_id is None or owner_id != identity.id:
        raise NotFound(not_found_detail)
