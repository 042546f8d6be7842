"""HTTP endpoints of accounts (API.md ``/v1/auth/...``) and the admin's user management (``/v1/admin/users``).

Controllers read inputs, make one service call and return its result. Token responses and account pages are
``Cache-Control: no-store`` (RFC 6749 §5.1): no cache may keep a token or someone's account.
"""

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.auth.deps import provide_auth_service, provide_identity, provide_read_session
from src.kernel.auth.errors import RefreshTokenReused
from src.kernel.auth.guards import requires_role
from src.kernel.auth.identity import Identity
from src.kernel.auth.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    RoleName,
    RolesUpdate,
    SessionRead,
    TokenPair,
    UserPage,
    UserRead,
    UserUpdate,
)
from src.kernel.auth.service import AuthService
from src.kernel.errors import problem_responses, request_locale
from src.kernel.pagination import DEFAULT_LIMIT, MAX_LIMIT
from src.kernel.rate_limits import AUTH_RATE_LIMIT

NO_STORE = CacheControlHeader(no_store=True)


class AuthController(Controller):
    """Register, log in, refresh, log out; the caller's own account and sessions."""

    path = "/v1/auth"
    tags = ["auth"]
    cache_control = NO_STORE
    dependencies = {
        "service": Provide(provide_auth_service),
        "read_session": Provide(provide_read_session),
        "identity": Provide(provide_identity),
    }

    @post("/register", status_code=201, security=[], opt=AUTH_RATE_LIMIT, responses=problem_responses(409, 413))
    async def register(
        self, request: Request[Any, Any, Any], service: NamedDependency[AuthService], data: JSONBody[RegisterRequest]
    ) -> UserRead:
        """Create a `tourist` account. `locale` defaults to the request's language. An address already registered
        in any spelling (case, Unicode normalisation) is a 409. The password: 10 characters to 1,024 bytes."""
        # The request's locale is read from the request, not injected as a ``locale`` dependency: Litestar would
        # take a bad ``locale`` body field for a failed dependency and answer 500.
        return await service.register(
            email=data.email,
            password=data.password,
            display_name=data.display_name,
            locale=data.locale or request_locale(request),
        )

    @post("/login", status_code=200, security=[], opt=AUTH_RATE_LIMIT, responses=problem_responses(401, 413))
    async def login(self, service: NamedDependency[AuthService], data: JSONBody[LoginRequest]) -> TokenPair:
        """Exchange email and password for an access token (15 minutes) and a refresh token (30 days, one use).
        A wrong password and an unknown email give the same 401."""
        return await service.login(data.email, data.password)

    @post("/refresh", status_code=200, security=[], opt=AUTH_RATE_LIMIT, responses=problem_responses(401, 413))
    async def refresh(
        self,
        service: NamedDependency[AuthService],
        session: NamedDependency[AsyncSession],
        data: JSONBody[RefreshRequest],
    ) -> TokenPair:
        """Exchange a refresh token for a new pair; the one sent is refused from then on. Sending an already used
        refresh token again revokes its whole session (RFC 9700 §4.14.2) and is a 401."""
        try:
            return await service.refresh(data.refresh_token)
        except RefreshTokenReused:
            await session.commit()  # the session's revocation must outlive this refused request
            raise

    @post("/logout", status_code=204, security=[], responses=problem_responses(413))
    async def logout(self, service: NamedDependency[AuthService], data: JSONBody[RefreshRequest]) -> None:
        """End the session of a refresh token (its refresh tokens are refused afterwards; access tokens already
        issued expire on their own within 15 minutes). An unknown or invalid token is not an error (RFC 7009)."""
        await service.logout(data.refresh_token)

    @get("/me", responses=problem_responses(401))
    async def me(self, service: NamedDependency[AuthService], identity: NamedDependency[Identity]) -> UserRead:
        """The caller's account."""
        return await service.me(identity)

    # Its own path: Litestar 2.25 answers OPTIONS on a path with two handlers (GET and PATCH /me) with a stale
    # ``Allow`` that lists only one of them (schemathesis caught it).
    @patch("/me/profile", responses=problem_responses(401, 413))
    async def update_me(
        self, service: NamedDependency[AuthService], identity: NamedDependency[Identity], data: JSONBody[UserUpdate]
    ) -> UserRead:
        """Change the caller's display name or preferred locale."""
        return await service.update_me(identity, data)

    @get("/sessions", responses=problem_responses(401))
    async def sessions(
        self, service: NamedDependency[AuthService], identity: NamedDependency[Identity]
    ) -> list[SessionRead]:
        """The caller's signed-in sessions (one per login), `current` marking this one."""
        return await service.sessions(identity)

    @delete("/sessions/{session_id:uuid}", status_code=204, responses=problem_responses(401, 404))
    async def end_session(
        self, service: NamedDependency[AuthService], identity: NamedDependency[Identity], session_id: FromPath[UUID]
    ) -> None:
        """Sign one of the caller's sessions out (e.g. a lost phone). Another user's session is a 404."""
        await service.end_session(identity, session_id)


class AdminUserController(Controller):
    """Accounts and roles, for admins."""

    path = "/v1/admin/users"
    tags = ["admin"]
    cache_control = NO_STORE
    guards = [requires_role("admin")]
    dependencies = {
        "service": Provide(provide_auth_service),
        "read_session": Provide(provide_read_session),
        "identity": Provide(provide_identity),
    }

    @get("/", responses=problem_responses(401, 403))
    async def list_users(
        self,
        service: NamedDependency[AuthService],
        role: Annotated[RoleName | None, QueryParameter(description="Only users holding this role.")] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT}).")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, QueryParameter(max_length=512, description="`next_cursor` of the previous page.")
        ] = None,
    ) -> UserPage:
        """Accounts by email address, with their roles."""
        return await service.list_users(role=role, limit=limit, cursor=cursor)

    @put("/{user_id:uuid}/roles", responses=problem_responses(401, 403, 404, 413))
    async def set_roles(
        self,
        service: NamedDependency[AuthService],
        identity: NamedDependency[Identity],
        user_id: FromPath[UUID],
        data: JSONBody[RolesUpdate],
    ) -> UserRead:
        """Replace the roles of a user (the complete set). An admin cannot drop their own `admin` role."""
        return await service.set_roles(identity, user_id, data.roles)
