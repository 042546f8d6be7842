"""Editors add destinations the open data lacks (POST /v1/editor/destinations): source and licence required, the
point inside the province, a 2025 commune; the public sees them with their attribution."""

import uuid

import httpx
import pytest
from litestar import Litestar

from tests.guide.content_support import editor_headers

PROBLEM = "application/problem+json"


def temple(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "temple",
        "name": f"Đền thử {uuid.uuid4().hex[:6]}",
        "location": {"lat": 22.3364, "lon": 103.8438},
        "commune": "03006",
        "source": "Survey by the tourism board (test)",
        "licence": "CC BY 4.0",
        "translations": {"en": "Test temple"},
        "opening_hours": "Mo-Su 07:00-17:00; PH off",
    }
    body.update(changes)
    return body


async def test_an_editor_adds_a_temple(app: Litestar, client: httpx.AsyncClient) -> None:
    editor = await editor_headers(app, client)
    created = await client.post("/v1/editor/destinations", json=temple(), headers=editor)
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    assert created.headers["etag"].startswith('"')
    public = (await client.get(f"/v1/destinations/{slug}", params={"lang": "en"})).json()
    assert (public["kind"], public["name"], public["name_locale"]) == ("temple", "Test temple", "en")
    assert public["sources"][0]["licence"] == "CC BY 4.0"
    assert public["opening_hours"] == "Mo-Su 07:00-17:00; PH off"
    again = await client.post(
        "/v1/editor/destinations", json={**temple(), "name": public["names"]["vi"]}, headers=editor
    )
    assert again.json()["slug"] == f"{slug}-2"  # the same name gets the next free slug


@pytest.mark.parametrize(
    "change",
    [
        {"licence": ""},
        {"source": ""},
        {"location": {"lat": 21.0, "lon": 105.85}},  # Hà Nội
        {"commune": "99999"},
        {"kind": "spaceport"},
        {"opening_hours": "whenever"},
        {"name": "  "},
    ],
)
async def test_bad_destinations_are_refused(
    app: Litestar, client: httpx.AsyncClient, change: dict[str, object]
) -> None:
    editor = await editor_headers(app, client)
    body = temple(**change)
    response = await client.post("/v1/editor/destinations", json=body, headers=editor)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    search = await client.get("/v1/destinations", params={"commune": "03006", "kind": "temple", "limit": 100})
    assert all(item["name"] != body["name"] for item in search.json()["items"])
