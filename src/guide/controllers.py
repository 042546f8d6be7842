"""HTTP endpoints of the digital map catalogue (API.md): destinations, map features, communes, and editors' changes.

Controllers read inputs, make one service call and return its result; rules live in ``service.py``.
"""

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, JSONBody, Parameter

from src.guide import qr
from src.guide.deps import provide_catalogue_service, provide_editor_service, provide_offline_pack_service
from src.guide.geo import parse_bbox
from src.guide.models import DestinationKind
from src.guide.offline import OfflinePackService
from src.guide.schemas import (
    CommuneDetail,
    CommunePage,
    DestinationCreate,
    DestinationDetail,
    DestinationEdit,
    DestinationPage,
    FeatureCollection,
    OpeningState,
)
from src.guide.service import MAX_RADIUS_KM, CatalogueService, DestinationQuery, EditorService, near_of
from src.kernel.auth.guards import requires_role
from src.kernel.caching import none_match, short_lived
from src.kernel.deps import clock
from src.kernel.errors import InvalidParameter, problem_responses
from src.kernel.pagination import DEFAULT_LIMIT, MAX_LIMIT

GEOJSON_MEDIA_TYPE = "application/geo+json"
COMMUNE_CODE = r"^[0-9]{5}$"

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT}).")]
Cursor = Annotated[str | None, Parameter(max_length=512, description="`next_cursor` of the previous page.")]
Kinds = Annotated[
    list[DestinationKind] | None,
    Parameter(description="Only these kinds (repeat the parameter for several)."),
]
BBox = Annotated[
    str | None,
    Parameter(max_length=200, description="`minLon,minLat,maxLon,maxLat` in WGS84 degrees (RFC 7946 §5)."),
]

#: How long apps, browsers and proxies may reuse a QR image before revalidating (a day: the image changes only when
#: ``LAOCAI_DEEP_LINK_BASE`` does, so it is long-lived but not ``immutable``).
QR_MAX_AGE = 86_400
QrScale = Annotated[
    int,
    Parameter(
        ge=qr.MIN_SCALE,
        le=qr.MAX_SCALE,
        description=f"Pixels (SVG: user units) per module, {qr.MIN_SCALE}..{qr.MAX_SCALE}.",
    ),
]
QrLevelParam = Annotated[
    qr.QrLevel,
    Parameter(
        description="Error correction (ISO/IEC 18004 §7.5.1): `Q` (~25 % may be damaged; signs outdoors, the "
        "default) or `M` (~15 %; a smaller symbol for print and screens)."
    ),
]


