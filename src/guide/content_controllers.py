"""HTTP endpoints of the guide's articles and tours: the public reading API and the editors' workflow.

Public (``security=[]``; ETag/304 and gzip from the kernel's caching middleware): ``GET /v1/articles``,
``/v1/articles/{slug}``, ``/v1/tours``, ``/v1/tours/{slug}`` (published only). Editors (role ``editor``,
``Cache-Control: no-store``): ``/v1/editor/articles`` and ``/v1/editor/tours`` with drafts, edits under ``If-Match``,
the workflow steps and the history. Rules in ``src/guide/content.py``.
"""

from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, JSONBody, Parameter

from src.guide.content import ContentFilter, ContentService, EditorContentService
from src.guide.content_schemas import (
    ArticleView,
    EditorItem,
    EditorItemPage,
    ItemCreate,
    ItemFields,
    ItemHistory,
    ItemPage,
    TourView,
    WorkflowNote,
)
from src.guide.deps import provide_content_service, provide_editor_content_service
from src.guide.models import ContentKind
from src.kernel.auth.guards import requires_role
from src.kernel.errors import problem_responses
from src.kernel.pagination import DEFAULT_LIMIT, MAX_LIMIT

NO_STORE = "no-store"
Slug = Annotated[str, Parameter(max_length=160, description="The item's slug.")]
Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT}).")]
Cursor = Annotated[str | None, Parameter(max_length=512, description="`next_cursor` of the previous page.")]
Destination = Annotated[str | None, Parameter(max_length=160, description="Only items naming this destination.")]
Commune = Annotated[str | None, Parameter(pattern=r"^[0-9]{5}$", description="Only items tagged with this commune.")]
People = Annotated[str | None, Parameter(max_length=32, description="Only items about this people (code).")]
Topic = Annotated[str | None, Parameter(max_length=32, description="Only items of this topic (code).")]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=1000,
        description="The `ETag` of the version this write applies to (RFC 9110 §13.1.1); required.",
    ),
]


