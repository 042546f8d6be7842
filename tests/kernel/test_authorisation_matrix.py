"""The authorisation matrix: every protected endpoint × every kind of caller, each cell the exact status.

Callers: anonymous, a tourist, owner A, owner B, an editor, a board analyst, an admin (each a real account logged
in over HTTP). The test enumerates the app's routes, so a protected route missing from ``MATRIX`` fails it, as does
a route that is public without being listed in ``PUBLIC_ROUTES``. Later issues add their rows here.

Path placeholders: ``{session_id}`` is owner A's login session, ``{user_id}`` the tourist's account, ``{slug}``
and ``{code}`` real catalogue keys (``VALUES`` maps ``{code}`` to a reservation code on booking rows),
``{room_type_id}`` and ``{calendar_id}`` owner A's room type and one of its
channel calendars (its feed served by a loopback server; ``VALUES`` gives the DELETE row a calendar of its own).
Payments: owner A's property has a receiving account; ``{bank_bin}``/``{transaction_id}`` name parked bank
transfers at it (one per row that resolves one), ``{refund_id}`` a pending payout of owner A, ``{payment_id}`` a
VietQR payment. Webhooks and QR images are public (their signature, or the random payment id, is the credential):
``test_webhooks_never_need_a_login`` and ``test_qr_images_are_public`` check them for every caller.
Ownership rule: someone else's resource is a 404 (admins included: a session is its owner's alone).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from src.booking.models import ChannelCalendar
from src.kernel.auth import backend
from src.kernel.db import unit_of_work, utcnow
from src.payments import transfers
from src.payments.stripe import sign
from tests.booking.support import future, make_property, make_room_type, open_calendar, serve_feed
from tests.kernel.auth_support import bearer, login, make_user

CALLERS = ("anonymous", "tourist", "owner_a", "owner_b", "editor", "board", "admin")
ROLES = {
    "tourist": "tourist",
    "owner_a": "owner",
    "owner_b": "owner",
    "editor": "editor",
    "board": "board",
    "admin": "admin",
}

# fmt: off
#: (method, path): expected status for    anonymous tourist owner_a owner_b editor board admin
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET",    "/v1/auth/me"):                      (401, 200, 200, 200, 200, 200, 200),
    ("PATCH",  "/v1/auth/me/profile"):              (401, 200, 200, 200, 200, 200, 200),
    ("GET",    "/v1/auth/sessions"):                (401, 200, 200, 200, 200, 200, 200),
    ("DELETE", "/v1/auth/sessions/{session_id}"):   (401, 404, 204, 404, 404, 404, 404),
    ("GET",    "/v1/admin/users"):                  (401, 403, 403, 403, 403, 403, 200),
    ("PUT",    "/v1/admin/users/{user_id}/roles"):  (401, 403, 403, 403, 403, 403, 200),
    ("GET",    "/v1/editor/destinations/{slug}"):   (401, 403, 403, 403, 200, 403, 403),
    ("POST",   "/v1/editor/destinations"):          (401, 403, 403, 403, 201, 403, 403),
    # No If-Match here: an editor passes the guard and meets the precondition rule (428), so nothing is changed.
    ("PATCH",  "/v1/editor/destinations/{slug}"):   (401, 403, 403, 403, 428, 403, 403),
    # Media upload: sent without a multipart form here, so an editor passes the guard and meets a 422 (nothing stored).
    ("POST",   "/v1/editor/media"):                 (401, 403, 403, 403, 422, 403, 403),
    # Articles and tours: editors only ({slug} names no item: a read is 404; a write without If-Match is 428).
    ("GET",    "/v1/editor/articles"):                                      (401, 403, 403, 403, 200, 403, 403),
    ("POST",   "/v1/editor/articles"):                                      (401, 403, 403, 403, 201, 403, 403),
    ("GET",    "/v1/editor/articles/{slug}"):                               (401, 403, 403, 403, 404, 403, 403),
    ("GET",    "/v1/editor/articles/{slug}/history"):                       (401, 403, 403, 403, 404, 403, 403),
    ("PATCH",  "/v1/editor/articles/{slug}"):                               (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/articles/{slug}/submit"):                        (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/articles/{slug}/request-changes"):               (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/articles/{slug}/publish"):                       (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/articles/{slug}/archive"):                       (401, 403, 403, 403, 428, 403, 403),
    ("GET",    "/v1/editor/tours"):                                      (401, 403, 403, 403, 200, 403, 403),
    ("POST",   "/v1/editor/tours"):                                      (401, 403, 403, 403, 201, 403, 403),
    ("GET",    "/v1/editor/tours/{slug}"):                               (401, 403, 403, 403, 404, 403, 403),
    ("GET",    "/v1/editor/tours/{slug}/history"):                       (401, 403, 403, 403, 404, 403, 403),
    ("PATCH",  "/v1/editor/tours/{slug}"):                               (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/tours/{slug}/submit"):                        (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/tours/{slug}/request-changes"):               (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/tours/{slug}/publish"):                       (401, 403, 403, 403, 428, 403, 403),
    ("POST",   "/v1/editor/tours/{slug}/archive"):                       (401, 403, 403, 403, 428, 403, 403),
    # Alerts: the board and editors ({alert_id} names no alert: a read is 404, a write without If-Match 428).
    ("GET",    "/v1/editor/alerts"):                                     (401, 403, 403, 403, 200, 200, 403),
    ("POST",   "/v1/editor/alerts"):                                     (401, 403, 403, 403, 201, 201, 403),
    ("GET",    "/v1/editor/alerts/{alert_id}"):                          (401, 403, 403, 403, 404, 404, 403),
    ("PATCH",  "/v1/editor/alerts/{alert_id}"):                          (401, 403, 403, 403, 428, 428, 403),
    ("POST",   "/v1/editor/alerts/{alert_id}/withdraw"):                 (401, 403, 403, 403, 428, 428, 403),
    # Events: editors only ({slug} names no event: a read is 404, a write without If-Match 428).
    ("POST",   "/v1/editor/events"):                                     (401, 403, 403, 403, 201, 403, 403),
    ("GET",    "/v1/editor/events/{slug}"):                              (401, 403, 403, 403, 404, 403, 403),
    ("PATCH",  "/v1/editor/events/{slug}"):                              (401, 403, 403, 403, 428, 403, 403),
    ("GET",    "/v1/board/search/zero-results"):    (401, 403, 403, 403, 403, 200, 403),
    ("GET",    "/v1/owner/room-types/{room_type_id}/ical"):              (401, 403, 200, 404, 403, 403, 403),
    ("POST",   "/v1/owner/room-types/{room_type_id}/ical/rotate"):       (401, 403, 200, 404, 403, 403, 403),
    ("GET",    "/v1/owner/room-types/{room_type_id}/channel-calendars"): (401, 403, 200, 404, 403, 403, 403),
    ("POST",   "/v1/owner/room-types/{room_type_id}/channel-calendars"): (401, 403, 201, 404, 403, 403, 403),
    ("DELETE", "/v1/owner/channel-calendars/{calendar_id}"):             (401, 403, 204, 404, 403, 403, 403),
    ("POST",   "/v1/owner/channel-calendars/{calendar_id}/sync"):        (401, 403, 200, 404, 403, 403, 403),
    # Bookings: anyone may book (with an Idempotency-Key, keys scoped per caller); the guest's booking is seen by
    # its booker (the tourist) and the property's owner only, the token being absent here.
    ("POST",   "/v1/bookings"):                                          (201, 201, 201, 201, 201, 201, 201),
    ("GET",    "/v1/bookings/{code}"):                                   (404, 200, 200, 404, 404, 404, 404),
    ("POST",   "/v1/bookings/{code}/cancel"):                            (404, 200, 200, 404, 404, 404, 404),
    # Owner portal: owner B meets owner A's resources as missing ones; lists are each owner's own.
    ("GET",    "/v1/owner/properties"):                                  (401, 403, 200, 200, 403, 403, 403),
    ("POST",   "/v1/owner/properties"):                                  (401, 403, 201, 201, 403, 403, 403),
    ("GET",    "/v1/owner/properties/{property_id}"):                    (401, 403, 200, 404, 403, 403, 403),
    ("PATCH",  "/v1/owner/properties/{property_id}"):                    (401, 403, 428, 404, 403, 403, 403),
    # The property has reservations: owner A is told to unlist it (409), nothing is deleted.
    ("DELETE", "/v1/owner/properties/{property_id}"):                    (401, 403, 409, 404, 403, 403, 403),
    ("POST",   "/v1/owner/properties/{property_id}/room-types"):         (401, 403, 201, 404, 403, 403, 403),
    ("POST",   "/v1/owner/properties/{property_id}/walk-ins"):           (401, 403, 201, 404, 403, 403, 403),
    ("GET",    "/v1/owner/room-types/{room_type_id}"):                   (401, 403, 200, 404, 403, 403, 403),
    ("PATCH",  "/v1/owner/room-types/{room_type_id}"):                   (401, 403, 428, 404, 403, 403, 403),
    ("DELETE", "/v1/owner/room-types/{room_type_id}"):                   (401, 403, 409, 404, 403, 403, 403),
    ("GET",    "/v1/owner/room-types/{room_type_id}/calendar"):          (401, 403, 200, 404, 403, 403, 403),
    ("PATCH",  "/v1/owner/room-types/{room_type_id}/calendar"):          (401, 403, 200, 404, 403, 403, 403),
    ("GET",    "/v1/owner/reservations"):                                (401, 403, 200, 200, 403, 403, 403),
    ("GET",    "/v1/owner/reservations.csv"):                            (401, 403, 200, 200, 403, 403, 403),
    ("GET",    "/v1/owner/reservations/{code}"):                         (401, 403, 200, 404, 403, 403, 403),
    ("POST",   "/v1/owner/reservations/{code}/check-in"):                (401, 403, 200, 404, 403, 403, 403),
    ("POST",   "/v1/owner/reservations/{code}/no-show"):                 (401, 403, 200, 404, 403, 403, 403),
    # Paying a booking: its booker (the tourist) and the property's owner, as for reading it (an admin meets a
    # missing booking: paying for a guest is not an admin's business); no booking token here; an Idempotency-Key
    # per caller. The test app has no Stripe keys: the rows pay by VietQR, and "I paid" reads the state back.
    ("POST",   "/v1/bookings/{code}/payments"):                          (404, 201, 201, 404, 404, 404, 404),
    ("POST",   "/v1/bookings/{code}/payments/confirm"):                  (404, 200, 200, 404, 404, 404, 404),
    # Refunds by hand: the property's owner or an admin (any reservation); owner B meets a missing reservation.
    ("GET",    "/v1/owner/reservations/{code}/refunds"):                 (401, 403, 200, 404, 403, 403, 200),
    ("POST",   "/v1/owner/reservations/{code}/refunds"):                 (401, 403, 201, 404, 403, 403, 201),
    # Receiving accounts, bank transfers and payouts: owners only, each their own.
    ("GET",    "/v1/owner/properties/{property_id}/bank-account"):               (401, 403, 200, 404, 403, 403, 403),
    ("PUT",    "/v1/owner/properties/{property_id}/bank-account"):               (401, 403, 200, 404, 403, 403, 403),
    ("POST",   "/v1/owner/properties/{property_id}/bank-account/rotate-secret"): (401, 403, 200, 404, 403, 403, 403),
    ("GET",    "/v1/owner/bank-transfers"):                                      (401, 403, 200, 200, 403, 403, 403),
    ("POST",   "/v1/owner/bank-transfers/{bank_bin}/{transaction_id}/attach"):   (401, 403, 200, 404, 403, 403, 403),
    ("POST",   "/v1/owner/bank-transfers/{bank_bin}/{transaction_id}/refund"):   (401, 403, 200, 404, 403, 403, 403),
    ("GET",    "/v1/owner/payouts"):                                             (401, 403, 200, 200, 403, 403, 403),
    ("POST",   "/v1/owner/payouts/{refund_id}/done"):                            (401, 403, 200, 404, 403, 403, 403),
}
# fmt: on

#: Routes anyone may call without a token (``security=[]``), listed so that making a route public is deliberate.
PUBLIC_ROUTES: set[tuple[str, str]] = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/v1/destinations"),
    ("GET", "/v1/destinations/{slug}"),
    ("GET", "/v1/map/features"),
    ("GET", "/v1/communes"),
    ("GET", "/v1/communes/{code}"),
    ("GET", "/v1/offline-packs/{area}"),
    ("GET", "/v1/alerts"),
    ("GET", "/v1/events"),
    ("GET", "/v1/destinations/{slug}/hours"),
    ("GET", "/v1/articles"),
    ("GET", "/v1/articles/{slug}"),
    ("GET", "/v1/tours"),
    ("GET", "/v1/tours/{slug}"),
    ("GET", "/v1/destinations/{slug}/qr.svg"),
    ("GET", "/v1/destinations/{slug}/qr.png"),
    ("GET", "/v1/search"),
    ("GET", "/v1/search/suggest"),
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/ical/{secret}"),
    ("GET", "/v1/properties"),
    ("GET", "/v1/properties/{property_id}"),
    # Guide media: published images and narrations (content-addressed files) are public.
    ("GET", "/v1/media/{media_id}"),
    ("GET", "/v1/media/files/{file_hash}"),
    # Payments: the random payment id is the capability of its QR images; webhooks are signed instead.
    ("GET", "/v1/payments/{payment_id}/qr.svg"),
    ("GET", "/v1/payments/{payment_id}/qr.png"),
    ("POST", "/v1/webhooks/stripe"),
    ("POST", "/v1/webhooks/bank-transfer"),
}

#: Owner A's receiving account (Vietcombank's BIN, from the NAPAS list).
BANK_ACCOUNT = {"bank_bin": "970436", "account_number": "0071000123456", "account_name": "NGUYEN VAN MATRIX"}

#: Request bodies of the matrix's writes (valid ones, so that the status says who may, not what was sent).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/bookings"): "booking",  # filled in by the world fixture (ids and dates)
    ("POST", "/v1/owner/properties/{property_id}/walk-ins"): "walk_in",
    ("POST", "/v1/owner/properties"): {
        "name": "Matrix Homestay",
        "kind": "homestay",
        "commune": "03006",
        "location": {"lat": 22.3364, "lon": 103.8438},
    },
    ("POST", "/v1/owner/properties/{property_id}/room-types"): {"name": {"vi": "Phòng đôi"}},
    ("PATCH", "/v1/owner/properties/{property_id}"): {"name": "Renamed"},
    ("PATCH", "/v1/owner/room-types/{room_type_id}"): {"max_adults": 2},
    ("PATCH", "/v1/owner/room-types/{room_type_id}/calendar"): "calendar",
    ("PATCH", "/v1/auth/me/profile"): {"locale": "en"},
    ("PUT", "/v1/admin/users/{user_id}/roles"): {"roles": ["tourist"]},
    ("PATCH", "/v1/editor/destinations/{slug}"): {"name": "Phan Xi Păng"},
    ("POST", "/v1/editor/alerts"): "alert",
    ("POST", "/v1/editor/destinations"): {
        "kind": "viewpoint",
        "name": "Điểm ngắm ma trận",
        "location": {"lat": 22.3364, "lon": 103.8438},
        "commune": "03006",
        "source": "matrix",
        "licence": "CC BY 4.0",
    },
    ("POST", "/v1/editor/events"): {
        "slug": "matrix-market",
        "kind": "market",
        "commune": "03006",
        "recurrence": {"type": "rrule", "rule": "FREQ=WEEKLY;BYDAY=SU", "start_date": "2026-01-04"},
        "translations": {"vi": {"title": "Chợ ma trận"}},
        "source": "matrix",
        "licence": "matrix",
    },
    ("PATCH", "/v1/editor/events/{slug}"): {"kind": "market"},
    ("PATCH", "/v1/editor/alerts/{alert_id}"): {"severity": "minor"},
    ("POST", "/v1/editor/articles"): {"translations": {"vi": {"title": "Bài viết ma trận"}}},
    ("POST", "/v1/editor/tours"): {"translations": {"vi": {"title": "Tuyến ma trận"}}},
    ("PATCH", "/v1/editor/articles/{slug}"): {"topics": ["food"]},
    ("PATCH", "/v1/editor/tours/{slug}"): {"topics": ["trekking"]},
    ("POST", "/v1/owner/room-types/{room_type_id}/channel-calendars"): {
        "name": "Airbnb",
        "url": "https://www.airbnb.com/calendar/ical/1.ics",
    },
    ("POST", "/v1/bookings/{code}/payments"): {"method": "vietqr"},
    ("POST", "/v1/owner/reservations/{code}/refunds"): {"amount": 1_000, "note": "matrix"},
    ("PUT", "/v1/owner/properties/{property_id}/bank-account"): BANK_ACCOUNT,
    ("POST", "/v1/owner/bank-transfers/{bank_bin}/{transaction_id}/attach"): "attach",
}

#: Placeholders that take another world value for one row (the DELETE must not remove the calendar others use).
VALUES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/bookings/{code}"): {"code": "booking_code"},
    ("POST", "/v1/bookings/{code}/cancel"): {"code": "cancel_code"},
    ("GET", "/v1/owner/reservations/{code}"): {"code": "booking_code"},
    ("POST", "/v1/owner/reservations/{code}/check-in"): {"code": "check_in_code"},
    ("POST", "/v1/owner/reservations/{code}/no-show"): {"code": "no_show_code"},
    ("DELETE", "/v1/owner/channel-calendars/{calendar_id}"): {"calendar_id": "spare_calendar_id"},
    ("POST", "/v1/bookings/{code}/payments"): {"code": "pay_code"},
    ("POST", "/v1/bookings/{code}/payments/confirm"): {"code": "pay_code"},
    ("GET", "/v1/owner/reservations/{code}/refunds"): {"code": "paid_code"},
    ("POST", "/v1/owner/reservations/{code}/refunds"): {"code": "paid_code"},
    ("POST", "/v1/owner/bank-transfers/{bank_bin}/{transaction_id}/attach"): {"transaction_id": "attach_txn"},
    ("POST", "/v1/owner/bank-transfers/{bank_bin}/{transaction_id}/refund"): {"transaction_id": "send_back_txn"},
}


def app_routes(app: Litestar) -> dict[tuple[str, str], str]:
    """``(method, path template) -> public|optional|required`` for every documented-or-not HTTP route but the
    automatic OPTIONS ones and the OpenAPI document's own."""
    found: dict[tuple[str, str], str] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method == "OPTIONS":
                    continue
                found[(method, route.path_format)] = backend.route_access(handler)
    return found