class DestinationController(Controller):
    path = "/v1/destinations"
    tags = ["catalogue"]
    dependencies = {"service": Provide(provide_catalogue_service)}

    @get("/", responses=problem_responses(400, 422), security=[], cache=True)
    async def list_destinations(
        self,
        service: NamedDependency[CatalogueService],
        kind: Kinds = None,
        commune: Annotated[str | None, Parameter(pattern=COMMUNE_CODE, description="5-digit 2025 code.")] = None,
        lat: Annotated[float | None, Parameter(ge=-90, le=90, description="WGS84 latitude, degrees.")] = None,
        lon: Annotated[float | None, Parameter(ge=-180, le=180, description="WGS84 longitude, degrees.")] = None,
        radius_km: Annotated[
            float | None, Parameter(gt=0, le=MAX_RADIUS_KM, description="Radius around lat/lon, kilometres.")
        ] = None,
        bbox: BBox = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> DestinationPage:
        """List destinations. With `lat`+`lon`+`radius_km` they come nearest first with `distance_m`;
        otherwise by slug. Filters combine (all must hold)."""
        near = near_of(lat, lon, radius_km)
        query = DestinationQuery(
            kinds=[str(k) for k in kind or []],
            commune=commune,
            near=near,
            bbox=parse_bbox(bbox) if bbox is not None else None,
            limit=limit,
            cursor=cursor,
        )
        return await service.list_destinations(query)

    @get("/{slug:str}", responses=problem_responses(404, 422), security=[], cache=True)
    async def get_destination(
        self, service: NamedDependency[CatalogueService], slug: Annotated[str, Parameter(max_length=160)]
    ) -> DestinationDetail:
        """One destination with its names in every locale held, aliases, quality flags, sources and licences."""
        return await service.get_destination(slug)

    @get("/{slug:str}/hours", responses=problem_responses(404, 422), security=[])
    async def get_opening_state(
        self,
        state: State,
        service: NamedDependency[CatalogueService],
        slug: Annotated[str, Parameter(max_length=160)],
        at: Annotated[
            datetime | None, Parameter(description="RFC 3339 instant with its offset (default: now).")
        ] = None,
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", max_length=1000, description="RFC 9110 §13.1.2.")
        ] = None,
    ) -> Response[OpeningState]:
        """Whether the destination is open now (or at `at`) and when that changes, in Vietnam's local time, from
        its OpenStreetMap `opening_hours` with public holidays (`PH`) from the shipped holiday file. Kept by
        clients at most 60 s, never past the next opening or closing."""
        if at is not None and (at.tzinfo is None or not 1970 <= at.year <= 2100):
            raise InvalidParameter.of_field("at", "an RFC 3339 time with its offset, from 1970 to 2100", "query")
        now = clock(state)
        opening = await service.opening_state(slug, at or now)
        change = opening.opens_at or opening.closes_at
        max_age = 60 if change is None else min(60, int((change - (at or now)).total_seconds()))
        return short_lived(opening, if_none_match, max_age if at is None else 3600)

    @get(
        "/{slug:str}/qr.svg",
        media_type=qr.MEDIA_TYPES["svg"],
        responses=problem_responses(404, 422),
        security=[],
        # not kept by the server's response cache: its key holds only declared parameters, and ?lang= (read from the
        # query) changes the link; the ETag, 304 and a day's max-age still come from the caching middleware
        opt={"cache_max_age": QR_MAX_AGE},
    )
    async def qr_svg(
        self,
        request: Request[Any, Any, Any],
        state: State,
        service: NamedDependency[CatalogueService],
        slug: Annotated[str, Parameter(max_length=160)],
        scale: QrScale = qr.DEFAULT_SCALE,
        error: QrLevelParam = qr.DEFAULT_LEVEL,
    ) -> Response[bytes]:
        """A QR code (SVG, `image/svg+xml`) for a sign at the destination: it encodes the deep link
        `LAOCAI_DEEP_LINK_BASE + slug` (`+ ?lang=<negotiated locale>` when the request has `?lang=`). 404 for an
        unknown slug."""
        body = await service.destination_qr(
            slug,
            base=state.settings.deep_link_base,
            image="svg",
            scale=scale,
            level=error,
            with_lang="lang" in request.query_params,
        )
        return Response(body, media_type=qr.MEDIA_TYPES["svg"])

    @get(
        "/{slug:str}/qr.png",
        media_type=qr.MEDIA_TYPES["png"],
        responses=problem_responses(404, 422),
        security=[],
        # not kept by the server's response cache: its key holds only declared parameters, and ?lang= (read from the
        # query) changes the link; the ETag, 304 and a day's max-age still come from the caching middleware
        opt={"cache_max_age": QR_MAX_AGE},
    )
    async def qr_png(
        self,
        request: Request[Any, Any, Any],
        state: State,
        service: NamedDependency[CatalogueService],
        slug: Annotated[str, Parameter(max_length=160)],
        scale: QrScale = qr.DEFAULT_SCALE,
        error: QrLevelParam = qr.DEFAULT_LEVEL,
    ) -> Response[bytes]:
        """The same QR code as a PNG (`image/png`), `scale` px per module plus a 4-module quiet zone."""
        body = await service.destination_qr(
            slug,
            base=state.settings.deep_link_base,
            image="png",
            scale=scale,
            level=error,
            with_lang="lang" in request.query_params,
        )
        return Response(body, media_type=qr.MEDIA_TYPES["png"])


class MapController(Controller):
    path = "/v1/map"
    tags = ["catalogue"]
    dependencies = {"service": Provide(provide_catalogue_service)}

    @get("/features", media_type=GEOJSON_MEDIA_TYPE, responses=problem_responses(400, 422), security=[], cache=True)
    async def features(
        self,
        service: NamedDependency[CatalogueService],
        bbox: Annotated[str, Parameter(max_length=200, description="`minLon,minLat,maxLon,maxLat`, WGS84.")],
        kind: Kinds = None,
        limit: Annotated[int, Parameter(ge=1, le=5000, description="Most features returned (max 5,000).")] = 500,
    ) -> FeatureCollection:
        """A GeoJSON FeatureCollection (RFC 7946) of the destinations in `bbox`, landmarks first;
        `truncated` is true when more matched than `limit`."""
        return await service.map_features(parse_bbox(bbox), [str(k) for k in kind or []], limit)


