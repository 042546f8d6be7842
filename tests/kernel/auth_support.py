"""Helpers for tests of accounts: users with given roles, straight in the database, and login over HTTP."""

import uuid
from functools import cache
from uuid import UUID

import httpx
from litestar import Litestar

from src.kernel.auth import repository
from src.kernel.auth.credentials import default_passwords, normalise_email
from src.kernel.auth.models import User
from src.kernel.db import unit_of_work

PASSWORD = "correct horse battery"


@cache
def password_hash() -> str:
    """One Argon2 hash of ``PASSWORD`` with the app's parameters, shared by the users tests create."""
    return default_passwords().hash(PASSWORD)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.vn"


async def make_user(app: Litestar, *roles: str, email: str | None = None) -> tuple[UUID, str]:
    """A user holding ``roles`` whose password is ``PASSWORD``; ``(id, email)``."""
    email = email or unique_email(roles[0] if roles else "user")
    display, key = normalise_email(email)
    user = User(
        email=display, email_key=key, display_name=email.split("@")[0], locale="en", password_hash=password_hash()
    )
    async with unit_of_work(app.state.engine) as session:
        await repository.add_user(session, user, roles)
    return user.id, email


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
