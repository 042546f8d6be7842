"""Accounts over real HTTP (ASGITransport) on each backend: register, login, refresh with rotation and reuse
detection, logout, me, sessions, admin roles; and every kind of bad token answered 401 problem+json."""

import asyncio
import base64
import json
import statistics
import time
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from litestar import Litestar

from src.kernel.auth import repository
from src.kernel.auth.credentials import normalise_email
from src.kernel.auth.models import User
from src.kernel.db import unit_of_work
from tests.kernel.auth_support import PASSWORD, bearer, login, make_user, unique_email


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return dict(body)


# register


async def test_register_creates_a_tourist_and_never_returns_the_password(client: httpx.AsyncClient) -> None:
    email = unique_email("Reg")
    response = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "  Lan  "},
        headers={"Accept-Language": "fr"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "email", "display_name", "locale", "roles", "created_at"}
    assert body["roles"] == ["tourist"]
    assert body["locale"] == "fr"  # the request's language when none is given
    assert body["display_name"] == "Lan"
    assert PASSWORD not in response.text
    assert "argon2" not in response.text
    assert response.headers["cache-control"] == "no-store"
    # The account works straight away; a given locale wins.
    tokens = await login(client, email)
    me = await client.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["id"] == body["id"]
    other = await client.post(
        "/v1/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "display_name": "Minh", "locale": "zh-Hans"},
    )
    assert other.json()["locale"] == "zh-Hans"


async def test_two_spellings_of_one_address_are_one_account(client: httpx.AsyncClient) -> None:
    local = f"ánna.{uuid.uuid4().hex[:8]}"
    nfc = f"{unicodedata.normalize('NFC', local)}@Example.VN"
    nfd_upper = f"{unicodedata.normalize('NFD', local).upper()}@EXAMPLE.vn"
    assert nfc != nfd_upper
    first = await client.post("/v1/auth/register", json={"email": nfc, "password": PASSWORD, "display_name": "A"})
    assert first.status_code == 201, first.text
    again = await client.post("/v1/auth/register", json={"email": nfd_upper, "password": PASSWORD, "display_name": "B"})
    assert_problem(again, 409, "email_taken")
    # Logging in with the other spelling reaches the same account.
    tokens = await login(client, nfd_upper)
    me = await client.get("/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["id"] == first.json()["id"]


def test_email_key_folds_case_and_normalisation() -> None:
    assert normalise_email("Anna@Example.VN") == ("Anna@example.vn", "anna@example.vn")
    nfd = unicodedata.normalize("NFD", "Ánna@ví.vn")
    assert normalise_email(nfd)[1] == normalise_email("ánna@VÍ.vn")[1]
    # Full-width look-alikes are the same key (RFC 8265 width mapping), so they cannot be a second account.
    assert normalise_email("ｆｕｌｌ@b.vn")[1] == normalise_email("FULL@b.vn")[1] == "full@b.vn"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "not-an-address", "password": PASSWORD, "display_name": "x"}, 422),
        ({"email": "a@example.vn", "password": "short", "display_name": "x"}, 422),
        # 600 characters but 1,200 bytes in UTF-8: over the 1,024-byte limit (Argon2 input bound).
        ({"email": "a@example.vn", "password": "é" * 600, "display_name": "x"}, 422),
        ({"email": "a@example.vn", "password": "x" * 5000, "display_name": "x"}, 422),
        ({"email": "a@example.vn", "password": PASSWORD, "display_name": "x", "locale": "de"}, 422),
        ({"email": "a@example.vn", "password": PASSWORD, "display_name": "x", "roles": ["admin"]}, 422),
        ({"email": "a@example.vn", "password": PASSWORD}, 422),  # well-formed JSON, a field missing
        # Control characters: PostgreSQL cannot store NUL (it was a 500 there); escapes would reach terminals.
        ({"email": "a@example.vn", "password": PASSWORD, "display_name": "a\x00b"}, 422),
        ({"email": "a@example.vn", "password": PASSWORD, "display_name": "a\x1b[31mb"}, 422),
        ({"email": "a@example.vn", "password": PASSWORD, "display_name": "Lan\n"}, 422),
        ({"email": "a@example.vn", "password": PASSWORD, "display_name": "\x85"}, 422),
    ],
)
async def test_register_refuses_bad_input(client: httpx.AsyncClient, body: dict[str, Any], status: int) -> None:
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unparseable_body_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "bad_request")


