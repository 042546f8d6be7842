"""How the auth service and the caller's identity are provided to controllers (of the kernel and of domains)."""

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.auth.guards import current_identity
from src.kernel.auth.identity import Identity
from src.kernel.auth.service import AuthService


async def provide_read_session(state: State) -> AsyncIterator[AsyncSession]:
    """A read-only session on the read engine (no connection until first used; never committed)."""
    async with AsyncSession(state.read_engine, expire_on_commit=False) as session:
        yield session


async def provide_auth_service(
    session: NamedDependency[AsyncSession], read_session: NamedDependency[AsyncSession], state: State
) -> AuthService:
    """An ``AuthService`` on the request's unit of work, with the app's token codec and password hasher."""
    return AuthService(session, state.token_codec, state.passwords, reader=read_session)


async def provide_identity(request: Request[Any, Any, Any]) -> Identity:
    """The authenticated caller (``request.user``); 401 on a route where authentication was optional and absent."""
    return current_identity(request)