class ArticleController(Controller):
    path = "/v1/articles"
    tags = ["guide"]
    dependencies = {"service": Provide(provide_content_service)}

    @get("/", responses=problem_responses(400, 422), security=[], cache=True)
    async def list_articles(
        self,
        service: NamedDependency[ContentService],
        destination: Destination = None,
        commune: Commune = None,
        people: People = None,
        topic: Topic = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ItemPage:
        """Published articles by slug, in the negotiated locale (each text with its `*_locale`); filters combine."""
        filters = ContentFilter(destination=destination, commune=commune, people=people, topic=topic)
        return await service.page(ContentKind.ARTICLE, filters, limit, cursor)

    @get("/{slug:str}", responses=problem_responses(404, 422), security=[], cache=True)
    async def get_article(self, service: NamedDependency[ContentService], slug: Slug) -> ArticleView:
        """One published article: texts along the locale chain requested -> en -> vi (`title_locale`... say which),
        the destinations it names, its media. Drafts and archived articles are 404."""
        return await service.get(ContentKind.ARTICLE, slug)  # type: ignore[return-value]


class TourController(Controller):
    path = "/v1/tours"
    tags = ["guide"]
    dependencies = {"service": Provide(provide_content_service)}

    @get("/", responses=problem_responses(400, 422), security=[], cache=True)
    async def list_tours(
        self,
        service: NamedDependency[ContentService],
        destination: Destination = None,
        commune: Commune = None,
        people: People = None,
        topic: Topic = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ItemPage:
        """Published tours and trails by slug, with their length (metres), duration and difficulty."""
        filters = ContentFilter(destination=destination, commune=commune, people=people, topic=topic)
        return await service.page(ContentKind.TOUR, filters, limit, cursor)

    @get("/{slug:str}", responses=problem_responses(404, 422), security=[], cache=True)
    async def get_tour(self, service: NamedDependency[ContentService], slug: Slug) -> TourView:
        """One published tour: stops in order, the route as a GeoJSON LineString Feature with its computed length,
        trigger zones, duration, difficulty, elevation gain, best months and safety notes."""
        return await service.get(ContentKind.TOUR, slug)  # type: ignore[return-value]


def _editor(item: EditorItem, etag: str, status_code: int = 200) -> Response[EditorItem]:
    return Response(item, status_code=status_code, headers={"ETag": etag, "Cache-Control": NO_STORE})


def _editor_controller(kind: ContentKind) -> type[Controller]:
    """The editors' controller of one kind: the same routes for articles and tours."""
    plural = f"{kind.value}s"

    class EditorItemController(Controller):
        path = f"/v1/editor/{plural}"
        tags = ["editor"]
        guards = [requires_role("editor")]
        dependencies = {"service": Provide(provide_editor_content_service)}

        @get("/", responses=problem_responses(401, 403, 422), name=f"editor-{plural}-list")
        async def list_items(
            self,
            service: NamedDependency[EditorContentService],
            status: Annotated[
                list[str] | None, Parameter(description="Only these statuses (draft, in_review, published, archived).")
            ] = None,
            limit: Limit = DEFAULT_LIMIT,
            cursor: Cursor = None,
        ) -> Response[EditorItemPage]:
            """Working copies by slug, with status, version and translation completeness per locale."""
            page = await service.page(kind, status or [], limit, cursor)
            return Response(page, headers={"Cache-Control": NO_STORE})

        @post("/", responses=problem_responses(400, 401, 403, 409, 413, 422), name=f"editor-{plural}-create")
        async def create(
            self, service: NamedDependency[EditorContentService], data: JSONBody[ItemCreate]
        ) -> Response[EditorItem]:
            """Create a draft (201) with its `ETag`. 409 when the slug is taken, 422 for invalid fields (unknown
            destinations, communes, media, codes; a bad GeoJSON route or trigger zone)."""
            item, etag = await service.create(kind, data)
            return _editor(item, etag, 201)

        @get("/{slug:str}", responses=problem_responses(401, 403, 404), name=f"editor-{plural}-get")
        async def get_item(self, service: NamedDependency[EditorContentService], slug: Slug) -> Response[EditorItem]:
            """The working copy with its version in `ETag` (strong), to send back as `If-Match`."""
            item, etag = await service.get(kind, slug)
            return _editor(item, etag)

        @patch("/{slug:str}", responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428),
               name=f"editor-{plural}-edit")  # fmt: skip
        async def edit(
            self,
            service: NamedDependency[EditorContentService],
            slug: Slug,
            data: JSONBody[ItemFields],
            if_match: IfMatch = None,
        ) -> Response[EditorItem]:
            """Change fields of the working copy at the version `If-Match` names (428 without it, 412 when it moved
            on); it becomes a draft, and the published revision stays public until the next publish."""
            item, etag = await service.edit(kind, slug, if_match, data)
            return _editor(item, etag)

        @get("/{slug:str}/history", responses=problem_responses(401, 403, 404), name=f"editor-{plural}-history")
        async def history(self, service: NamedDependency[EditorContentService], slug: Slug) -> Response[ItemHistory]:
            """Every published revision (author, reviewer, time, snapshot) and every workflow step."""
            return Response(await service.history(kind, slug), headers={"Cache-Control": NO_STORE})

        async def _step(
            self, service: EditorContentService, slug: str, if_match: str | None, action: str, data: WorkflowNote | None
        ) -> Response[EditorItem]:
            item, etag = await service.step(kind, slug, if_match, action, data.note if data else None)
            return _editor(item, etag)

        @post("/{slug:str}/submit", status_code=200, responses=problem_responses(400, 401, 403, 404, 409, 412, 428),
              name=f"editor-{plural}-submit")  # fmt: skip
        async def submit(
            self,
            service: NamedDependency[EditorContentService],
            slug: Slug,
            if_match: IfMatch = None,
            data: JSONBody[WorkflowNote | None] = None,
        ) -> Response[EditorItem]:
            """Send a draft for review (409 unless it is a draft with its Vietnamese texts)."""
            return await self._step(service, slug, if_match, "submit", data)

        @post("/{slug:str}/request-changes", status_code=200,
              responses=problem_responses(400, 401, 403, 404, 409, 412, 428),
              name=f"editor-{plural}-request-changes")  # fmt: skip
        async def request_changes(
            self,
            service: NamedDependency[EditorContentService],
            slug: Slug,
            if_match: IfMatch = None,
            data: JSONBody[WorkflowNote | None] = None,
        ) -> Response[EditorItem]:
            """Send an item in review back to draft, with a note saying what to change."""
            return await self._step(service, slug, if_match, "request_changes", data)

        @post("/{slug:str}/publish", status_code=200, responses=problem_responses(400, 401, 403, 404, 409, 412, 428),
              name=f"editor-{plural}-publish")  # fmt: skip
        async def publish(
            self,
            service: NamedDependency[EditorContentService],
            slug: Slug,
            if_match: IfMatch = None,
            data: JSONBody[WorkflowNote | None] = None,
        ) -> Response[EditorItem]:
            """Publish an item in review: an immutable revision is kept and becomes public; search and the
            response caches follow after the commit. 403 `reviewer_is_author` when its author tries."""
            return await self._step(service, slug, if_match, "publish", data)

        @post("/{slug:str}/archive", status_code=200, responses=problem_responses(400, 401, 403, 404, 409, 412, 428),
              name=f"editor-{plural}-archive")  # fmt: skip
        async def archive(
            self,
            service: NamedDependency[EditorContentService],
            slug: Slug,
            if_match: IfMatch = None,
            data: JSONBody[WorkflowNote | None] = None,
        ) -> Response[EditorItem]:
            """Withdraw an item from the public (its revisions stay); search drops it after the commit."""
            return await self._step(service, slug, if_match, "archive", data)

    EditorItemController.__name__ = EditorItemController.__qualname__ = f"Editor{kind.value.title()}Controller"
    return EditorItemController


EditorArticleController = _editor_controller(ContentKind.ARTICLE)
EditorTourController = _editor_controller(ContentKind.TOUR)
