"""HTTP endpoints of the guide's events: ``GET /v1/events`` (occurrences in a date range) and the editors'
``/v1/editor/events``. Rules in ``src/guide/calendar.py``."""

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, JSONBody, Parameter, QueryParameter

from src.guide.calendar import EditorEvent, EditorEventService, EventInput, EventService, OccurrencePage
from src.guide.deps import provide_editor_event_service, provide_event_service
from src.kernel.auth.guards import requires_role
from src.kernel.errors import problem_responses

NO_STORE = "no-store"
Slug = Annotated[str, Parameter(max_length=160, description="The event's slug.")]


class EventController(Controller):
    path = "/v1/events"
    tags = ["guide"]
    dependencies = {"service": Provide(provide_event_service)}

    @get("/", responses=problem_responses(400, 422), security=[], cache=True)
    async def list_occurrences(
        self,
        service: NamedDependency[EventService],
        from_date: Annotated[date, QueryParameter(name="from", description="First local date (YYYY-MM-DD).")],
        to_date: Annotated[date, QueryParameter(name="to", description="Last local date (YYYY-MM-DD), ≤ 400 days on.")],
        commune: Annotated[str | None, Parameter(pattern=r"^[0-9]{5}$", description="A 2025 commune code.")] = None,
        destination: Annotated[str | None, Parameter(max_length=160, description="A destination slug.")] = None,
    ) -> OccurrencePage:
        """Occurrences of market days and festivals starting from `from` to `to` (local dates of Vietnam), by
        start: weekly markets from their RFC 5545 rules, festivals from their Vietnamese lunar dates."""
        return await service.between(from_date, to_date, commune=commune, destination=destination)


class EditorEventController(Controller):
    path = "/v1/editor/events"
    tags = ["editor"]
    guards = [requires_role("editor")]
    dependencies = {"service": Provide(provide_editor_event_service)}

    @post("/", responses=problem_responses(400, 401, 403, 413, 422))
    async def create(
        self, service: NamedDependency[EditorEventService], data: JSONBody[EventInput]
    ) -> Response[EditorEvent]:
        """Create an event (201): slug, kind, destination and/or commune, recurrence, texts, source, licence."""
        event, etag = await service.create(data)
        return Response(event, status_code=201, headers={"ETag": etag, "Cache-Control": NO_STORE})

    @get("/{slug:str}", responses=problem_responses(401, 403, 404))
    async def get_event(self, service: NamedDependency[EditorEventService], slug: Slug) -> Response[EditorEvent]:
        """One event with its version in `ETag`."""
        event, etag = await service.get(slug)
        return Response(event, headers={"ETag": etag, "Cache-Control": NO_STORE})

    @patch("/{slug:str}", responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428))
    async def edit(
        self,
        service: NamedDependency[EditorEventService],
        slug: Slug,
        data: JSONBody[EventInput],
        if_match: Annotated[
            str | None, HeaderParameter(name="If-Match", max_length=1000, description="The event's `ETag`; required.")
        ] = None,
    ) -> Response[EditorEvent]:
        """Correct an event at the version `If-Match` names (428 without it, 412 when stale)."""
        event, etag = await service.edit(slug, if_match, data)
        return Response(event, headers={"ETag": etag, "Cache-Control": NO_STORE})
