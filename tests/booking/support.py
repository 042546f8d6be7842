"""Factories for booking tests: an owner's property with room types and an open calendar, straight in the database.

Rows are written through the models in their own unit of work, as an owner's portal edit would leave them; tests
then exercise the API or the services on top. Sa Pa ward (``03006``) is a real 2025 commune of the catalogue.
"""

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

from litestar import Litestar

from src.booking.models import InventoryNight, Property, RoomType
from src.kernel.db import unit_of_work
from src.kernel.localtime import local_today
from tests.kernel.auth_support import make_user

SA_PA = "03006"
#: A point inside Sa Pa ward (its representative point in the shipped communes file, rounded).
SA_PA_POINT = (22.3364, 103.8438)

DEFAULT_TAX_FEES: list[dict[str, Any]] = [
    {"code": "vat", "name": {"vi": "Thuế GTGT", "en": "VAT"}, "kind": "percent", "rate_bp": 800, "included": True},
]
DEFAULT_POLICY: dict[str, Any] = {
    "rules": [{"days_before": 3, "refund_percent": 100}, {"days_before": 1, "refund_percent": 50}],
    "no_show_refund_percent": 0,
}


def future(days: int) -> date:
    """Today in Vietnam plus ``days``."""
    return local_today() + timedelta(days=days)


async def make_owner(app: Litestar) -> tuple[UUID, str]:
    """A user with the owner role; ``(id, email)`` (password ``tests.kernel.auth_support.PASSWORD``)."""
    return await make_user(app, "owner")


async def make_property(
    app: Litestar,
    owner_id: UUID,
    *,
    name: str = "Test Homestay",
    commune_code: str = SA_PA,
    lat: float = SA_PA_POINT[0],
    lon: float = SA_PA_POINT[1],
    tax_fees: list[dict[str, Any]] | None = None,
    policy: dict[str, Any] | None = None,
    **fields: Any,
) -> UUID:
    """A listed property of ``owner_id``; its id."""
    prop = Property(
        owner_id=owner_id,
        name=name,
        kind=fields.pop("kind", "homestay"),
        commune_code=commune_code,
        lat=lat,
        lon=lon,
        check_in_time=fields.pop("check_in_time", time(14, 0)),
        check_out_time=fields.pop("check_out_time", time(12, 0)),
        description=fields.pop("description", {"vi": "Nhà nghỉ thử nghiệm.", "en": "A test homestay."}),
        tax_fees=DEFAULT_TAX_FEES if tax_fees is None else tax_fees,
        cancellation_policy=DEFAULT_POLICY if policy is None else policy,
        **fields,
    )
    async with unit_of_work(app.state.engine) as session:
        session.add(prop)
    return prop.id


async def make_room_type(
    app: Litestar,
    property_id: UUID,
    *,
    name: dict[str, str] | None = None,
    max_adults: int = 2,
    max_children: int = 1,
    max_occupancy: int = 3,
    **fields: Any,
) -> UUID:
    """An active room type of ``property_id``; its id."""
    room_type = RoomType(
        property_id=property_id,
        name=name or {"vi": "Phòng đôi", "en": "Double room"},
        max_adults=max_adults,
        max_children=max_children,
        max_occupancy=max_occupancy,
        beds=fields.pop("beds", [{"type": "double", "count": 1}]),
        ical_secret=secrets.token_urlsafe(32),
        **fields,
    )
    async with unit_of_work(app.state.engine) as session:
        session.add(room_type)
    return room_type.id


async def open_calendar(
    app: Litestar,
    room_type_id: UUID,
    start: date,
    end: date,
    *,
    allotment: int = 1,
    price: int = 900_000,
    **fields: Any,
) -> None:
    """Inventory rows for the nights ``start <= night < end`` with ``allotment`` rooms at ``price`` VND."""
    async with unit_of_work(app.state.engine) as session:
        night = start
        while night < end:
            session.add(
                InventoryNight(room_type_id=room_type_id, night=night, allotment=allotment, price=price, **fields)
            )
            night += timedelta(days=1)


async def bookable_room_type(
    app: Litestar, *, days: int = 60, allotment: int = 1, price: int = 900_000, **room_fields: Any
) -> tuple[UUID, UUID, UUID]:
    """An owner, their property and a room type open for the next ``days`` nights; ``(owner_id, property_id,
    room_type_id)``."""
    owner_id, _ = await make_owner(app)
    property_id = await make_property(app, owner_id)
    room_type_id = await make_room_type(app, property_id, **room_fields)
    await open_calendar(app, room_type_id, future(0), future(days), allotment=allotment, price=price)
    return owner_id, property_id, room_type_id


@dataclass
class FeedServer:
    """A real HTTP server on 127.0.0.1 serving ``body`` at ``/feed.ics`` (``/moved`` redirects there) with
    ``status``, and a strong ``ETag`` honoured in ``If-None-Match`` (304) unless ``etags`` is off. ``requests``
    holds each request's headers (lower-case names)."""

    body: bytes = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Feed//EN\r\nEND:VCALENDAR\r\n"
    etags: bool = True
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/feed.ics"


@contextmanager
def serve_feed() -> Iterator[FeedServer]:
    """A ``FeedServer`` running in a thread for the block (an iCal channel as a real peer, not a mock)."""
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append({k.lower(): v for k, v in self.headers.items()})
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/feed.ics")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            tag = '"' + hashlib.sha256(state.body).hexdigest()[:16] + '"'
            if state.etags and self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            self.send_response(state.status)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(state.body)))
            if state.etags:
                self.send_header("ETag", tag)
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
