"""Dependencies shared by every domain: the request's unit of work, its reader and its negotiated locale."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.params import Parameter
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.db import Reader, ReadPath, unit_of_work, utcnow
from src.kernel.i18n import SUPPORTED_LOCALES, negotiate

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_session(state: State, request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed after the handler returns, rolled back on any error.

    Reads use the read engine (on SQLite a deferred ``BEGIN``, so readers never wait for the write lock).
    """
    engine = state.read_engine if request.method in _READ_METHODS else state.engine
    async with unit_of_work(engine) as session:
        yield session


async def provide_reader(state: State) -> AsyncIterator[Reader]:
    """The request's ``Reader`` (``src.kernel.db.ReadPath``): Core SELECTs without an ORM session, for read-only
    routes."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield reader


async def provide_locale(
    request: Request[Any, Any, Any],
    lang: Annotated[
        str | None,
        Parameter(
            description=(
                "Response language, a BCP 47 tag; wins over Accept-Language. Served: "
                + ", ".join(SUPPORTED_LOCALES)
                + " (zh, zh-CN, zh-Hant, zh-TW map to zh-Hans; en-US to en)."
            ),
        ),
    ] = None,
) -> str:
    """The locale negotiated by ``LocaleMiddleware`` (``?lang=`` over ``Accept-Language``, default ``vi``).

    ``lang`` is declared here so that it is documented; the middleware has already refused an unserved one (422).
    It carries no constraint of its own: a failed check here would cancel the session dependency resolved beside
    it mid-start (Litestar resolves a batch of dependencies concurrently).
    """
    locale = request.state.get("locale")
    return locale if isinstance(locale, str) else negotiate(lang, request.headers.get("accept-language"))


def clock(state: State) -> datetime:
    """The current instant (aware UTC) as the app tells it: ``state.clock`` when set (tests travel in time),
    else the system clock."""
    now = state.get("clock")
    return now() if callable(now) else utcnow()
