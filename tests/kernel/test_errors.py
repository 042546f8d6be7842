"""Bad input always gets an RFC 9457 problem with a 4xx status, in the negotiated language; never a 500."""

import base64
import json

import httpx
import pytest

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/map/features", {"bbox": "103.75,22.28,103.90"}, 422),
        ("/v1/map/features", {"bbox": "a,b,c,d"}, 422),
        ("/v1/map/features", {"bbox": "103.9,22.28,103.75,22.40"}, 422),
        ("/v1/map/features", {"bbox": "103.75,22.28,103.90,95"}, 422),
        ("/v1/map/features", {"bbox": "nan,22.28,103.90,22.40"}, 422),
        ("/v1/map/features", {}, 400),
        ("/v1/map/features", {"bbox": "103,21,106,23", "limit": "5001"}, 422),
        ("/v1/destinations", {"bbox": "1,2,3"}, 422),
        ("/v1/destinations", {"lat": "91", "lon": "103.8", "radius_km": "3"}, 422),
        ("/v1/destinations", {"lat": "22.3", "lon": "181", "radius_km": "3"}, 422),
        ("/v1/destinations", {"lat": "22.3", "lon": "103.8", "radius_km": "-1"}, 422),
        ("/v1/destinations", {"lat": "22.3", "lon": "103.8", "radius_km": "0"}, 422),
        ("/v1/destinations", {"lat": "22.3", "lon": "103.8", "radius_km": "1e309"}, 422),
        ("/v1/destinations", {"lat": "nan", "lon": "103.8", "radius_km": "3"}, 422),
        ("/v1/destinations", {"lat": "abc", "lon": "103.8", "radius_km": "3"}, 422),
        ("/v1/destinations", {"lat": "22.3", "lon": "103.8"}, 422),
        ("/v1/destinations", {"radius_km": "3"}, 422),
        ("/v1/destinations", {"kind": "castle"}, 422),
        ("/v1/destinations", {"commune": "3006"}, 422),
        ("/v1/destinations", {"commune": "99999"}, 422),
        ("/v1/destinations", {"limit": "0"}, 422),
        ("/v1/destinations", {"limit": "101"}, 422),
        ("/v1/destinations", {"limit": "99999999999999999999999"}, 422),
        ("/v1/destinations", {"cursor": "not-a-cursor"}, 422),
        ("/v1/destinations", {"cursor": "eyJxIjoxfQ"}, 422),
        ("/v1/destinations", {"lang": "xx"}, 422),
        ("/v1/destinations", {"lang": "---"}, 422),
        ("/v1/destinations/does-not-exist", {}, 404),
        ("/v1/communes/00000", {}, 404),
        ("/v1/communes/abc", {}, 404),
        ("/v1/communes", {"cursor": "%%%"}, 422),
        ("/v1/nowhere", {}, 404),
    ],
)
async def test_bad_input_is_a_4xx_problem(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["code"]
    assert body["title"]
    assert body["detail"]


async def test_problem_title_is_translated(client: httpx.AsyncClient) -> None:
    params = {"bbox": "1,2,3"}
    for locale, title in [("vi", "Tham số không hợp lệ"), ("en", "Invalid parameter"), ("zh-CN", "参数无效")]:
        response = await client.get("/v1/map/features", params=params, headers={"Accept-Language": locale})
        assert response.json()["title"] == title


async def test_unsupported_lang_is_422_but_header_falls_back_to_vi(client: httpx.AsyncClient) -> None:
    bad = await client.get("/v1/destinations/cat-cat", params={"lang": "xx"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "unsupported_locale"
    fallback = await client.get("/v1/destinations/cat-cat", headers={"Accept-Language": "xx, de;q=0.8"})
    assert fallback.status_code == 200
    assert fallback.headers["content-language"] == "vi"


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/destinations", json={})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/communes", {"q": "\x00"}),
        ("/v1/communes", {"q": "sa\x00pa"}),
        ("/v1/destinations", {"commune": "03006\n"}),
        ("/v1/destinations/fansipan%00", {}),
        ("/v1/communes/0300%00", {}),
    ],
)
async def test_control_characters_are_refused(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def test_forged_cursors_are_refused(client: httpx.AsyncClient) -> None:
    page = (await client.get("/v1/destinations", params={"limit": 1})).json()
    fingerprint = json.loads(base64.urlsafe_b64decode(page["next_cursor"] + "==="))["q"]
    for key in (["\ud800"], ["a\u0000"], [None], [True], [10**30], ["x" * 500], [{"a": 1}]):
        response = await client.get(
            "/v1/destinations", params={"limit": 1, "cursor": _cursor({"q": fingerprint, "k": key})}
        )
        assert response.status_code == 422, (key, response.text)
    communes = (await client.get("/v1/communes", params={"limit": 1})).json()
    fingerprint = json.loads(base64.urlsafe_b64decode(communes["next_cursor"] + "==="))["q"]
    response = await client.get("/v1/communes", params={"cursor": _cursor({"q": fingerprint, "k": ["\ud800"]})})
    assert response.status_code == 422


async def test_like_wildcards_are_literal(client: httpx.AsyncClient) -> None:
    for q in ("%", "_", "____________________"):
        assert (await client.get("/v1/communes", params={"q": q})).json()["items"] == []


async def test_missing_parameter_is_named(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/map/features")).json()
    assert body["errors"][0]["field"] == "bbox"


async def test_timestamps_are_utc_on_every_backend(client: httpx.AsyncClient) -> None:
    updated = (await client.get("/v1/destinations/cat-cat")).json()["updated_at"]
    assert updated.endswith(("Z", "+00:00")), updated


@pytest.mark.parametrize("bbox", ["1_03.7,22,104,23", "１,２,３,４", "103,22,104,23\u2028", "103,22,104,inf"])
async def test_bbox_takes_plain_decimals_only(client: httpx.AsyncClient, bbox: str) -> None:
    assert (await client.get("/v1/map/features", params={"bbox": bbox})).status_code == 422
    assert (await client.get("/v1/map/features", params={"bbox": "103.75, 22.28, 103.90, 22.40"})).status_code == 200
