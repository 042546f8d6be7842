"""Tokens: signed JWT access and refresh tokens (RFC 7519, HS256 per RFC 7518 §3.2) and guest lookup tokens.

Every JWT carries ``sub`` (the user id), ``roles``, ``exp``, ``iat``, ``jti`` and ``token_use`` (``access`` or
``refresh``, the claim AWS Cognito uses for the same purpose); access tokens also carry ``sid``, the session (the
refresh-token family) they were issued in. Decoding goes through Litestar's ``Token.decode``, which hands PyJWT the
one configured algorithm: ``alg: none``, another HMAC size or an asymmetric algorithm is refused, as are a wrong
signature, an expired token and a token without the required claims.

Refresh tokens are JWTs as well, so they are refused cheaply when forged or expired, but they are only valid while
their SHA-256 is stored and neither used nor revoked (``src/kernel/auth/service.py``).

Guest lookup tokens (``issue_lookup_token``/``verify_lookup_token``) prove access to one resource without an account
(a booking's ``X-Booking-Token``): 256 random bits, only their SHA-256 is stored, compared in constant time.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from src.kernel.auth.errors import InvalidToken

#: The one algorithm tokens are signed and accepted with.
JWT_ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti", "token_use")


@dataclass
class AuthToken(Token):
    """The claims of this service's JWTs (Litestar's ``Token`` plus ``token_use``, ``roles`` and ``sid``)."""

    token_use: str = ACCESS
    roles: list[str] = field(default_factory=list)
    sid: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """An encoded JWT with its id and expiry."""

    encoded: str
    jti: UUID
    expires_at: datetime


class TokenCodec:
    """Encodes and decodes this service's JWTs with one HMAC key.

    Args:
        secret: the signing key (at least 32 bytes; see ``src/kernel/auth/signing_key.py``).
        access_seconds, refresh_seconds: token lifetimes.
    """

    def __init__(self, secret: str, *, access_seconds: int, refresh_seconds: int) -> None:
        self.secret = secret
        self.access_lifetime = timedelta(seconds=access_seconds)
        self.refresh_lifetime = timedelta(seconds=refresh_seconds)

    def _issue(self, subject: UUID, use: str, lifetime: timedelta, roles: list[str], sid: UUID | None) -> IssuedToken:
        jti = uuid4()
        now = datetime.now(UTC).replace(microsecond=0)
        token = AuthToken(
            sub=str(subject),
            exp=now + lifetime,
            iat=now,
            jti=jti.hex,
            token_use=use,
            roles=sorted(roles),
            sid=None if sid is None else sid.hex,
        )
        return IssuedToken(token.encode(self.secret, JWT_ALGORITHM), jti, token.exp)

    def access(self, subject: UUID, roles: list[str], session_id: UUID) -> IssuedToken:
        """A short-lived access token for ``Authorization: Bearer``."""
        return self._issue(subject, ACCESS, self.access_lifetime, roles, session_id)

    def refresh(self, subject: UUID, roles: list[str]) -> IssuedToken:
        """A refresh token; its ``jti`` becomes the id of the stored row."""
        return self._issue(subject, REFRESH, self.refresh_lifetime, roles, None)

    def decode(self, encoded: str, expected_use: str) -> AuthToken:
        """Verify ``encoded`` and return its claims; ``InvalidToken`` (401) when it is not a valid token of
        ``expected_use`` (bad signature, another algorithm, expired, a claim missing, or the other token type)."""
        try:
            token = AuthToken.decode(encoded, self.secret, JWT_ALGORITHM, require_claims=REQUIRED_CLAIMS)
        except NotAuthorizedException as exc:
            raise InvalidToken("the token is malformed, expired or not signed by this service") from exc
        if token.token_use != expected_use:
            raise InvalidToken(f"a {token.token_use!r} token was presented where a {expected_use!r} token is required")
        return token


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a presented token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


#: Random bytes of a lookup token: 256 bits (well over the 128 bits RFC 6749 §10.10 asks of guessable secrets).
LOOKUP_TOKEN_BYTES = 32


def issue_lookup_token() -> tuple[str, str]:
    """A new guest lookup token and the hash to store: ``(token shown once to the guest, sha256 hex)``."""
    token = secrets.token_urlsafe(LOOKUP_TOKEN_BYTES)
    return token, token_digest(token)


def derive_lookup_token(key: str, subject: str) -> tuple[str, str]:
    """A lookup token bound to ``subject`` (a reservation code) and the service's secret ``key``, and the hash to
    store: ``base64url(HMAC-SHA256(key, "lookup-token\n" + subject))``, 256 bits, unguessable without the key.
    Being derived, it can be shown again (an idempotent replay of the creation answer) without ever being stored
    in clear; the stored hash keeps verifying it should the key later change."""
    mac = hmac.new(key.encode(), f"lookup-token\n{subject}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return token, token_digest(token)


def verify_lookup_token(presented: str | None, stored_hash: str) -> bool:
    """True when ``presented`` is the token whose hash is ``stored_hash``; compared in constant time
    (``hmac.compare_digest``), and False for a missing or oversized token."""
    if not presented or len(presented) > 256:
        return False
    return hmac.compare_digest(token_digest(presented), stored_hash)