def test_every_protected_route_is_in_the_matrix(app: Litestar) -> None:
    routes = app_routes(app)
    protected = {key for key, access in routes.items() if access != backend.PUBLIC}
    public = {key for key, access in routes.items() if access == backend.PUBLIC}
    assert sorted(protected - set(MATRIX)) == [], "protected routes missing from MATRIX"
    assert sorted(set(MATRIX) - protected) == [], "MATRIX rows for routes that do not exist or are public"
    assert sorted(public ^ PUBLIC_ROUTES) == [], "public routes differ from PUBLIC_ROUTES"
    assert all(len(row) == len(CALLERS) for row in MATRIX.values())


def test_every_editor_route_has_a_role_guard(app: Litestar) -> None:
    """Every route under ``/v1/editor/`` (the guide's helpers add theirs) carries a ``requires_role`` guard, on the
    handler or a layer above it: logging in is not enough to edit content or publish alerts."""
    unguarded, editor_routes = [], 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v1/editor/"):
            continue
        for handler in route.route_handlers:
            methods = sorted(set(handler.http_methods) - {"OPTIONS"})
            if not methods:
                continue
            editor_routes += 1
            guards = [guard for layer in handler.ownership_layers for guard in layer.guards or ()]
            roles = [getattr(guard, "required_roles", None) for guard in guards]
            if backend.route_access(handler) == backend.PUBLIC or not any(roles):
                unguarded.append((methods, route.path_format))
    assert editor_routes >= 20  # destinations, media, articles, tours, alerts, events
    assert unguarded == []