class CommuneController(Controller):
    path = "/v1/communes"
    tags = ["catalogue"]
    dependencies = {"service": Provide(provide_catalogue_service)}

    @get("/", responses=problem_responses(400, 422), security=[], cache=True)
    async def list_communes(
        self,
        service: NamedDependency[CatalogueService],
        q: Annotated[
            str | None,
            Parameter(max_length=100, description="Part of a current or former (pre-2025) unit name."),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> CommunePage:
        """The 99 commune-level units (10 wards, 89 communes) of Lào Cai province since 2025-07-01, by code."""
        return await service.list_communes(q, limit, cursor)

    @get("/{code:str}", responses=problem_responses(404, 422), security=[], cache=True)
    async def get_commune(
        self, service: NamedDependency[CatalogueService], code: Annotated[str, Parameter(max_length=5)]
    ) -> CommuneDetail:
        """One commune with its boundary (GeoJSON geometry, counter-clockwise outer rings) and former units."""
        return await service.get_commune(code)


#: Editor responses are the editor's own working copy: never stored by a cache (RFC 9111 §5.2.2.5).
_NO_STORE = "no-store"


class EditorDestinationController(Controller):
    """The tourism board editors' changes to destinations (role ``editor``). Issue 9 grows this into the full
    editor API (drafts, review, publish); for now an edit is live once committed."""

    path = "/v1/editor/destinations"
    tags = ["editor"]
    guards = [requires_role("editor")]
    dependencies = {"service": Provide(provide_editor_service)}

    @post("/", responses=problem_responses(400, 401, 403, 413, 422))
    async def create(
        self, service: NamedDependency[EditorService], data: JSONBody[DestinationCreate]
    ) -> Response[DestinationDetail]:
        """Add a destination the open data lacks (a temple, a waterfall, a viewpoint): kind, Vietnamese name,
        location inside the province, 2025 commune, `source` and `licence` required; optional names per locale,
        elevation and opening hours. 201 with the destination and its `ETag`; search finds it within seconds."""
        detail, etag = await service.create_destination(data)
        return Response(detail, status_code=201, headers={"ETag": etag, "Cache-Control": _NO_STORE})

    @get("/{slug:str}", responses=problem_responses(401, 403, 404))
    async def get_for_edit(
        self, service: NamedDependency[EditorService], slug: Annotated[str, Parameter(max_length=160)]
    ) -> Response[DestinationDetail]:
        """The destination with its version in `ETag` (strong), to send back as `If-Match` with an edit."""
        detail, etag = await service.current(slug)
        return Response(detail, headers={"ETag": etag, "Cache-Control": _NO_STORE})

    @patch("/{slug:str}", responses=problem_responses(401, 403, 404, 412, 413, 428))
    async def edit(
        self,
        service: NamedDependency[EditorService],
        slug: Annotated[str, Parameter(max_length=160)],
        data: JSONBody[DestinationEdit],
        if_match: Annotated[
            str | None,
            HeaderParameter(
                name="If-Match",
                max_length=1000,
                description="The `ETag` of the version this edit applies to (RFC 9110 §13.1.1); required.",
            ),
        ] = None,
    ) -> Response[DestinationDetail]:
        """Change a destination's Vietnamese name, its names per locale, and its aliases, if it is still at the
        version `If-Match` names: 428 without `If-Match`, 412 when someone changed it since. The search index and
        the catalogue caches follow once the change is committed (search within seconds). Returns the updated
        destination with its new `ETag`."""
        detail, etag = await service.edit_destination(slug, if_match, data)
        return Response(detail, headers={"ETag": etag, "Cache-Control": _NO_STORE})


#: Packs may be kept by apps and proxies for a few minutes, then revalidated with ``If-None-Match``.
ZIP_MEDIA_TYPE = "application/zip"


class OfflinePackController(Controller):
    path = "/v1/offline-packs"
    tags = ["guide"]
    dependencies = {"service": Provide(provide_offline_pack_service)}

    @get("/{area:str}", media_type=ZIP_MEDIA_TYPE, responses=problem_responses(404, 422), security=[])
    async def offline_pack(
        self,
        service: NamedDependency[OfflinePackService],
        area: Annotated[str, Parameter(max_length=160, description="A 2025 commune code (`03006`) or a tour slug.")],
        since: Annotated[
            str | None,
            Parameter(
                pattern=r"^[0-9a-f]{32}$",
                description="The `version` of a pack the app holds: answer only what changed and what was removed.",
            ),
        ] = None,
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", max_length=1000, description="RFC 9110 §13.1.2.")
        ] = None,
    ) -> Response[bytes]:
        """One ZIP archive of everything the app needs offline for `area` in the negotiated locale: its places and
        routes (GeoJSON), published articles and tours, events, current alerts, and a media manifest (URL, SHA-256,
        size) for the app to fetch media separately. Layout in `src/guide/offline.py`. The same content gives the
        same bytes and the same strong `ETag` (its `version`, also in `manifest.json`); `If-None-Match` answers 304.
        With `since`, only the items added or changed since that version, and the keys removed; a `since` the server
        does not know answers the full pack (`manifest.since` is null)."""
        pack = await service.pack(area, since)
        filename = f"laocai-{pack.area.kind}-{pack.area.id}-{service.locale}-{pack.version}.zip"
        headers = {
            "ETag": pack.etag,
            "Cache-Control": f"public, max-age={pack.max_age}",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        if if_none_match and none_match(if_none_match, pack.etag):
            return Response(b"", status_code=304, headers=headers, media_type=ZIP_MEDIA_TYPE)
        return Response(pack.body, headers=headers, media_type=ZIP_MEDIA_TYPE)
