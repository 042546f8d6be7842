"""HTTP endpoints of search (API.md): ``GET /v1/search`` and ``GET /v1/search/suggest``.

Controllers read inputs, make one service call and return its result; validation rules live in ``service.py``.
Both routes are public. The service answers a repeated query from its per-process result cache
(``src/search/cache.py``: dropped at once when the embedded index changes, else after
``LAOCAI_SEARCH_CACHE_SECONDS``); apps and proxies may reuse a response for ``CACHE_MAX_AGE`` seconds (its weak
``ETag`` changes with every answer since ``processing_ms`` does, so revalidation rarely saves a body).
"""

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter, QueryParameter

from src.guide.service import MAX_RADIUS_KM
from src.kernel.auth.guards import requires_role
from src.kernel.errors import problem_responses
from src.search.deps import provide_search_service
from src.search.port import MAX_HITS, MAX_SUGGESTIONS
from src.search.schemas import SearchPage, SuggestPage, ZeroResultReport
from src.search.service import (
    ALLOWED_FACETS,
    ALLOWED_KINDS,
    ALLOWED_TYPES,
    MAX_REPORT_ROWS,
    SearchParams,
    SearchService,
    zero_results,
)

COMMUNE_CODE = r"^[0-9]{5}$"
#: Seconds apps and proxies may reuse a search response (``Cache-Control: public, max-age=...``).
CACHE_MAX_AGE = 10
#: Longest raw ``q`` read at all (the service then allows 200 characters once NFC-normalised).
RAW_QUERY_LIMIT = 2000

Query = Annotated[
    str,
    Parameter(
        max_length=RAW_QUERY_LIMIT,
        description="What the user typed: any script, with or without tone marks, at most 200 characters (NFC).",
    ),
]


class SearchController(Controller):
    """``GET /v1/search`` and ``GET /v1/search/suggest`` (public; 422 for bad parameters, 503 when the engine is
    down)."""

    path = "/v1/search"
    tags = ["search"]
    dependencies = {"service": Provide(provide_search_service)}

    @get(
        "/",
        responses=problem_responses(400, 422, 503),
        security=[],
        opt={"cache_max_age": CACHE_MAX_AGE},
    )
    async def search(
        self,
        service: NamedDependency[SearchService],
        q: Query = "",
        kind: Annotated[
            list[str] | None,
            Parameter(description="Only these kinds, repeated or comma-separated: " + ", ".join(ALLOWED_KINDS)),
        ] = None,
        type_: Annotated[
            list[str] | None,
            QueryParameter(name="type", description="Only these document types: " + ", ".join(ALLOWED_TYPES)),
        ] = None,
        commune: Annotated[str | None, Parameter(pattern=COMMUNE_CODE, description="5-digit 2025 code.")] = None,
        lat: Annotated[float | None, Parameter(ge=-90, le=90, description="WGS84 latitude, degrees.")] = None,
        lon: Annotated[float | None, Parameter(ge=-180, le=180, description="WGS84 longitude, degrees.")] = None,
        radius_km: Annotated[
            float | None, Parameter(gt=0, le=MAX_RADIUS_KM, description="Only hits within this radius of lat/lon, km.")
        ] = None,
        sort: Annotated[
            Literal["relevance", "distance"], Parameter(description="`distance` needs lat/lon; ties by relevance.")
        ] = "relevance",
        facets: Annotated[
            list[str] | None,
            Parameter(description="Facet counts to return, repeated or comma list of " + ", ".join(ALLOWED_FACETS)),
        ] = None,
        offset: Annotated[int, Parameter(ge=0, le=MAX_HITS, description="Hits to skip.")] = 0,
        limit: Annotated[int, Parameter(ge=1, le=100, description="Page size (max 100; offset + limit ≤ 1000).")] = 20,
    ) -> SearchPage:
        """Find destinations and communes by what a visitor typed: with or without tone marks (`bac ha`), joined or
        split (`sapa`), with typos (`fansipn`), half-typed (`fansi`), in Chinese or Korean, or by a former (pre-2025)
        name. Empty `q` browses the filters. Hits come best first (or nearest first with `sort=distance`), each with
        its name in the response language and the matched words highlighted; `facets` counts every match."""
        params = SearchParams(
            q=q,
            kinds=kind or (),
            types=type_ or (),
            commune=commune,
            lat=lat,
            lon=lon,
            radius_km=radius_km,
            sort=sort,
            facets=facets or (),
            offset=offset,
            limit=limit,
        )
        return await service.search(params)

    @get(
        "/suggest",
        responses=problem_responses(400, 422, 503),
        security=[],
        opt={"cache_max_age": CACHE_MAX_AGE},
    )
    async def suggest(
        self,
        service: NamedDependency[SearchService],
        q: Query,
        limit: Annotated[
            int, Parameter(ge=1, le=MAX_SUGGESTIONS, description=f"Most suggestions (max {MAX_SUGGESTIONS}).")
        ] = 5,
    ) -> SuggestPage:
        """Type-ahead: places whose names begin with what was typed so far (the last word as a prefix)."""
        return await service.suggest(q, limit)


class BoardSearchController(Controller):
    """What the tourism board reads from the search log (role ``board``): aggregates only, no personal data."""

    path = "/v1/board/search"
    tags = ["board"]
    guards = [requires_role("board")]

    @get("/zero-results", responses=problem_responses(401, 403))
    async def zero_results(
        self,
        state: State,
        since: Annotated[
            datetime | None,
            Parameter(description="RFC 3339 timestamp with offset (default: 30 days ago)."),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_REPORT_ROWS, description="Most queries returned.")] = 100,
    ) -> ZeroResultReport:
        """Normalised queries that found nothing since `since`, most searched first, with how often and when last:
        places visitors look for that the catalogue lacks or names differently."""
        return await zero_results(state.read_path, since, limit)