#: Extra request headers per row (writes with inventory or money effects need an Idempotency-Key; one per caller).
NEEDS_KEY = {
    ("POST", "/v1/bookings"),
    ("POST", "/v1/owner/properties/{property_id}/walk-ins"),
    ("POST", "/v1/bookings/{code}/payments"),
    ("POST", "/v1/owner/reservations/{code}/refunds"),
}


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    values: dict[str, str]
    bodies: dict[str, Any]


@pytest.fixture(scope="module")
def feed_url(app: Litestar) -> Iterator[str]:
    """A channel feed on a loopback server, importable for this module (private hosts allowed meanwhile)."""
    with serve_feed() as feed, pytest.MonkeyPatch.context() as patch:
        patch.setattr(app.state.settings, "channel_allow_private_hosts", True)
        yield feed.url


@pytest.fixture(scope="module")
async def world(app: Litestar, client: httpx.AsyncClient, feed_url: str) -> World:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    ids: dict[str, str] = {}
    for caller, role in ROLES.items():
        user_id, email = await make_user(app, role)
        ids[caller] = str(user_id)
        headers[caller] = bearer((await login(client, email))["access_token"])
    sessions = (await client.get("/v1/auth/sessions", headers=headers["owner_a"])).json()
    property_id = await make_property(app, UUID(ids["owner_a"]))
    room_type_id = await make_room_type(app, property_id)
    await open_calendar(app, room_type_id, future(0), future(30), allotment=30)
    booking = {
        "property_id": str(property_id),
        "room_type_id": str(room_type_id),
        "check_in": future(5).isoformat(),
        "check_out": future(6).isoformat(),
        "guest": {"name": "Matrix Guest", "email": "guest@example.org", "nationality": "VN"},
    }
    tonight = {
        "room_type_id": str(room_type_id),
        "check_in": future(0).isoformat(),
        "check_out": future(1).isoformat(),
        "guest": {"name": "Walk-in Guest", "nationality": "VN"},
    }
    codes = {}
    for name, url, body, caller in [
        ("booking_code", "/v1/bookings", booking, "tourist"),
        ("cancel_code", "/v1/bookings", booking, "tourist"),
        ("check_in_code", f"/v1/owner/properties/{property_id}/walk-ins", tonight, "owner_a"),
        ("no_show_code", f"/v1/owner/properties/{property_id}/walk-ins", tonight, "owner_a"),
    ]:
        made = await client.post(url, json=body, headers={**headers[caller], "Idempotency-Key": str(uuid4())})
        assert made.status_code == 201, made.text
        codes[name] = made.json()["code"]
    calendars = [ChannelCalendar(room_type_id=room_type_id, name=name, url=f"{feed_url}?c={name}") for name in "ab"]
    async with unit_of_work(app.state.engine) as session:
        session.add_all(calendars)
    payments = await payments_world(app, client, headers, property_id, booking)
    return World(
        headers=headers,
        values={
            "session_id": sessions[0]["id"],
            "user_id": ids["tourist"],
            "slug": "fansipan",
            "code": "03006",
            "alert_id": "2147483000",
            "room_type_id": str(room_type_id),
            "calendar_id": str(calendars[0].id),
            "spare_calendar_id": str(calendars[1].id),
            "property_id": str(property_id),
            **codes,
            **payments,
        },
        bodies={
            "booking": booking,
            "walk_in": tonight,
            "calendar": {"start": future(1).isoformat(), "end": future(8).isoformat(), "price": 950_000},
            "attach": {"code": payments["attach_code"]},
            "alert": {
                "category": "weather",
                "severity": "moderate",
                "valid_from": utcnow().isoformat(),
                "valid_until": (utcnow() + timedelta(days=1)).isoformat(),
                "communes": ["03006"],
                "translations": {"vi": {"headline": "Sương muối trên đèo"}},
            },
        },
    )


