"""Helpers of the article and tour tests: editors logged in over HTTP, and the workflow driven through the API."""

import uuid
from typing import Any

import httpx
from litestar import Litestar

from tests.kernel.auth_support import bearer, login, make_user


async def editor_headers(app: Litestar, client: httpx.AsyncClient) -> dict[str, str]:
    """Authorization headers of a new editor."""
    _id, email = await make_user(app, "editor")
    return bearer((await login(client, email))["access_token"])


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create(client: httpx.AsyncClient, kind: str, editor: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    response = await client.post(f"/v1/editor/{kind}s", json=body, headers=editor)
    assert response.status_code == 201, response.text
    return response


async def step(
    client: httpx.AsyncClient, kind: str, slug: str, action: str, editor: dict[str, str], etag: str
) -> httpx.Response:
    return await client.post(f"/v1/editor/{kind}s/{slug}/{action}", headers={**editor, "If-Match": etag})


async def publish(
    client: httpx.AsyncClient, kind: str, body: dict[str, Any], author: dict[str, str], reviewer: dict[str, str]
) -> httpx.Response:
    """Create, submit (the author) and publish (the reviewer) an item; the publish response."""
    created = await create(client, kind, author, body)
    slug = created.json()["slug"]
    submitted = await step(client, kind, slug, "submit", author, created.headers["etag"])
    assert submitted.status_code == 200, submitted.text
    published = await step(client, kind, slug, "publish", reviewer, submitted.headers["etag"])
    assert published.status_code == 200, published.text
    return published
