"""The JWT backend follows each route's declared security: public, optional (a guest or a user) or protected."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.datastructures import State

from src.kernel.auth.backend import OPTIONAL_AUTH, build_jwt_auth, document_public_routes
from src.kernel.auth.guards import current_identity, requires_role
from src.kernel.auth.identity import Identity
from src.kernel.auth.tokens import TokenCodec
from src.kernel.db import create_engine
from src.kernel.errors import EXCEPTION_HANDLERS
from tests.conftest import migrated_database
from tests.kernel.auth_support import make_user

SECRET = "k3Q9-vX2pL7rT0wZ5yB8nM1cD4fG6hJ0sA2eR9u"


@get("/public", security=[])
async def public() -> str:
    return "anyone"


@get("/optional", security=OPTIONAL_AUTH)
async def optional(request: Request[Any, Any, Any]) -> str:
    user = request.scope.get("user")
    return user.email if isinstance(user, Identity) else "guest"


@get("/protected")
async def protected(request: Request[Any, Any, Any]) -> str:
    return current_identity(request).email


@get("/editors", guards=[requires_role("editor", "admin")])
async def editors() -> str:
    return "content"


@pytest.fixture(scope="module")
async def small_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Litestar]:
    url = await migrated_database("sqlite", tmp_path_factory.mktemp("backend"))
    engine = create_engine(url)
    app = Litestar(
        route_handlers=[public, optional, protected, editors],
        on_app_init=[build_jwt_auth(SECRET, 900).on_app_init],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"engine": engine, "read_engine": engine}),
    )
    document_public_routes(app)
    yield app
    await engine.dispose()


async def test_routes_follow_their_declared_security(small_app: Litestar) -> None:
    codec = TokenCodec(SECRET, access_seconds=900, refresh_seconds=3600)
    editor_id, editor_email = await make_user(small_app, "editor")
    tourist_id, _ = await make_user(small_app, "tourist")
    editor = {"Authorization": f"Bearer {codec.access(editor_id, ['editor'], uuid.uuid4()).encoded}"}
    tourist = {"Authorization": f"Bearer {codec.access(tourist_id, ['tourist'], uuid.uuid4()).encoded}"}
    broken = {"Authorization": "Bearer not.a.token"}
    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def status(path: str, headers: dict[str, str]) -> tuple[int, str]:
            response = await client.get(path, headers=headers)
            return response.status_code, response.text

        assert await status("/public", {}) == (200, "anyone")
        assert await status("/public", broken) == (200, "anyone")  # a public route reads no token
        assert await status("/optional", {}) == (200, "guest")
        assert await status("/optional", editor) == (200, editor_email)
        assert (await status("/optional", broken))[0] == 401  # a token that is sent must be valid
        assert (await status("/protected", {}))[0] == 401
        assert await status("/protected", editor) == (200, editor_email)
        assert (await status("/editors", tourist))[0] == 403
        assert (await status("/editors", editor))[0] == 200
        schema = (await client.get("/schema/openapi.json")).json()
    assert schema["paths"]["/public"]["get"]["security"] == []
    assert schema["paths"]["/optional"]["get"]["security"] == [{"BearerToken": []}, {}]
    assert "security" not in schema["paths"]["/protected"]["get"]


def test_requires_role_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="known roles"):
        requires_role("superuser")
