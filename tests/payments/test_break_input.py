"""Trying to break payments with bad input: every answer must be a 4xx problem+json, nothing half-written."""

import json
import secrets
from typing import Any

import httpx
import pytest
from litestar import Litestar

from src.kernel.db import utcnow
from src.payments.stripe import StripeProvider
from src.payments.stripe import sign as sign_notice
from tests.booking.support import future, make_owner
from tests.kernel.auth_support import bearer, login
from tests.payments.localstripe import LocalStripe
from tests.payments.support import (
    account_number,
    book,
    card_enabled,
    deliver,
    event_body,
    intent_object,
    key,
    notify_transfer,
    owner_with_account,
    process_all,
    refunds,
    stored_events,
)
from tests.payments.test_break_support import assert_problem, check_invariants

BIDI = "\u202e\u2066\u200f"
CONTROL = "\x01\x07\x1b\u0085"


def _notice(number: str, **fields: Any) -> dict[str, Any]:
    body = {
        "transaction_id": f"FT{secrets.randbelow(10**11)}",
        "bank_bin": "970436",
        "account_number": number,
        "amount": 1000,
        "currency": "VND",
        "description": "tien nha",
        "transacted_at": utcnow().isoformat(),
    }
    body.update(fields)
    return body


async def _post_notice(client: httpx.AsyncClient, secret: str, payload: bytes, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/webhooks/bank-transfer",
        content=payload,
        headers={"X-Bank-Feed-Signature": sign_notice(payload, secret), "Content-Type": "application/json", **headers},
    )


