"""The bare floor of ``benches/catalogue.py``: a Litestar app with one route, no middleware, no dependencies.

``create_bare_app()`` serves ``GET /v1/_bench/bare`` with the bytes of the file named by ``LAOCAI_BENCH_BODY_FILE``
(the destination detail as the real app rendered it) and the media type in ``LAOCAI_BENCH_MEDIA_TYPE``. Run it
under the same uvicorn as the real app: ``uvicorn benches.bare_app:create_bare_app --factory``.
"""

import os
from pathlib import Path

from litestar import Litestar, Response, get

BARE_PATH = "/v1/_bench/bare"


def create_bare_app() -> Litestar:
    """One route returning the captured detail bytes from memory (uvicorn factory)."""
    body = Path(os.environ["LAOCAI_BENCH_BODY_FILE"]).read_bytes()
    media_type = os.environ.get("LAOCAI_BENCH_MEDIA_TYPE", "application/json")

    @get(BARE_PATH, include_in_schema=False)
    async def bare() -> Response[bytes]:
        return Response(content=body, media_type=media_type)

    return Litestar(route_handlers=[bare], openapi_config=None)
