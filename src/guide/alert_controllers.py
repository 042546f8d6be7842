"""HTTP endpoints of safety and access alerts: the app's ``GET /v1/alerts`` and the board's ``/v1/editor/alerts``
(roles ``board`` or ``editor``). Rules in ``src/guide/alerts.py``."""

from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, JSONBody, Parameter

from src.guide.alert_schemas import AlertFields, AlertPage, EditorAlert, EditorAlertPage
from src.guide.alerts import AlertService, EditorAlertService
from src.guide.deps import provide_alert_service, provide_editor_alert_service
from src.kernel.auth.guards import requires_role
from src.kernel.caching import short_lived
from src.kernel.errors import problem_responses
from src.kernel.pagination import DEFAULT_LIMIT, MAX_LIMIT

NO_STORE = "no-store"
AlertId = Annotated[int, Parameter(ge=1, le=2**31 - 1, description="The alert's id.")]
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", max_length=1000, description="The alert's `ETag` (RFC 9110 §13.1.1); required."),
]


class AlertController(Controller):
    path = "/v1/alerts"
    tags = ["guide"]
    dependencies = {"service": Provide(provide_alert_service)}

    @get("/", responses=problem_responses(400, 404, 422), security=[])
    async def list_alerts(
        self,
        service: NamedDependency[AlertService],
        lat: Annotated[float | None, Parameter(ge=-90, le=90, description="WGS84 latitude of a point.")] = None,
        lon: Annotated[float | None, Parameter(ge=-180, le=180, description="WGS84 longitude of a point.")] = None,
        commune: Annotated[str | None, Parameter(max_length=5, description="A 5-digit 2025 commune code.")] = None,
        tour: Annotated[str | None, Parameter(max_length=160, description="A published tour's slug.")] = None,
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", max_length=1000, description="RFC 9110 §13.1.2.")
        ] = None,
    ) -> Response[AlertPage]:
        """The alerts in force now that touch a point (`lat`+`lon`), a commune or a tour (all of them without a
        filter; filters add up), most severe first. Expired, withdrawn and not-yet-valid alerts are never served;
        `Cache-Control: max-age` stops at the next start or end of an alert. `ETag` and 304 as everywhere."""
        page, max_age = await service.touching(lat=lat, lon=lon, commune=commune, tour=tour)
        return short_lived(page, if_none_match, max_age)


class EditorAlertController(Controller):
    path = "/v1/editor/alerts"
    tags = ["editor"]
    guards = [requires_role("board", "editor")]
    dependencies = {"service": Provide(provide_editor_alert_service)}

    @get("/", responses=problem_responses(401, 403, 422))
    async def list_all(
        self,
        service: NamedDependency[EditorAlertService],
        limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Parameter(max_length=512)] = None,
    ) -> Response[EditorAlertPage]:
        """Every alert, newest first, with its state now (scheduled, active, expired, withdrawn)."""
        return Response(await service.page(limit, cursor), headers={"Cache-Control": NO_STORE})

    @post("/", responses=problem_responses(400, 401, 403, 413, 422))
    async def create(
        self, service: NamedDependency[EditorAlertService], data: JSONBody[AlertFields]
    ) -> Response[EditorAlert]:
        """Publish an alert (201): in force from `valid_from` to `valid_until`, for its communes, tours and area."""
        alert, etag = await service.create(data)
        return Response(alert, status_code=201, headers={"ETag": etag, "Cache-Control": NO_STORE})

    @get("/{alert_id:int}", responses=problem_responses(401, 403, 404))
    async def get_alert(self, service: NamedDependency[EditorAlertService], alert_id: AlertId) -> Response[EditorAlert]:
        """One alert with its version in `ETag`."""
        alert, etag = await service.get(alert_id)
        return Response(alert, headers={"ETag": etag, "Cache-Control": NO_STORE})

    @patch("/{alert_id:int}", responses=problem_responses(400, 401, 403, 404, 412, 413, 422, 428))
    async def edit(
        self,
        service: NamedDependency[EditorAlertService],
        alert_id: AlertId,
        data: JSONBody[AlertFields],
        if_match: IfMatch = None,
    ) -> Response[EditorAlert]:
        """Change an alert at the version `If-Match` names (428 without it, 412 when it moved on)."""
        alert, etag = await service.edit(alert_id, if_match, data)
        return Response(alert, headers={"ETag": etag, "Cache-Control": NO_STORE})

    @post("/{alert_id:int}/withdraw", status_code=200, responses=problem_responses(401, 403, 404, 412, 428))
    async def withdraw(
        self, service: NamedDependency[EditorAlertService], alert_id: AlertId, if_match: IfMatch = None
    ) -> Response[EditorAlert]:
        """End an alert now; it is no longer served."""
        alert, etag = await service.withdraw(alert_id, if_match)
        return Response(alert, headers={"ETag": etag, "Cache-Control": NO_STORE})