def bank_notice(transaction_id: str, amount: int, memo: str) -> bytes:
    """A bank-feed notice of a transfer to owner A's receiving account, made now."""
    notice = {
        "transaction_id": transaction_id,
        "bank_bin": BANK_ACCOUNT["bank_bin"],
        "account_number": BANK_ACCOUNT["account_number"],
        "amount": amount,
        "currency": "VND",
        "description": memo,
        "transacted_at": utcnow().isoformat(),
    }
    return msgspec.json.encode(notice)


async def receive_notice(app: Litestar, payload: bytes, secret: str) -> dict[str, Any]:
    """Feed one signed notice to the bank-feed service (not over HTTP: the webhook's own access is under test)."""
    async with unit_of_work(app.state.engine) as session:
        tolerance = app.state.settings.bank_feed_tolerance_seconds
        return await transfers.receive(session, payload, sign(payload, secret), tolerance=tolerance, now=utcnow())


async def payments_world(
    app: Litestar, client: httpx.AsyncClient, headers: dict[str, dict[str, str]], property_id: UUID, booking: Any
) -> dict[str, str]:
    """Owner A's receiving account; a held booking to pay (``pay_code``, with a VietQR payment), one paid by a
    matched transfer (``paid_code``), one to attach a transfer to (``attach_code``); parked transfers for the
    attach and refund rows, and a pending payout (a parked transfer sent back)."""
    owner = headers["owner_a"]
    account = await client.put(f"/v1/owner/properties/{property_id}/bank-account", json=BANK_ACCOUNT, headers=owner)
    assert account.status_code == 200, account.text
    secret = account.json()["feed_secret"]
    values: dict[str, str] = {"bank_bin": BANK_ACCOUNT["bank_bin"]}
    totals: dict[str, int] = {}
    for name in ("pay_code", "paid_code", "attach_code"):
        made = await client.post(
            "/v1/bookings", json=booking, headers={**headers["tourist"], "Idempotency-Key": str(uuid4())}
        )
        assert made.status_code == 201, made.text
        values[name] = made.json()["code"]
        totals[name] = made.json()["price"]["total"]["amount"]
    started = await client.post(
        f"/v1/bookings/{values['pay_code']}/payments",
        json={"method": "vietqr"},
        headers={**headers["tourist"], "Idempotency-Key": str(uuid4())},
    )
    assert started.status_code == 201, started.text
    values["payment_id"] = started.json()["payment_id"]
    paid = await receive_notice(app, bank_notice(uuid4().hex, totals["paid_code"], values["paid_code"]), secret)
    assert paid["status"] == "confirmed", paid
    for name in ("attach_txn", "send_back_txn", "payout_txn"):
        values[name] = uuid4().hex
        parked = await receive_notice(app, bank_notice(values[name], 50_000, "chuyen tien phong"), secret)
        assert parked["status"] == "parked", parked
    sent_back = await client.post(
        f"/v1/owner/bank-transfers/{values['bank_bin']}/{values['payout_txn']}/refund", headers=owner
    )
    assert sent_back.status_code == 200, sent_back.text
    values["refund_id"] = sent_back.json()["payout"]["id"]
    return values


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_matrix(client: httpx.AsyncClient, world: World, method: str, path: str) -> None:
    values = {**world.values, **{name: world.values[key] for name, key in VALUES.get((method, path), {}).items()}}
    url = path.format(**values)
    body = BODIES.get((method, path))
    if isinstance(body, str):
        body = world.bodies[body]
    got = {}
    for caller in CALLERS:
        headers = dict(world.headers[caller])
        if (method, path) in NEEDS_KEY:
            headers["Idempotency-Key"] = str(uuid4())
        response = await client.request(method, url, headers=headers, json=body)
        got[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), (caller, response.text)
    expected = dict(zip(CALLERS, MATRIX[(method, path)], strict=True))
    assert got == expected


