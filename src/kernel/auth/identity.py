"""Who is calling: the identity the JWT backend attaches to an authenticated request (``request.user``)."""

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated user as read from the database for this request (roles are current, not the token's).

    ``session_id`` is the login session (refresh-token family) the access token was issued in.
    """

    id: UUID
    email: str
    display_name: str
    locale: str
    roles: frozenset[str]
    session_id: UUID | None

    def has_role(self, *roles: str) -> bool:
        """True when the user holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)
