"""Server side of ``benches/search.py``: the real application plus a search "framework floor" route.

``create_search_bench_app()`` builds the application exactly as ``laocai serve`` does (``src.app.create_app()`` with
the ``LAOCAI_*`` settings: the same middleware, search engine, search log, jobs and exception handlers) and adds two
bench-only routes under ``/v1/`` (so the whole middleware stack runs for them too):

- ``PUT /v1/_bench/search-floor?path=<a /v1/search path>``: asks the application itself, in process over ASGI (no
  network), for that path once (``Accept-Encoding: identity``) and keeps the body and content type; answers
  ``{"bytes": n, "sha256": ...}`` so the benchmark can check what the floor will replay;
- ``GET /v1/_bench/search-floor``: those very bytes from memory, with no engine, database, dependency or
  serialisation: what the framework and our middleware cost for a response of that size.

Serve it with ``uvicorn benches.search_app:create_search_bench_app --factory --host 127.0.0.1``.
"""

import hashlib
from typing import Annotated, Any, cast

import httpx
from litestar import Litestar, Response, get, put
from litestar.exceptions import HTTPException
from litestar.params import Parameter

from src.app import create_app

FLOOR_PATH = "/v1/_bench/search-floor"
#: Only search responses may be captured (the floor stands for them).
CAPTURABLE = ("/v1/search?", "/v1/search/suggest?")


class FloorBody:
    """The captured response: raw body bytes and ``Content-Type``."""

    def __init__(self) -> None:
        self.body = b""
        self.media_type = "application/json"


def create_search_bench_app() -> Litestar:
    """The real application with the two ``/v1/_bench/search-floor`` routes appended (uvicorn factory)."""
    app = create_app()
    floor = FloorBody()

    @put(FLOOR_PATH, include_in_schema=False, security=[], status_code=200)
    async def capture(path: Annotated[str, Parameter(max_length=4000)]) -> dict[str, object]:
        """Fetch ``path`` once through the full app and keep its bytes for the floor."""
        if not path.startswith(CAPTURABLE):
            raise HTTPException(status_code=400, detail=f"only {CAPTURABLE} paths can be captured")
        transport = httpx.ASGITransport(app=cast(Any, app))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers={"accept-encoding": "identity"}
        ) as client:
            response = await client.get(path)
        if response.status_code != 200:
            raise HTTPException(status_code=502, detail=f"GET {path} answered {response.status_code}")
        floor.body = response.content
        floor.media_type = response.headers["content-type"]
        return {"bytes": len(floor.body), "sha256": hashlib.sha256(floor.body).hexdigest()}

    @get(FLOOR_PATH, include_in_schema=False, security=[])
    async def search_floor() -> Response[bytes]:
        """The captured search response bytes, straight from memory."""
        return Response(content=floor.body, media_type=floor.media_type)

    app.register(capture)
    app.register(search_floor)
    return app