async def test_bank_notice_bad_bodies_are_4xx(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    bodies: list[bytes] = [
        b"",
        b"null",
        b"[]",
        b"[1,2]",
        b"42",
        b'"x"',
        b"{",
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
        json.dumps(_notice(number, amount=10**30)).encode(),
        json.dumps(_notice(number, amount=-5)).encode(),
        json.dumps(_notice(number, amount=0)).encode(),
        json.dumps(_notice(number, amount=1.5)).encode(),
        json.dumps(_notice(number, amount="1000")).encode(),
        json.dumps(_notice(number, amount=None)).encode(),
        json.dumps(_notice(number, amount=True)).encode(),
        json.dumps(_notice(number, transaction_id="")).encode(),
        json.dumps(_notice(number, transaction_id="x" * 65)).encode(),
        json.dumps(_notice(number, transaction_id=12)).encode(),
        json.dumps(_notice(number, bank_bin="97043")).encode(),
        json.dumps(_notice(number, bank_bin="abcdef")).encode(),
        json.dumps(_notice(number, account_number="")).encode(),
        json.dumps(_notice(number, account_number="1" * 20)).encode(),
        json.dumps(_notice(number, account_number="12 34")).encode(),
        json.dumps(_notice(number, currency="VN")).encode(),
        json.dumps(_notice(number, currency="V1D")).encode(),
        json.dumps(_notice(number, description="x" * 501)).encode(),
        json.dumps(_notice(number, description=None)).encode(),
        json.dumps(_notice(number, transacted_at="2026-12-24T09:15:00")).encode(),
        json.dumps(_notice(number, transacted_at="2026-12-24")).encode(),
        json.dumps(_notice(number, transacted_at="yesterday")).encode(),
        json.dumps({k: v for k, v in _notice(number).items() if k != "amount"}).encode(),
    ]
    before = await stored_transfers(app)
    for payload in bodies:
        response = await _post_notice(client, secret, payload)
        assert_problem(response, 400, 422)
    assert await stored_transfers(app) == before  # nothing stored


async def test_bank_notice_bad_signature_headers_are_400(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    payload = json.dumps(_notice(number)).encode()
    good = sign_notice(payload, secret)
    now = int(utcnow().timestamp())
    headers = [
        "",
        "t=abc",
        "t=abc,v1=00",
        f"t={now}",
        f"t={now},v1=",
        f"t=-{now},v1=00",
        f"t={now}," + ",".join(["v1=00"] * 300),
        f"t={now},v0={good.split('v1=')[1]}",
        "v1=" + good.split("v1=")[1],
        f"t={now - 301},v1=" + sign_notice(payload, secret, now - 301).split("v1=")[1],
        f"t={now + 10**12},v1=00",
        "t=١٢٣,v1=00".encode(),  # Arabic-Indic digits: str.isdigit() says yes
        "\u202et=1,v1=00".encode(),
        "x" * 1999,
    ]
    for header in headers:
        response = await client.post(
            "/v1/webhooks/bank-transfer",
            content=payload,
            headers={"X-Bank-Feed-Signature": header, "Content-Type": "application/json"},
        )
        body = assert_problem(response, 400)
        assert body["code"] in ("invalid_signature", "bad_request"), (header[:40], body)
    missing = await client.post("/v1/webhooks/bank-transfer", content=payload)
    assert assert_problem(missing, 400)["code"] == "invalid_signature"
    too_long = await client.post(
        "/v1/webhooks/bank-transfer", content=payload, headers={"X-Bank-Feed-Signature": "x" * 5000}
    )
    assert_problem(too_long, 400, 422)
    many = f"t={now}," + ",".join(["v1=00"] * 50) + "," + good.split(",")[1]
    accepted = await client.post("/v1/webhooks/bank-transfer", content=payload, headers={"X-Bank-Feed-Signature": many})
    assert accepted.status_code == 200, accepted.text  # several v1 values: one matching is enough (rotation)


async def test_bank_notice_unicode_and_control_memos_are_parked_not_5xx(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    owner, property_id, room_type_id, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    booking = await book(client, property_id, room_type_id, future(11), future(12))
    amount = booking["price"]["total"]["amount"]
    memos = [
        BIDI + booking["code"][::-1],
        CONTROL + "tiền phòng",
        "🏨" * 500,
        "",
    ]
    for memo in memos:
        response = await _post_notice(
            client, secret, json.dumps(_notice(number, amount=amount, description=memo)).encode()
        )
        assert response.status_code == 200, (memo, response.text)
        assert response.json()["status"] == "parked"
    wide = "Ｌ Ｃ " + booking["code"][2:]  # full-width letters are read as the code (NFKC)
    response = await _post_notice(client, secret, json.dumps(_notice(number, amount=amount, description=wide)).encode())
    assert response.json()["status"] == "confirmed", response.text
    listed = (await client.get("/v1/owner/bank-transfers", params={"status": "parked"}, headers=owner)).json()["items"]
    import re

    # kept, with control and bidi characters as spaces (one line of printable text; NUL cannot be stored)
    controls = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
    assert {t["description"] for t in listed} >= {controls.sub(" ", memo) for memo in memos}
    state = await check_invariants(app, booking["code"])
    assert state["status"] == "confirmed"
    assert state["paid"] == amount


async def test_bank_notice_huge_signature_timestamp_is_400(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, _ = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    payload = json.dumps(_notice(number)).encode()
    response = await client.post(
        "/v1/webhooks/bank-transfer", content=payload, headers={"X-Bank-Feed-Signature": f"t={'9' * 400},v1=00"}
    )
    assert_problem(response, 400)


async def test_bank_notice_with_nul_in_memo_is_not_5xx(app: Litestar, client: httpx.AsyncClient, backend: str) -> None:
    if backend != "postgresql":  # SQLite stores NUL in TEXT: the PostgreSQL run is the one that matters
        pytest.skip("PostgreSQL only")
    owner, property_id, _, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    payload = json.dumps(_notice(number, description="tien\u0000phong")).encode()
    response = await _post_notice(client, secret, payload)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 422)


async def test_bank_notice_extreme_timestamp_is_not_5xx(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    payload = json.dumps(_notice(number, transacted_at="0001-01-01T00:00:00+05:00")).encode()
    response = await _post_notice(client, secret, payload)
    assert response.status_code < 500, response.text


async def test_bank_notice_huge_and_wrong_content_type(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    huge = json.dumps(_notice(number, padding="x" * (11 * 1024 * 1024))).encode()
    assert_problem(await _post_notice(client, secret, huge), 400, 413, 422)
    payload = json.dumps(_notice(number)).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = await _post_notice(client, secret, payload, **{"Content-Type": content_type})
        # the signature covers the raw bytes; the content type does not matter, but it must never be 5xx
        assert response.status_code in (200, 400, 415), response.text


async def test_stripe_webhook_bad_input_is_400(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider
) -> None:
    from src.payments.stripe import sign
    from tests.payments.localstripe import WEBHOOK_SECRET

    with card_enabled(app, stripe_provider):
        before = await stored_events(app)
        body = event_body("payment_intent.succeeded", {"id": "pi_nothing", "status": "succeeded", "amount": 1})
        good = sign(body, WEBHOOK_SECRET)
        now = int(utcnow().timestamp())
        for header in (
            "",
            "t=abc",
            "t=abc,v1=00",
            "t=,v1=",
            f"t={now}",
            f"t={now}," + ",".join(["v1=00"] * 300),
            "=,=,=",
            ",,,,",
            "t=1=2=3,v1=4=5",
            ("\u202e" + good).encode(),
            good.replace("v1=", "v0="),
        ):
            response = await client.post(
                "/v1/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            assert_problem(response, 400)
        assert_problem(await client.post("/v1/webhooks/stripe", content=body), 400)
        assert_problem(
            await client.post("/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": "x" * 3000}), 400, 422
        )
        # signed with our own secret, but not events: 400, never 5xx, nothing stored
        for signed in (
            b"null",
            b"[]",
            b"[1]",
            b"{}",
            b'{"id": "evt_1"}',
            b'{"id": 1, "type": "x", "created": 1, "data": {"object": {}}}',
            b'{"id": "evt_x", "type": "x", "created": 1, "data": {"object": []}}',
            b'{"id": "evt_x", "type": "x", "created": "1", "data": {"object": {}}}',
            b"",
        ):
            response = await deliver(client, signed)
            assert_problem(response, 400)
        not_utf8 = await client.post(
            "/v1/webhooks/stripe", content=b"\xff\xfe{}", headers={"Stripe-Signature": f"t={now},v1=00"}
        )
        assert_problem(not_utf8, 400)
        huge = event_body("payment_intent.succeeded", {"id": "pi_x", "pad": "x" * (11 * 1024 * 1024)})
        assert_problem(await deliver(client, huge), 400, 413)
        assert await stored_events(app) == before
        # a JSON event with other content types still verifies on the raw bytes
        weird = event_body("customer.created", {"id": "cus_1"})
        header = sign(weird, WEBHOOK_SECRET)
        response = await client.post(
            "/v1/webhooks/stripe", content=weird, headers={"Stripe-Signature": header, "Content-Type": "text/plain"}
        )
        assert response.status_code == 200, response.text
        assert await process_all(app) == ["ignored"]


async def test_stripe_events_with_odd_objects_never_crash_processing(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider
) -> None:
    objects: list[tuple[str, dict[str, Any]]] = [
        ("payment_intent.succeeded", {"id": 5, "status": "succeeded", "amount_received": "10"}),
        ("payment_intent.succeeded", {"status": "succeeded", "metadata": {"payment_id": "not-a-uuid"}}),
        ("payment_intent.succeeded", {"id": "pi_q", "status": "succeeded", "metadata": ["x"]}),
        ("payment_intent.payment_failed", {"id": "pi_q", "last_payment_error": "x"}),
        ("charge.refunded", {"refunds": {"data": [1, "x", None]}}),
        ("charge.refunded", {"refunds": []}),
        ("refund.updated", {"id": None, "metadata": {"refund_id": "zzz"}}),
        ("refund.created", {"id": "re_1", "payment_intent": None, "amount": 10**30}),
        ("charge.dispute.created", {"payment_intent": None}),
    ]
    with card_enabled(app, stripe_provider):
        for event_type, obj in objects:
            assert (await deliver(client, event_body(event_type, obj))).status_code == 200
        outcomes = await process_all(app)
    assert len(outcomes) == len(objects)
    assert all(o in ("unknown", "ignored", "") for o in outcomes), outcomes


async def _card_booking(
    app: Litestar, client: httpx.AsyncClient, localstripe: LocalStripe, provider: StripeProvider, nights: int = 2
) -> tuple[dict[str, Any], dict[str, str]]:
    owner_id, email = await make_owner(app)
    from tests.booking.support import make_property, make_room_type, open_calendar

    property_id = await make_property(app, owner_id)
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(0), future(60), allotment=1, price=900_000)
    booking = await book(client, property_id, room_type_id, future(20), future(20 + nights))
    owner = bearer((await login(client, email))["access_token"])
    with card_enabled(app, provider):
        started = await client.post(
            f"/v1/bookings/{booking['code']}/payments",
            json={"method": "card"},
            headers={**key(), "X-Booking-Token": booking["lookup_token"]},
        )
        assert started.status_code == 201, started.text
        paid = await localstripe.pay_with_test_card(started.json()["client_secret"].split("_secret_")[0])
        await deliver(client, event_body("payment_intent.succeeded", intent_object(paid, "succeeded")))
        assert await process_all(app) == ["confirmed"]
    return booking, owner


async def test_owner_refund_bad_input(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    booking, owner = await _card_booking(app, client, localstripe, stripe_provider)
    url = f"/v1/owner/reservations/{booking['code']}/refunds"
    bodies: list[Any] = [
        {"amount": 10**30},
        {"amount": -1},
        {"amount": 0},
        {"amount": 1.5},
        {"amount": "1.5"},
        {"amount": True},
        {"amount": None, "nights": None},
        {"amount": 1, "nights": [future(20).isoformat()]},
        {"nights": []},
        {"nights": ["2026-13-01"]},
        {"nights": ["2020-01-01"]},
        {"nights": [future(20).isoformat() + "T00:00:00Z"]},
        {"nights": [1]},
        {"nights": ["x" * 10_000]},
        {"amount": 1, "note": "x" * 501},
        {"amount": 1, "extra": True},
        {"amount": 10**13 + 1},
        {"amount": 10**12},
        [],
        None,
        "amount",
    ]
    with card_enabled(app, stripe_provider):
        for body in bodies:
            response = await client.post(url, json=body, headers={**owner, **key()})
            assert_problem(response, 400, 409, 422)
        for raw in (b"{", b"", b"[" * 5000):
            response = await client.post(
                url, content=raw, headers={**owner, **key(), "Content-Type": "application/json"}
            )
            assert_problem(response, 400, 422)
        for bad_key in ("x" * 1000, "has spaces", "ключ".encode(), "", "\t"):
            response = await client.post(url, json={"amount": 1}, headers={**owner, "Idempotency-Key": bad_key})
            assert_problem(response, 400, 422)
        assert_problem(await client.post(url, json={"amount": 1}, headers=owner), 400)
        assert_problem(await client.post(url, json={"amount": 1}, headers=key()), 401)
        odd = await client.post(url, json={"amount": 1, "note": BIDI + CONTROL + "hoàn 💸"}, headers={**owner, **key()})
        assert_problem(odd, 422)  # notes are text without control or bidi characters (src/kernel/text.py)
        fine = await client.post(url, json={"amount": 1, "note": "hoàn 💸"}, headers={**owner, **key()})
        assert fine.status_code == 201, fine.text
    assert [e.amount for e in await refunds(app, booking["code"])] == [1]
    await check_invariants(app, booking["code"])


async def test_owner_refund_amount_as_string_is_422(
    app: Litestar, client: httpx.AsyncClient, stripe_provider: StripeProvider, localstripe: LocalStripe
) -> None:
    booking, owner = await _card_booking(app, client, localstripe, stripe_provider)
    url = f"/v1/owner/reservations/{booking['code']}/refunds"
    with card_enabled(app, stripe_provider):
        answers = [await client.post(url, json={"amount": text}, headers={**owner, **key()}) for text in ("100", "1e2")]
    assert [a.status_code for a in answers] == [422, 422], [a.text for a in answers]


async def test_owner_refund_with_a_long_idempotency_key(
    app: Litestar,
    client: httpx.AsyncClient,
    stripe_provider: StripeProvider,
    localstripe: LocalStripe,
    backend: str,
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    booking, owner = await _card_booking(app, client, localstripe, stripe_provider)
    url = f"/v1/owner/reservations/{booking['code']}/refunds"
    with card_enabled(app, stripe_provider):
        response = await client.post(url, json={"amount": 1}, headers={**owner, "Idempotency-Key": "k" * 200})
    assert response.status_code == 201, response.text


async def test_owner_refund_note_with_nul(
    app: Litestar,
    client: httpx.AsyncClient,
    stripe_provider: StripeProvider,
    localstripe: LocalStripe,
    backend: str,
) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    booking, owner = await _card_booking(app, client, localstripe, stripe_provider)
    url = f"/v1/owner/reservations/{booking['code']}/refunds"
    with card_enabled(app, stripe_provider):
        response = await client.post(url, json={"amount": 1, "note": "a\u0000b"}, headers={**owner, **key()})
    assert response.status_code in (201, 422), response.text


async def test_payment_start_bad_input(app: Litestar, client: httpx.AsyncClient) -> None:
    _, property_id, room_type_id, _ = await owner_with_account(app, client)
    booking = await book(client, property_id, room_type_id, future(15), future(16))
    url = f"/v1/bookings/{booking['code']}/payments"
    token = {"X-Booking-Token": booking["lookup_token"]}
    for body in ({"method": "cash"}, {"method": None}, {"method": 1}, {}, [], None, {"method": "vietqr", "x": 1}):
        assert_problem(await client.post(url, json=body, headers={**token, **key()}), 400, 422)
    for raw in (b"{", b"", b"\xff", b"[" * 5000):
        response = await client.post(url, content=raw, headers={**token, **key(), "Content-Type": "application/json"})
        assert_problem(response, 400, 422)
    for bad_key in ("x" * 1000, "has spaces", "ключ".encode(), "\t", "x" * 256):
        response = await client.post(url, json={"method": "vietqr"}, headers={**token, "Idempotency-Key": bad_key})
        assert_problem(response, 400, 422)
    assert_problem(await client.post(url, json={"method": "vietqr"}, headers=token), 400)
    assert_problem(
        await client.post(url, json={"method": "vietqr"}, headers={**key(), "X-Booking-Token": "x" * 2000}),
        400,
        404,
        422,
    )
    assert_problem(await client.post(url, json={"method": "vietqr"}, headers={**key(), "X-Booking-Token": "nope"}), 404)
    for code in ("x" * 41, "LC%00AAAA", "%E2%80%AELC", "LC" + "Z" * 38):
        response = await client.post(f"/v1/bookings/{code}/payments", json={"method": "vietqr"}, headers=key())
        assert_problem(response, 400, 404, 422)
    same = key()
    first = await client.post(url, json={"method": "vietqr"}, headers={**token, **same})
    assert first.status_code == 201, first.text
    again = await client.post(url, json={"method": "vietqr"}, headers={**token, **same})
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = await client.post(url, json={"method": "card"}, headers={**token, **same})
    assert_problem(other, 422)
    for path in ("/v1/payments/not-a-uuid/qr.svg", f"/v1/payments/{'0' * 8}-0000-0000-0000-{'0' * 12}/qr.png"):
        assert_problem(await client.get(path), 404)
    confirm = await client.post(f"/v1/bookings/{booking['code']}/payments/confirm", headers={"X-Booking-Token": "x"})
    assert_problem(confirm, 404)
    await check_invariants(app, booking["code"])


async def test_bank_account_bad_input(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, _ = await owner_with_account(app, client)
    url = f"/v1/owner/properties/{property_id}/bank-account"
    before = (await client.get(url, headers=owner)).json()
    bodies: list[Any] = [
        {"bank_bin": "000000", "account_number": "123", "account_name": "A"},
        {"bank_bin": "97043", "account_number": "123", "account_name": "A"},
        {"bank_bin": "970436", "account_number": "12 3", "account_name": "A"},
        {"bank_bin": "970436", "account_number": "١٢٣", "account_name": "A"},
        {"bank_bin": "970436", "account_number": "1" * 20, "account_name": "A"},
        {"bank_bin": "970436", "account_number": "", "account_name": "A"},
        {"bank_bin": "970436", "account_number": "123", "account_name": ""},
        {"bank_bin": "970436", "account_number": "123", "account_name": "A" * 101},
        {"bank_bin": "970436", "account_number": "123", "account_name": BIDI + "NGUYEN"},
        {"bank_bin": "970436", "account_number": "123", "account_name": "NGUYEN\x00VAN"},
        {"bank_bin": "970436", "account_number": "123", "account_name": "NGUYEN\nVAN"},
        {"bank_bin": 970436, "account_number": "123", "account_name": "A"},
        {"bank_bin": "970436", "account_number": 123, "account_name": "A"},
        {"bank_bin": "970436", "account_number": "123"},
        [],
        None,
    ]
    for body in bodies:
        response = await client.put(url, json=body, headers=owner)
        assert_problem(response, 400, 422)
    assert (await client.get(url, headers=owner)).json() == before  # nothing half-written
    _, email = await make_owner(app)
    stranger = bearer((await login(client, email))["access_token"])
    assert_problem(await client.get(url, headers=stranger), 404)
    assert_problem(await client.post(f"{url}/rotate-secret", headers=stranger), 404)


async def test_parked_transfer_endpoints_bad_input(app: Litestar, client: httpx.AsyncClient) -> None:
    owner, property_id, _, secret = await owner_with_account(app, client)
    number = await account_number(client, owner, property_id)
    await notify_transfer(client, secret, account_number=number, amount=5, description="x", transaction_id="FTBAD1")
    base = "/v1/owner/bank-transfers/970436/FTBAD1"
    for body in ({"code": ""}, {"code": "x" * 41}, {"code": None}, {}, [], {"code": "LC000000"}, {"code": BIDI}):
        assert_problem(await client.post(f"{base}/attach", json=body, headers=owner), 400, 404, 422)
    assert_problem(await client.post("/v1/owner/bank-transfers/9704360/FTBAD1/refund", headers=owner), 400, 404, 422)
    assert_problem(
        await client.post(f"/v1/owner/bank-transfers/970436/{'x' * 65}/refund", headers=owner), 400, 404, 422
    )
    assert_problem(await client.post("/v1/owner/bank-transfers/970436/NOPE/refund", headers=owner), 404)
    assert_problem(await client.get("/v1/owner/bank-transfers", params={"status": "zzz"}, headers=owner), 400, 422)
    assert_problem(await client.get("/v1/owner/payouts", params={"status": "zzz"}, headers=owner), 400, 422)
    assert_problem(await client.post(f"/v1/owner/payouts/{'0' * 8}-0000-0000-0000-{'0' * 12}/done", headers=owner), 404)
    listed = (await client.get("/v1/owner/bank-transfers", params={"status": "parked"}, headers=owner)).json()
    assert [t["transaction_id"] for t in listed["items"]] == ["FTBAD1"]


async def stored_transfers(app: Litestar) -> int:
    from sqlalchemy import func, select

    from src.kernel.db import unit_of_work
    from src.payments.models import BankTransfer

    async with unit_of_work(app.state.engine) as session:
        return int((await session.exec(select(func.count()).select_from(BankTransfer))).one()[0])
