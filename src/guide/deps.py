"""How the catalogue and editor services are provided to controllers."""

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide.alerts import AlertService, EditorAlertService
from src.guide.calendar import EditorEventService, EventService
from src.guide.content import ContentService, EditorContentService
from src.guide.media import MediaReader, MediaService
from src.guide.offline import OfflinePackService
from src.guide.service import CatalogueService, EditorService
from src.kernel.auth.guards import current_identity
from src.kernel.db import ReadPath
from src.kernel.deps import clock


async def provide_catalogue_service(
    state: State, response_locale: NamedDependency[str]
) -> AsyncIterator[CatalogueService]:
    """A ``CatalogueService`` bound to a reader of the request (``src.kernel.db.ReadPath``, no ORM session) and
    the negotiated locale; the reader's connection goes back to the pool after the response.

    The reader is opened here rather than taken as a second dependency: Litestar resolves two dependencies of one
    level concurrently in an anyio task group, which cost more than the whole indexed read (issue 5 §6).
    """
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield CatalogueService(reader, response_locale)


async def provide_editor_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession], response_locale: NamedDependency[str]
) -> EditorService:
    """An ``EditorService`` on the request's unit of work (committed after the handler), rendering in the
    negotiated locale and purging the app's response cache after a committed edit."""
    return EditorService(session, response_locale, request.app.stores)


async def provide_offline_pack_service(
    state: State, response_locale: NamedDependency[str]
) -> AsyncIterator[OfflinePackService]:
    """An ``OfflinePackService`` on a reader of the request, the writer engine (for a new version's snapshot), the
    negotiated locale and the app's clock."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield OfflinePackService(reader, state.engine, response_locale, clock(state))


async def provide_media_service(
    state: State, session: NamedDependency[AsyncSession], response_locale: NamedDependency[str]
) -> MediaService:
    """A ``MediaService`` on the request's unit of work and the app's media storage (``state.media_storage``)."""
    return MediaService(session, state.media_storage, response_locale)


async def provide_media_reader(state: State, response_locale: NamedDependency[str]) -> AsyncIterator[MediaReader]:
    """A ``MediaReader`` on a reader of the request (no ORM session) and the app's media storage."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield MediaReader(reader, state.media_storage, response_locale)


async def provide_content_service(state: State, response_locale: NamedDependency[str]) -> AsyncIterator[ContentService]:
    """A ``ContentService`` (published articles and tours) on a reader of the request, in the negotiated locale."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield ContentService(reader, response_locale)


async def provide_editor_content_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession], response_locale: NamedDependency[str]
) -> EditorContentService:
    """An ``EditorContentService`` on the request's unit of work, acting as the authenticated editor, purging the
    response caches after a committed publish or archive."""
    return EditorContentService(session, response_locale, current_identity(request).id, request.app.stores)


async def provide_alert_service(state: State, response_locale: NamedDependency[str]) -> AsyncIterator[AlertService]:
    """An ``AlertService`` on a reader of the request, in the negotiated locale, at the app's clock."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield AlertService(reader, response_locale, clock(state))


async def provide_editor_alert_service(
    request: Request[Any, Any, Any], state: State, session: NamedDependency[AsyncSession]
) -> EditorAlertService:
    """An ``EditorAlertService`` on the request's unit of work, acting as the authenticated board member or editor."""
    return EditorAlertService(session, current_identity(request).id, clock(state), request.app.stores)


async def provide_event_service(state: State, response_locale: NamedDependency[str]) -> AsyncIterator[EventService]:
    """An ``EventService`` on a reader of the request, in the negotiated locale."""
    read_path: ReadPath = state.read_path
    async with read_path.connect() as reader:
        yield EventService(reader, response_locale)


async def provide_editor_event_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> EditorEventService:
    """An ``EditorEventService`` on the request's unit of work, as the authenticated editor."""
    return EditorEventService(session, current_identity(request).id, request.app.stores)