#: Every caller of the matrix plus one whose bearer token is garbage: a public route reads no token at all.
BEARERS = (*CALLERS, "bad_token")


def caller_headers(world: World, caller: str) -> dict[str, str]:
    return bearer("not-a-jwt") if caller == "bad_token" else dict(world.headers[caller])


@pytest.mark.parametrize(
    ("path", "signature_header"),
    [("/v1/webhooks/stripe", "Stripe-Signature"), ("/v1/webhooks/bank-transfer", transfers.SIGNATURE_HEADER)],
)
async def test_webhooks_never_need_a_login(
    client: httpx.AsyncClient, world: World, path: str, signature_header: str
) -> None:
    """A provider never logs in: an unsigned or badly signed call is a 400 ``invalid_signature`` for every caller
    (no Authorization, any account, a garbage token), never a 401 or 403."""
    payload = bank_notice(uuid4().hex, 50_000, "chuyen tien phong")  # well-formed, so the signature is what fails
    got = {}
    for caller in BEARERS:
        for signature in (None, "t=1,v1=00"):
            headers = {**caller_headers(world, caller), "Content-Type": "application/json"}
            if signature is not None:
                headers[signature_header] = signature
            response = await client.post(path, content=payload, headers=headers)
            assert response.headers["content-type"].startswith("application/problem+json"), (caller, response.text)
            got[(caller, signature)] = (response.status_code, response.json().get("code"))
    assert got == dict.fromkeys(got, (400, "invalid_signature"))