async def test_deeply_nested_json_is_400(client: httpx.AsyncClient) -> None:
    # 200 kB, under the body limit; the JSON decoder gives up with RecursionError, which was a 500.
    body = b"[" * 100_000 + b"]" * 100_000
    response = await client.post("/v1/auth/register", content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "bad_request")


async def test_display_name_with_control_characters_is_refused(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    headers = bearer((await login(client, email))["access_token"])
    for name in ["a\x00b", "a\x07", "\x7f"]:
        response = await client.patch("/v1/auth/me/profile", json={"display_name": name}, headers=headers)
        assert_problem(response, 422, "invalid_parameter")
    kept = await client.get("/v1/auth/me", headers=headers)
    assert kept.json()["display_name"] == email.split("@")[0]
    # Letters of any script, inner spaces and emoji stay welcome.
    fine = await client.patch("/v1/auth/me/profile", json={"display_name": " Lò Thị Mỷ 🌾 "}, headers=headers)
    assert fine.status_code == 200, fine.text
    assert fine.json()["display_name"] == "Lò Thị Mỷ 🌾"


# login


async def test_login_answers_the_token_pair(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    response = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_expires_in"] == 30 * 24 * 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"sub", "roles", "exp", "iat", "jti", "token_use"} <= set(claims)
    assert claims["token_use"] == "access"
    assert claims["roles"] == ["tourist"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    refresh_claims = jwt.decode(body["refresh_token"], options={"verify_signature": False})
    assert refresh_claims["token_use"] == "refresh"
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


async def test_unknown_email_and_wrong_password_look_the_same(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    attempts = {"unknown": (unique_email("nobody"), PASSWORD), "wrong": (email, "wrong password!")}
    answers: dict[str, list[httpx.Response]] = {"unknown": [], "wrong": []}
    durations: dict[str, list[float]] = {"unknown": [], "wrong": []}
    for _ in range(3):
        for kind, (address, password) in attempts.items():
            started = time.perf_counter()
            answers[kind].append(await client.post("/v1/auth/login", json={"email": address, "password": password}))
            durations[kind].append(time.perf_counter() - started)
    unknown, wrong = answers["unknown"][0], answers["wrong"][0]
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.json()["code"] == "invalid_credentials"
    assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]
    # Both verify one Argon2 hash (a dummy one for the unknown email): same order of time. Without the dummy
    # hash the unknown email would answer in about a hundredth of the time.
    ratio = statistics.median(durations["unknown"]) / statistics.median(durations["wrong"])
    assert 0.33 < ratio < 3, durations


async def test_login_rehashes_a_password_hashed_with_older_parameters(client: httpx.AsyncClient, app: Litestar) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    email = unique_email("old")
    display, key = normalise_email(email)
    user = User(email=display, email_key=key, display_name="old", locale="vi", password_hash=old.hash(PASSWORD))
    async with unit_of_work(app.state.engine) as session:
        await repository.add_user(session, user, ["tourist"])
    await login(client, email)
    async with unit_of_work(app.state.engine) as session:
        stored = await repository.get_user(session, user.id)
    assert stored is not None
    assert stored.password_hash != user.password_hash
    assert not app.state.passwords.needs_rehash(stored.password_hash)
    await login(client, email)  # the new hash verifies the same password


# refresh and logout


async def test_refresh_rotates_and_the_old_token_is_refused(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    first = await login(client, email)
    second = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    assert second.headers["cache-control"] == "no-store"
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert (await client.get("/v1/auth/me", headers=bearer(pair["access_token"]))).status_code == 200
    replay = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(replay, 401, "invalid_token")
    # Reuse of a rotated token revokes its whole session: the newest refresh token is refused too.
    newest = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(newest, 401, "invalid_token")
    # Another login is another session and is unaffected.
    again = await login(client, email)
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": again["refresh_token"]})).status_code == 200


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    tokens = await login(client, email)
    assert (await client.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})).status_code == 204
    refused = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refused, 401, "invalid_token")
    # RFC 7009: an unknown or invalid token is not an error at logout.
    assert (await client.post("/v1/auth/logout", json={"refresh_token": "garbage"})).status_code == 204


async def test_an_access_token_is_not_a_refresh_token(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    tokens = await login(client, email)
    response = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    body = assert_problem(response, 401, "invalid_token")
    assert "access" in body["detail"]


# bad access tokens


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(user_id: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        "roles": ["admin"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
        "token_use": "access",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


BAD_TOKENS = [
    "another_key",
    "alg_none",
    "hs512",
    "expired",
    "refresh_as_access",
    "no_token_use",
    "unknown_subject",
    "garbage",
    "basic_scheme",
]


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_bad_access_tokens_are_401(client: httpx.AsyncClient, app: Litestar, kind: str) -> None:
    user_id, email = await make_user(app, "admin")
    secret = app.state.token_codec.secret
    sub = str(user_id)
    header = None
    if kind == "another_key":
        token = jwt.encode(_claims(sub), "another key of at least thirty-two bytes!", algorithm="HS256")
    elif kind == "alg_none":
        token = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(_claims(sub))}."
    elif kind == "hs512":
        token = jwt.encode(_claims(sub), secret, algorithm="HS512")
    elif kind == "expired":
        past = datetime.now(UTC) - timedelta(hours=1)
        token = jwt.encode(
            _claims(sub, iat=int(past.timestamp()), exp=int(past.timestamp()) + 60), secret, algorithm="HS256"
        )
    elif kind == "refresh_as_access":
        token = str((await login(client, email))["refresh_token"])
    elif kind == "no_token_use":
        token = jwt.encode(_claims(sub, token_use=None), secret, algorithm="HS256")
    elif kind == "unknown_subject":
        token = jwt.encode(_claims(str(uuid.uuid4())), secret, algorithm="HS256")
    elif kind == "garbage":
        token = "not.a.jwt"
    else:
        token = jwt.encode(_claims(sub), secret, algorithm="HS256")
        header = {"Authorization": f"Basic {token}"}
    response = await client.get("/v1/auth/me", headers=header or bearer(token))
    body = assert_problem(response, 401, "invalid_token")
    assert body["title"]
    assert "invalid_token" in response.headers["www-authenticate"]
    # The same hand-built claims signed properly are accepted: the refusal is about the defect alone.
    good = jwt.encode(_claims(sub), secret, algorithm="HS256")
    assert (await client.get("/v1/auth/me", headers=bearer(good))).status_code == 200


async def test_missing_token_is_401_with_a_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/auth/me", headers={"Accept-Language": "ko"})
    body = assert_problem(response, 401, "unauthorized")
    assert body["title"] == "인증이 필요합니다" or body["title"] != "Authentication required"
    assert response.headers["www-authenticate"].startswith("Bearer")


# me, sessions, admin


async def test_me_can_change_name_and_locale(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "owner")
    headers = bearer((await login(client, email))["access_token"])
    changed = await client.patch("/v1/auth/me/profile", json={"display_name": "Hoa", "locale": "ko"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["locale"]) == ("Hoa", "ko")
    me = await client.get("/v1/auth/me", headers=headers)
    assert me.json()["display_name"] == "Hoa"
    assert me.json()["roles"] == ["owner"]
    assert me.headers["cache-control"] == "no-store"
    assert "etag" not in me.headers
    bad = await client.patch("/v1/auth/me/profile", json={"locale": "xx"}, headers=headers)
    assert bad.status_code == 422


async def test_sessions_list_and_end_one(client: httpx.AsyncClient, app: Litestar) -> None:
    _, email = await make_user(app, "tourist")
    phone = await login(client, email)
    laptop = await login(client, email)
    listed = await client.get("/v1/auth/sessions", headers=bearer(laptop["access_token"]))
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    phone_sid = jwt.decode(phone["access_token"], options={"verify_signature": False})["sid"]
    phone_session = next(s for s in sessions if uuid.UUID(s["id"]).hex == phone_sid)
    assert not phone_session["current"]
    ended = await client.delete(f"/v1/auth/sessions/{phone_session['id']}", headers=bearer(laptop["access_token"]))
    assert ended.status_code == 204
    refused = await client.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert refused.status_code == 401
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})).status_code == 200
    missing = await client.delete(f"/v1/auth/sessions/{uuid.uuid4()}", headers=bearer(laptop["access_token"]))
    assert_problem(missing, 404, "not_found")


async def test_admin_lists_users_and_sets_roles(client: httpx.AsyncClient, app: Litestar) -> None:
    admin_id, admin_email = await make_user(app, "admin")
    target_id, target_email = await make_user(app, "tourist")
    headers = bearer((await login(client, admin_email))["access_token"])
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 2, "role": "admin"}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/v1/admin/users", params=params, headers=headers)
        assert page.status_code == 200, page.text
        assert page.headers["cache-control"] == "no-store"
        body = page.json()
        assert len(body["items"]) <= 2
        assert all("admin" in item["roles"] for item in body["items"])
        assert all("password" not in json.dumps(item) for item in body["items"])
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert str(admin_id) in seen
    assert len(seen) == len(set(seen))
    changed = await client.put(
        f"/v1/admin/users/{target_id}/roles", json={"roles": ["owner", "tourist"]}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["owner", "tourist"]
    # The change counts at once, even for an access token issued before it (roles are read per request).
    target = await login(client, target_email)
    await client.put(f"/v1/admin/users/{target_id}/roles", json={"roles": ["tourist"]}, headers=headers)
    me = await client.get("/v1/auth/me", headers=bearer(target["access_token"]))
    assert me.json()["roles"] == ["tourist"]
    demote_self = await client.put(f"/v1/admin/users/{admin_id}/roles", json={"roles": ["tourist"]}, headers=headers)
    assert_problem(demote_self, 422, "invalid_parameter")
    unknown_role = await client.put(f"/v1/admin/users/{target_id}/roles", json={"roles": ["god"]}, headers=headers)
    assert unknown_role.status_code == 422
    nobody = await client.put(f"/v1/admin/users/{uuid.uuid4()}/roles", json={"roles": ["owner"]}, headers=headers)
    assert_problem(nobody, 404, "not_found")


async def test_concurrent_role_replacements_leave_one_complete_set(client: httpx.AsyncClient, app: Litestar) -> None:
    # On PostgreSQL, concurrent PUTs each deleted the old rows and then collided on the primary key (500), or left
    # a mixture of two requests' sets (``board, editor, owner`` from ``[editor, board]`` and ``[tourist, owner]``).
    _, admin_email = await make_user(app, "admin")
    target_id, target_email = await make_user(app, "tourist")
    headers = bearer((await login(client, admin_email))["access_token"])
    choices = [["owner"], ["board", "editor"], ["owner", "tourist"]]
    responses = await asyncio.gather(
        *[
            client.put(f"/v1/admin/users/{target_id}/roles", json={"roles": choices[i % 3]}, headers=headers)
            for i in range(15)
        ]
    )
    assert [response.status_code for response in responses] == [200] * 15, [r.text for r in responses]
    me = await client.get("/v1/auth/me", headers=bearer((await login(client, target_email))["access_token"]))
    assert me.json()["roles"] in choices


async def test_openapi_marks_public_routes_and_documents_401(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["security"] == [{"BearerToken": []}]
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "Bearer"
    paths = schema["paths"]
    for path, method in [
        ("/v1/destinations", "get"),
        ("/health/ready", "get"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/register", "post"),
    ]:
        assert paths[path][method]["security"] == [], path
    for path, method in [("/v1/auth/me", "get"), ("/v1/admin/users", "get"), ("/v1/auth/sessions", "get")]:
        assert "security" not in paths[path][method], path  # the document's bearer requirement applies
        assert "401" in paths[path][method]["responses"], path
    assert "403" in paths["/v1/admin/users"]["get"]["responses"]
