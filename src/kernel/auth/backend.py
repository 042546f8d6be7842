"""The JWT security backend: Litestar's ``JWTAuth`` with its ``Token.decode``, driven by each route's declaration.

A route's OpenAPI ``security`` is also its behaviour, so the two cannot drift apart:

- ``security=[]`` on the handler (or its controller): public. No token is read; the operation is published with
  an empty security list, overriding the document-wide bearer requirement.
- ``security=OPTIONAL_AUTH``: a token is checked when one is sent (a bad one is still a 401), else anonymous.
- anything else (nothing declared): protected, the secure default. Without ``Authorization: Bearer <access
  token>`` the answer is 401 problem+json with a ``WWW-Authenticate`` challenge (RFC 6750 §3).

An accepted access token's user is read from the database (one statement), so ``request.user`` is an
``Identity`` with the roles held now: a role taken away, or an account deleted, counts at once rather than when
the token expires. A refresh token presented as an access token is refused (its ``token_use`` claim).
"""

from datetime import timedelta
from typing import Any
from uuid import UUID

from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.openapi.spec import Operation, SecurityRequirement
from litestar.routes import HTTPRoute
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware
from litestar.types import Receive, Scope, Send
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.auth import repository
from src.kernel.auth.errors import InvalidToken, Unauthenticated
from src.kernel.auth.identity import Identity
from src.kernel.auth.tokens import ACCESS, JWT_ALGORITHM, REQUIRED_CLAIMS, AuthToken

SECURITY_SCHEME = "BearerToken"
#: ``security=`` of a route that serves anonymous callers and authenticated ones (OpenAPI: ``{}`` = no auth).
OPTIONAL_AUTH: list[SecurityRequirement] = [{SECURITY_SCHEME: []}, {}]

PUBLIC = "public"
OPTIONAL = "optional"
REQUIRED = "required"


def route_access(handler: BaseRouteHandler) -> str:
    """``public``, ``optional`` or ``required``: what the innermost ``security`` declaration of ``handler`` (or of
    its controller) says. Routers and the app declare nothing here (their ``security`` is always a list)."""
    for layer in reversed(handler.ownership_layers):
        if isinstance(layer, Router):
            break
        security = getattr(layer, "security", None)
        if security is None:
            continue
        if len(security) == 0:
            return PUBLIC
        return OPTIONAL if any(not requirement for requirement in security) else REQUIRED
    return REQUIRED


class BearerAuthenticationMiddleware(JWTAuthenticationMiddleware):
    """Authenticates ``Authorization: Bearer`` as each route declares (see the module docstring)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == ScopeType.HTTP and handler is not None and scope.get("method") != "OPTIONS":
            access = route_access(handler)
            if access == REQUIRED or (access == OPTIONAL and any(k == b"authorization" for k, _ in scope["headers"])):
                result = await self.authenticate_request(ASGIConnection(scope))
                scope["user"] = result.user
                scope["auth"] = result.auth
        await self.app(scope, receive, send)

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise Unauthenticated("this route needs Authorization: Bearer <access token>")
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not encoded.strip():
            raise InvalidToken("the Authorization header must be 'Bearer <access token>'")
        try:
            return await self.authenticate_token(encoded.strip(), connection)
        except NotAuthorizedException as exc:  # Token.decode: bad signature or algorithm, expired, claim missing
            raise InvalidToken("the token is malformed, expired or not signed by this service") from exc


async def retrieve_identity(token: AuthToken, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The caller of an accepted access token, with their current roles; ``InvalidToken`` when the token is not an
    access token or its account no longer exists."""
    if token.token_use != ACCESS:
        raise InvalidToken(f"a {token.token_use!r} token cannot authenticate a request; send the access token")
    try:
        user_id = UUID(token.sub)
        session_id = UUID(token.sid) if token.sid else None
    except ValueError as exc:
        raise InvalidToken("the token's subject is not an account of this service") from exc
    async with AsyncSession(connection.app.state.read_engine) as session:
        rows = await repository.identity_rows(session, user_id)
    if not rows:
        raise InvalidToken("the account of this token no longer exists")
    _, email, display_name, locale, _ = rows[0]
    roles = frozenset(row[4] for row in rows if row[4] is not None)
    return Identity(
        id=user_id, email=email, display_name=display_name, locale=locale, roles=roles, session_id=session_id
    )


def build_jwt_auth(secret: str, access_seconds: int) -> JWTAuth[Identity, AuthToken]:
    """Litestar's JWT backend with this service's token class, algorithm, required claims and middleware."""
    return JWTAuth[Identity, AuthToken](
        token_secret=secret,
        algorithm=JWT_ALGORITHM,
        token_cls=AuthToken,
        retrieve_user_handler=retrieve_identity,
        require_claims=list(REQUIRED_CLAIMS),
        default_token_expiration=timedelta(seconds=access_seconds),
        authentication_middleware_class=BearerAuthenticationMiddleware,
        openapi_security_scheme_name=SECURITY_SCHEME,
        description="An access token from POST /v1/auth/login or /v1/auth/refresh (JWT, HS256, 15 minutes).",
    )


class PublicOperation(Operation):
    """An OpenAPI operation that says it needs no authentication (``"security": []``), overriding the document's
    bearer requirement (Litestar omits an empty list)."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        schema.setdefault("security", [])
        return schema


def document_public_routes(app: Litestar) -> None:
    """Publish every public route with an empty security list, and make the OpenAPI document's own routes
    (``/schema...``, created by Litestar) public. Call once, before the schema is first served."""
    schema_path = (app.openapi_config.path or "/schema").rstrip("/") if app.openapi_config else None
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if schema_path and (route.path == schema_path or route.path.startswith(schema_path + "/")):
                handler.security = []
            if route_access(handler) == PUBLIC:
                handler.operation_class = PublicOperation