async def test_signed_bank_notice_needs_no_login(client: httpx.AsyncClient, world: World) -> None:
    """A correctly signed bank-feed notice without any Authorization is accepted (parked: its memo names no
    booking); the feed secret is rotated here, so the notice is signed with the one just shown."""
    rotated = await client.post(
        f"/v1/owner/properties/{world.values['property_id']}/bank-account/rotate-secret",
        headers=world.headers["owner_a"],
    )
    assert rotated.status_code == 200, rotated.text
    payload = bank_notice(uuid4().hex, 50_000, "chuyen tien phong")
    signature = sign(payload, rotated.json()["feed_secret"])
    response = await client.post(
        "/v1/webhooks/bank-transfer",
        content=payload,
        headers={transfers.SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "parked", "reason": "unmatched", "reservation": None}


@pytest.mark.parametrize(("suffix", "media_type"), [("qr.svg", "image/svg+xml"), ("qr.png", "image/png")])
async def test_qr_images_are_public(client: httpx.AsyncClient, world: World, suffix: str, media_type: str) -> None:
    """The QR image of a VietQR payment is served to anyone holding its (random) payment id, whoever they are; an
    unknown id is a 404 problem for everyone, never a 401."""
    got = {}
    for caller in BEARERS:
        headers = caller_headers(world, caller)
        known = await client.get(f"/v1/payments/{world.values['payment_id']}/{suffix}", headers=headers)
        unknown = await client.get(f"/v1/payments/{uuid4()}/{suffix}", headers=headers)
        got[caller] = (known.status_code, known.headers["content-type"].split(";")[0], unknown.status_code)
        assert unknown.headers["content-type"].startswith("application/problem+json"), (caller, unknown.text)
    assert got == dict.fromkeys(BEARERS, (200, media_type, 404))
