"""Server side of ``benches/catalogue.py``: the real application plus a "framework floor" route.

``create_bench_app()`` builds the application exactly as ``laocai serve`` does (``src.app.create_app()`` with the
``LAOCAI_*`` settings, the same middleware, compression, ``before_send`` hook and exception handlers) and registers
one more route, ``GET /v1/_bench/floor`` (under ``/v1/``, so the whole middleware stack, HTTP caching included,
runs). At startup it asks the application itself, in process over ASGI (no network),
once for ``/v1/destinations/cat-cat`` and keeps the body and content type of that response; the floor route then
serves those very bytes from memory, without database, dependencies or serialisation. Serve it with
``uvicorn benches.catalogue_app:create_bench_app --factory --host 127.0.0.1``.
"""

from typing import Any, cast

import httpx
from litestar import Litestar, Response, get

from src.app import create_app

#: The destination detail whose response the floor route replays.
DETAIL_PATH = "/v1/destinations/cat-cat"
#: The framework-floor route added to the real application.
FLOOR_PATH = "/v1/_bench/floor"


class FloorBody:
    """The detail response captured at startup: raw body bytes and ``Content-Type``."""

    def __init__(self) -> None:
        self.body = b""
        self.media_type = "application/json"


def create_bench_app() -> Litestar:
    """The real application with ``GET /v1/_bench/floor`` appended (uvicorn factory)."""
    app = create_app()
    floor = FloorBody()

    async def capture_detail() -> None:
        """Fetch the detail bytes once, through the full app, after every other startup hook has run."""
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers={"accept-encoding": "identity"}
        ) as client:
            response = await client.get(DETAIL_PATH)
        if response.status_code != 200:
            raise RuntimeError(f"bench floor: GET {DETAIL_PATH} answered {response.status_code} at startup")
        floor.body = response.content
        floor.media_type = response.headers["content-type"]

    @get(FLOOR_PATH, include_in_schema=False, security=[])
    async def bench_floor() -> Response[bytes]:
        """The captured detail bytes, straight from memory."""
        return Response(content=floor.body, media_type=floor.media_type)

    app.register(bench_floor)
    app.on_startup.append(capture_detail)
    return app
