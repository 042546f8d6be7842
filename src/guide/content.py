"""Articles and tours of the smart guide: their fields, the editorial workflow, and how the public reads them.

**Workflow** (one state machine for both kinds, ``ContentStatus``)::

    draft --submit--> in_review --publish--> published --(edit)--> draft ...
      ^                  |                       |
      +--request changes-+      archive (from any status) --> archived --(edit)--> draft

- Every write (edit or step) names the version it applies to in ``If-Match`` (RFC 9110 §13.1.1): 428 without it,
  412 when the item moved on; the conditional ``UPDATE`` on ``version`` settles concurrent writers (one wins).
- **Publish** keeps an immutable revision (the full snapshot, author, reviewer, time) and makes it what the public
  sees (``guide_publication``); editing a published item starts a new draft while that revision stays public.
  The publisher must not be the item's author (its last editor): a second pair of eyes (``ReviewerIsAuthor``, 403).
- **Archive** withdraws the publication; the revisions stay.
- Publishing and archiving announce ``guide.content_changed`` (search reindexes the item) and purge the response
  caches, both after the commit.

**Fields** (``ItemFields``): texts per locale, tags (destinations by slug, 2025 communes by code, peoples and topics
from the vocabularies below), media ids; tours also have stops, a route, duration, difficulty, elevation gain and
best months. Lengths are computed, never typed in: the great-circle length of the route (haversine on a sphere of
radius 6,371,008.8 m, ``src/guide/geo.py``), from the drawn LineString or, without one, from straight segments
between the stops' catalogue coordinates, in order.
"""

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import msgspec
from litestar.stores.registry import StoreRegistry
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import repository
from src.guide.content_schemas import (
    ArticleView,
    DestinationRef,
    EditorItem,
    EditorItemPage,
    ItemCreate,
    ItemFields,
    ItemHistory,
    ItemPage,
    ItemSummary,
    LineStringGeometry,
    LocaleCompleteness,
    RevisionView,
    RouteFeature,
    RouteProperties,
    TourStop,
    TourView,
    WorkflowEventView,
)
from src.guide.errors import ReviewerIsAuthor, WorkflowConflict
from src.guide.events import content_changed
from src.guide.geo import haversine_m
from src.guide.media import existing_media_ids, media_refs
from src.guide.models import ContentKind, ContentStatus
from src.guide.names import slugify
from src.guide.repository import ItemRow, PublicationRow, SummaryRow
from src.guide.schemas import Location
from src.guide.service import COMMUNE_CODE, SLUG, if_match_allows
from src.kernel.caching import purge_after_commit
from src.kernel.db import Reader, connection_reader, utcnow
from src.kernel.errors import InvalidParameter, NotFound, PreconditionFailed, PreconditionRequired
from src.kernel.i18n import SUPPORTED_LOCALES, fallback_chain, pick
from src.kernel.pagination import decode_cursor, encode_cursor, query_fingerprint
from src.kernel.text import clean_text

#: Peoples of the province an item may be tagged with (codes; the names are the Vietnamese official ones of the
#: 54 recognised ethnic groups, written without diacritics).
PEOPLES = frozenset(
    {"bo_y", "dao", "giay", "ha_nhi", "hmong", "kinh", "la_chi", "nung", "phu_la", "tay", "thai", "xa_pho", "khang"}
)
#: Topics of the guide (codes).
TOPICS = frozenset(
    {
        "administration", "border", "craft", "culture", "festival", "food", "history", "market", "mountains",
        "nature", "streams", "trekking", "viewpoint", "villages",
    }
)  # fmt: skip
DIFFICULTIES = ("easy", "moderate", "hard")
#: Texts each kind needs in a locale for it to count as translated (completeness), and at submission in ``vi``.
REQUIRED_TEXTS: Mapping[str, tuple[str, ...]] = {
    ContentKind.ARTICLE: ("title", "summary", "body"),
    ContentKind.TOUR: ("title", "summary", "safety_notes"),
}
TEXT_LIMITS = {"title": 200, "summary": 1_000, "body": 50_000, "safety_notes": 5_000}
NOTE_LIMIT = 2_000
MAX_TAGS = 50
MIN_STOPS, MAX_STOPS = 2, 50
MAX_ROUTE_POSITIONS = 10_000
ZONE_RADIUS_M = (10, 5_000)
#: Coordinates accepted in routes and trigger zones: a box around the province with a margin (WGS84 degrees).
PROVINCE_BOX = (102.5, 20.8, 105.8, 23.2)  # min lon, min lat, max lon, max lat
#: Slugs of items: the catalogue's shape, at most 160 characters.
MAX_SLUG = 160


# -- validation ------------------------------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {message}", errors=[{"field": field, "source": "body", "message": message}])


def _texts(field: str, texts: Any) -> dict[str, str]:
    """One locale's texts, cleaned (NFC, no control characters; body and notes keep line breaks), within limits."""
    out: dict[str, str] = {}
    for name, limit in TEXT_LIMITS.items():
        value = getattr(texts, name)
        if value is None:
            continue
        cleaned = clean_text(value, f"{field}.{name}", multiline=name != "title")
        if len(cleaned) > limit:
            raise _invalid(f"{field}.{name}", f"at most {limit} characters")
        out[name] = cleaned
    return out


def _locale_key(field: str, locale: str) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise _invalid(field, f"unknown locale {locale!r}; one of {', '.join(SUPPORTED_LOCALES)}")
    return locale


def _in_box(field: str, position: Any) -> list[float]:
    """A GeoJSON position ``[lon, lat]`` (or ``[lon, lat, elevation]``) inside ``PROVINCE_BOX``."""
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in position)
    ):
        raise _invalid(field, "a position is [lon, lat] or [lon, lat, elevation] in numbers (RFC 7946 §3.1.1)")
    lon, lat = float(position[0]), float(position[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _invalid(field, "longitude must be within ±180 and latitude within ±90 (longitude first)")
    min_lon, min_lat, max_lon, max_lat = PROVINCE_BOX
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        raise _invalid(field, f"[{lon}, {lat}] lies far outside Lào Cai province (is it [lat, lon]?)")
    return [float(v) for v in position]


def route_geometry(value: Any, field: str = "route") -> dict[str, Any] | None:
    """A drawn route: a GeoJSON LineString (RFC 7946 §3.1.4) of 2..10,000 positions in the province; ``None``
    clears it. ``InvalidParameter`` (422) otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") != "LineString" or set(value) - {"type", "coordinates"}:
        raise _invalid(field, 'a GeoJSON LineString: {"type": "LineString", "coordinates": [[lon, lat], ...]}')
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list) or not MIN_STOPS <= len(coordinates) <= MAX_ROUTE_POSITIONS:
        raise _invalid(field, f"a LineString has 2 to {MAX_ROUTE_POSITIONS} positions")
    return {"type": "LineString", "coordinates": [_in_box(f"{field}.coordinates", p) for p in coordinates]}


def trigger_zone(value: Any, field: str) -> dict[str, Any] | None:
    """A stop's trigger zone: ``{"type": "circle", "center": [lon, lat], "radius_m": 10..5000}`` or a GeoJSON
    Polygon (one exterior ring, no holes needed; closed; valid; outer ring stored counter-clockwise per RFC 7946
    §3.1.6). ``InvalidParameter`` (422) otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(field, "a circle or a GeoJSON Polygon")
    if value.get("type") == "circle":
        if set(value) != {"type", "center", "radius_m"}:
            raise _invalid(field, 'a circle is {"type": "circle", "center": [lon, lat], "radius_m": metres}')
        radius = value["radius_m"]
        low, high = ZONE_RADIUS_M
        if not isinstance(radius, int | float) or isinstance(radius, bool) or not low <= radius <= high:
            raise _invalid(f"{field}.radius_m", f"between {low} and {high} metres")
        return {"type": "circle", "center": _in_box(f"{field}.center", value["center"])[:2], "radius_m": radius}
    if value.get("type") != "Polygon" or set(value) - {"type", "coordinates"}:
        raise _invalid(field, 'a circle or a GeoJSON Polygon {"type": "Polygon", "coordinates": [[[lon, lat], ...]]}')
    rings = value.get("coordinates")
    if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
        raise _invalid(field, "a Polygon's coordinates are a list of linear rings")
    checked = []
    for ring in rings:
        positions = [_in_box(f"{field}.coordinates", p)[:2] for p in ring]
        if len(positions) < 4 or positions[0] != positions[-1]:
            raise _invalid(field, "each linear ring has 4 or more positions and ends where it starts (RFC 7946)")
        checked.append(positions)
    if len(checked) > 1:
        raise _invalid(field, "a trigger zone is one ring (no holes)")
    polygon = Polygon(checked[0])
    if not polygon.is_valid or polygon.area == 0:
        raise _invalid(field, "the ring crosses itself or encloses nothing")
    exterior = [list(xy) for xy in orient(polygon, sign=1.0).exterior.coords]
    return {"type": "Polygon", "coordinates": [exterior]}


def _codes(field: str, values: list[str], allowed: frozenset[str]) -> list[str]:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise _invalid(field, f"unknown {unknown}; allowed: {', '.join(sorted(allowed))}")
    return sorted(set(values))


def _bounded(field: str, values: list[Any], most: int = MAX_TAGS) -> list[Any]:
    if len(values) > most:
        raise _invalid(field, f"at most {most}")
    return values


# -- geometry --------------------------------------------------------------------------------------------------------


def line_length_m(coordinates: Sequence[Sequence[float]]) -> float:
    """The great-circle length in metres of a path of ``[lon, lat]`` positions (sum of haversine segments)."""
    return sum(haversine_m(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(coordinates))


def elevation_gain_m(elevations: Sequence[int | None]) -> int | None:
    """The sum of the climbs between consecutive elevations (metres), or ``None`` unless every one is known."""
    if len(elevations) < 2 or any(e is None for e in elevations):
        return None
    known = cast("list[int]", list(elevations))
    return sum(max(0, b - a) for a, b in itertools.pairwise(known))


def _zone_geojson(zone: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored trigger zone as GeoJSON: a circle becomes a Point with ``radius_m`` (a foreign member)."""
    if zone is None:
        return None
    if zone["type"] == "circle":
        return {"type": "Point", "coordinates": list(zone["center"]), "radius_m": zone["radius_m"]}
    return dict(zone)


# -- reading ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentFilter:
    """Filters of the public lists; all given ones must hold."""

    destination: str | None = None
    commune: str | None = None
    people: str | None = None
    topic: str | None = None

    def tags(self) -> list[tuple[str, str]]:
        pairs = [("destination", self.destination), ("commune", self.commune)]
        pairs += [("people", self.people), ("topic", self.topic)]
        return [(tag, value) for tag, value in pairs if value is not None]


def publication_tags(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The filterable (tag, value) pairs of an item's fields: its destinations (tours: stops included), communes,
    peoples and topics."""
    destinations = set(fields.get("destinations", ())) | {s["destination"] for s in fields.get("stops", ())}
    pairs = [("destination", slug) for slug in destinations]
    pairs += [("commune", code) for code in fields.get("communes", ())]
    pairs += [("people", code) for code in fields.get("peoples", ())]
    pairs += [("topic", code) for code in fields.get("topics", ())]
    return pairs


class ContentReader:
    """Renders published articles and tours in one locale (``ContentService`` and the offline packs use it)."""

    def __init__(self, reader: Reader, locale: str) -> None:
        self.reader = reader
        self.locale = locale
        self.chain = fallback_chain(locale)

    def _pick(self, translations: Mapping[str, Mapping[str, str]], name: str) -> tuple[str | None, str | None]:
        found = pick({loc: texts[name] for loc, texts in translations.items() if name in texts}, self.locale)
        return (None, None) if found is None else found

    async def _destinations(self, slugs: Sequence[str]) -> dict[str, DestinationRef]:
        rows = await repository.summaries_by_slug(self.reader, list(dict.fromkeys(slugs)), self.chain)
        return {slug: self._ref(row) for slug, row in rows.items()}

    def _ref(self, row: SummaryRow) -> DestinationRef:
        values = cast("tuple[Any, ...]", row)
        names = values[13:]
        name, name_locale = row.name, row.name_locale
        for translated, locale in zip(names, self.chain[: repository.MAX_CHAIN], strict=False):
            if translated is not None:
                name, name_locale = translated, locale
                break
        return DestinationRef(
            slug=row.slug,
            name=name,
            name_locale=name_locale,
            location=Location(lat=row.lat, lon=row.lon),
            elevation_m=row.elevation_m,
            commune=row.commune_code,
        )

    def summary(self, row: PublicationRow, length_m: int | None = None) -> ItemSummary:
        fields = row.body
        translations = fields.get("translations", {})
        title, title_locale = self._pick(translations, "title")
        summary, summary_locale = self._pick(translations, "summary")
        return ItemSummary(
            slug=row.slug,
            kind=row.kind,
            title=title or row.slug,
            title_locale=title_locale or "und",
            summary=summary,
            summary_locale=summary_locale,
            destinations=list(fields.get("destinations", [])),
            communes=list(fields.get("communes", [])),
            peoples=list(fields.get("peoples", [])),
            topics=list(fields.get("topics", [])),
            locales=sorted(translations),
            revision=row.revision,
            published_at=row.published_at,
            is_sample=row.is_sample,
            length_m=length_m,
            duration_minutes=fields.get("duration_minutes"),
            difficulty=fields.get("difficulty"),
        )

    async def article(self, row: PublicationRow) -> ArticleView:
        fields = row.body
        translations = fields.get("translations", {})
        refs = await self._destinations(fields.get("destinations", []))
        title, title_locale = self._pick(translations, "title")
        summary, summary_locale = self._pick(translations, "summary")
        body, body_locale = self._pick(translations, "body")
        return ArticleView(
            slug=row.slug,
            kind=row.kind,
            title=title or row.slug,
            title_locale=title_locale or "und",
            summary=summary,
            summary_locale=summary_locale,
            body=body,
            body_locale=body_locale,
            destinations=[refs[s] for s in fields.get("destinations", []) if s in refs],
            communes=list(fields.get("communes", [])),
            peoples=list(fields.get("peoples", [])),
            topics=list(fields.get("topics", [])),
            media=await media_refs(self.reader, fields.get("media_ids", []), self.locale),
            locales=sorted(translations),
            revision=row.revision,
            published_at=row.published_at,
            is_sample=row.is_sample,
        )

    async def tour(self, row: PublicationRow) -> TourView:
        fields = row.body
        translations = fields.get("translations", {})
        stops = fields.get("stops", [])
        refs = await self._destinations([s["destination"] for s in stops] + list(fields.get("destinations", [])))
        stop_views = []
        for position, stop in enumerate(stops, start=1):
            ref = refs.get(stop["destination"])
            if ref is None:  # a destination removed from the catalogue after publishing: the stop is left out
                continue
            note = pick(stop.get("notes", {}), self.locale)
            stop_views.append(
                TourStop(
                    position=position,
                    destination=ref,
                    note=note[0] if note else None,
                    note_locale=note[1] if note else None,
                    trigger_zone=_zone_geojson(stop.get("trigger_zone")),
                )
            )
        route = self.route(fields, [s.destination for s in stop_views])
        gain, gain_source = fields.get("elevation_gain_m"), "editor"
        if gain is None:
            gain = elevation_gain_m([s.destination.elevation_m for s in stop_views])
            gain_source = "stops"
        title, title_locale = self._pick(translations, "title")
        summary, summary_locale = self._pick(translations, "summary")
        safety, safety_locale = self._pick(translations, "safety_notes")
        return TourView(
            slug=row.slug,
            kind=row.kind,
            title=title or row.slug,
            title_locale=title_locale or "und",
            summary=summary,
            summary_locale=summary_locale,
            safety_notes=safety,
            safety_notes_locale=safety_locale,
            stops=stop_views,
            route=route,
            length_m=route.properties.length_m,
            duration_minutes=fields.get("duration_minutes"),
            difficulty=fields.get("difficulty"),
            elevation_gain_m=gain,
            elevation_gain_source=gain_source if gain is not None else None,
            best_months=list(fields.get("best_months", [])),
            destinations=[refs[s] for s in fields.get("destinations", []) if s in refs],
            communes=list(fields.get("communes", [])),
            peoples=list(fields.get("peoples", [])),
            topics=list(fields.get("topics", [])),
            media=await media_refs(self.reader, fields.get("media_ids", []), self.locale),
            locales=sorted(translations),
            revision=row.revision,
            published_at=row.published_at,
            is_sample=row.is_sample,
        )

    @staticmethod
    def route(fields: Mapping[str, Any], stops: Sequence[DestinationRef]) -> RouteFeature:
        """The tour's route Feature: the drawn LineString, or straight segments joining the stops in order."""
        drawn = fields.get("route")
        if drawn is not None:
            coordinates = [list(p) for p in drawn["coordinates"]]
            source = "editor"
        else:
            coordinates = [[s.location.lon, s.location.lat] for s in stops]
            source = "stops"
        return RouteFeature(
            type="Feature",
            geometry=LineStringGeometry(type="LineString", coordinates=coordinates),
            properties=RouteProperties(length_m=round(line_length_m(coordinates)), source=source),
        )

    async def view(self, row: PublicationRow) -> ArticleView | TourView:
        return await (self.tour(row) if row.kind == ContentKind.TOUR else self.article(row))

    async def published(
        self, kind: str, *, tags: Sequence[tuple[str, str]] = (), any_of: Sequence[tuple[str, str]] = ()
    ) -> list[ArticleView | TourView]:
        """Every published item of ``kind`` with all ``tags`` and one of ``any_of`` (when given), rendered, by
        slug: what an offline pack carries."""
        rows = await repository.publications(self.reader, kind=kind, tags=tags, any_of=any_of)
        return [await self.view(row) for row in rows]


class ContentService:
    """The public reading API of articles and tours (published only), in one negotiated ``locale``."""

    def __init__(self, reader: Reader, locale: str) -> None:
        self.reader = reader
        self.content = ContentReader(reader, locale)

    async def page(self, kind: str, filters: ContentFilter, limit: int, cursor: str | None) -> ItemPage:
        """A page of published items of ``kind`` by slug; ``InvalidParameter`` (422) for a cursor of another
        query or an unknown people/topic code."""
        if filters.people is not None:
            _codes("people", [filters.people], PEOPLES)
        if filters.topic is not None:
            _codes("topic", [filters.topic], TOPICS)
        fingerprint = query_fingerprint(kind, vars(filters))
        after = decode_cursor(cursor, fingerprint, (str,))[0] if cursor else None
        rows = list(
            await repository.publications(
                self.reader, kind=kind, tags=filters.tags(), after_slug=after, limit=limit + 1
            )
        )
        page = rows[:limit]
        lengths: dict[str, int] = {}
        if kind == ContentKind.TOUR:
            for row in page:
                lengths[row.slug] = (await self.content.tour(row)).length_m
        next_cursor = encode_cursor(fingerprint, [page[-1].slug]) if len(rows) > limit and page else None
        return ItemPage(
            items=[self.content.summary(row, lengths.get(row.slug)) for row in page], next_cursor=next_cursor
        )

    async def get(self, kind: str, slug: str) -> ArticleView | TourView:
        """One published item; ``NotFound`` (404) for drafts, archived and unknown items alike."""
        row = await repository.publication(self.reader, kind, slug) if SLUG.fullmatch(slug) else None
        if row is None:
            raise NotFound(f"No published {kind} has the slug {slug!r}.")
        return await self.content.view(row)


# -- the editors' workflow -------------------------------------------------------------------------------------------


def item_etag(row: ItemRow) -> str:
    """The strong entity tag of a working copy's version (RFC 9110 §8.8.3)."""
    return f'"{row.kind}-{row.id}-v{row.version}"'


def completeness(kind: str, fields: Mapping[str, Any]) -> dict[str, LocaleCompleteness]:
    """Per served locale: which of the texts its kind needs (``REQUIRED_TEXTS``) it has, and the percentage."""
    required = REQUIRED_TEXTS[kind]
    translations = fields.get("translations", {})
    out = {}
    for locale in SUPPORTED_LOCALES:
        texts = translations.get(locale, {})
        present = [name for name in required if texts.get(name)]
        missing = [name for name in required if not texts.get(name)]
        out[locale] = LocaleCompleteness(
            present=present, missing=missing, percent=round(100 * len(present) / len(required))
        )
    return out


class EditorContentService:
    """The editors' side of articles and tours: drafts, edits, the workflow steps, revisions and history. Runs in the
    request's unit of work (never commits); ``actor`` is the editor making the request."""

    def __init__(
        self, session: AsyncSession, locale: str, actor: UUID | None, stores: StoreRegistry | None = None
    ) -> None:
        self.session = session
        self.locale = locale
        self.actor = actor
        self.stores = stores

    async def _reader(self) -> Reader:
        return connection_reader(await self.session.connection())

    async def _row(self, kind: str, slug: str) -> ItemRow:
        row = await repository.item_by_slug(await self._reader(), slug, kind) if SLUG.fullmatch(slug) else None
        if row is None:
            raise NotFound(f"No {kind} has the slug {slug!r}.")
        return row

    def view(self, row: ItemRow) -> EditorItem:
        return EditorItem(
            slug=row.slug,
            kind=row.kind,
            status=row.status,
            version=row.version,
            is_sample=row.is_sample,
            fields=dict(row.body),
            completeness=completeness(row.kind, row.body),
            published_revision=row.published_revision,
            author_id=row.author_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def get(self, kind: str, slug: str) -> tuple[EditorItem, str]:
        """The working copy and its ETag; ``NotFound`` (404)."""
        row = await self._row(kind, slug)
        return self.view(row), item_etag(row)

    async def page(self, kind: str, statuses: Sequence[str], limit: int, cursor: str | None) -> EditorItemPage:
        """Working copies of ``kind`` by slug (all statuses, or those given)."""
        unknown = sorted(set(statuses) - {s.value for s in ContentStatus})
        if unknown:
            raise InvalidParameter.of_field("status", f"unknown {unknown}", "query")
        fingerprint = query_fingerprint("editor", kind, sorted(statuses))
        after = decode_cursor(cursor, fingerprint, (str,))[0] if cursor else None
        rows = list(
            await repository.list_items(
                await self._reader(), kind=kind, statuses=statuses, after_slug=after, limit=limit + 1
            )
        )
        page = rows[:limit]
        next_cursor = encode_cursor(fingerprint, [page[-1].slug]) if len(rows) > limit and page else None
        return EditorItemPage(items=[self.view(r) for r in page], next_cursor=next_cursor)

    async def create(self, kind: str, data: ItemCreate, *, is_sample: bool = False) -> tuple[EditorItem, str]:
        """A new draft of ``kind``. ``InvalidParameter`` (422) for invalid fields; ``WorkflowConflict`` (409) when
        the slug is taken."""
        if data.translations is msgspec.UNSET or not data.translations:
            raise _invalid("translations", "give the texts in at least one locale (a title each)")
        fields = await self._validated(kind, {}, data)
        slug: str = data.slug if data.slug is not None else self._slug_from(fields)
        if not SLUG.fullmatch(slug) or len(slug) > MAX_SLUG:
            raise _invalid("slug", "lower-case ASCII letters and digits in words joined by hyphens, ≤ 160")
        connection = await self.session.connection()
        if await repository.slug_taken(connection, slug):
            raise WorkflowConflict(f"the slug {slug!r} is taken; give another one", slug=slug)
        now = utcnow()
        values = {
            "slug": slug,
            "kind": kind,
            "status": ContentStatus.DRAFT,
            "version": 1,
            "is_sample": is_sample,
            "body": fields,
            "created_by": self.actor,
            "author_id": self.actor,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with connection.begin_nested():
                item_id = await repository.insert_item(connection, values)
        except IntegrityError as exc:  # a concurrent create of the same slug
            raise WorkflowConflict(f"the slug {slug!r} is taken; give another one", slug=slug) from exc
        await self._event(item_id, "created", ContentStatus.DRAFT, 1, None, now)
        return await self.get(kind, slug)

    async def edit(self, kind: str, slug: str, if_match: str | None, data: ItemFields) -> tuple[EditorItem, str]:
        """Apply ``data`` to the working copy at the version ``if_match`` names; the item becomes a draft (a
        published revision stays public until the next publish). 428/412/404/422 as the module docstring says."""
        row = await self._checked(kind, slug, if_match)
        fields = await self._validated(kind, row.body, data)
        now = utcnow()
        await self._write(row, {"body": fields, "status": ContentStatus.DRAFT, "author_id": self.actor}, now)
        await self._event(row.id, "edited", ContentStatus.DRAFT, row.version + 1, None, now)
        return await self.get(kind, slug)

    async def step(
        self, kind: str, slug: str, if_match: str | None, action: str, note: str | None = None, *, system: bool = False
    ) -> tuple[EditorItem, str]:
        """A workflow step: ``submit``, ``request_changes``, ``publish`` or ``archive``. ``WorkflowConflict`` (409)
        when the step does not apply to the item's status, ``ReviewerIsAuthor`` (403) when the author publishes.
        ``system`` is for the sample loader only (no account authored or reviews the shipped samples: both are
        recorded as ``None``); no HTTP route sets it."""
        row = await self._checked(kind, slug, if_match)
        if note is not None:
            note = clean_text(note, "note", multiline=True)
            if len(note) > NOTE_LIMIT:
                raise _invalid("note", f"at most {NOTE_LIMIT} characters")
        allowed = {
            "submit": ({ContentStatus.DRAFT}, ContentStatus.IN_REVIEW, "submitted"),
            "request_changes": ({ContentStatus.IN_REVIEW}, ContentStatus.DRAFT, "changes_requested"),
            "publish": ({ContentStatus.IN_REVIEW}, ContentStatus.PUBLISHED, "published"),
            "archive": (
                {ContentStatus.DRAFT, ContentStatus.IN_REVIEW, ContentStatus.PUBLISHED},
                ContentStatus.ARCHIVED,
                "archived",
            ),
        }
        sources, target, event = allowed[action]
        if row.status not in sources:
            raise WorkflowConflict(
                f"cannot {action.replace('_', ' ')} a {kind} that is {row.status}", status_now=row.status
            )
        if action == "submit":
            vietnamese = row.body.get("translations", {}).get("vi", {})
            missing = [name for name in REQUIRED_TEXTS[kind] if not vietnamese.get(name)]
            if kind == ContentKind.TOUR and len(row.body.get("stops", [])) < MIN_STOPS:
                missing.append("stops")
            if missing:
                raise WorkflowConflict(
                    f"a {kind} goes to review with its Vietnamese {', '.join(missing)}", missing=missing
                )
        if action == "publish" and row.author_id == self.actor and not system:
            raise ReviewerIsAuthor("another editor must review and publish what you wrote")
        now = utcnow()
        await self._write(row, {"status": target}, now)
        await self._event(row.id, event, target, row.version + 1, note, now)
        connection = await self.session.connection()
        if action == "publish":
            number = await repository.add_revision(
                connection,
                {
                    "item_id": row.id,
                    "item_version": row.version + 1,
                    "body": row.body,
                    "author_id": row.author_id,
                    "reviewer_id": self.actor,
                    "published_at": now,
                },
            )
            await repository.publish(
                connection,
                {
                    "item_id": row.id,
                    "slug": row.slug,
                    "kind": row.kind,
                    "revision": number,
                    "is_sample": row.is_sample,
                    "body": row.body,
                    "published_at": now,
                },
                publication_tags(row.body),
            )
        if action in ("publish", "archive"):
            if action == "archive":
                await repository.withdraw(connection, row.id)
            if not system:  # the sample loader runs before serve builds the search index (and has no job backend)
                content_changed(self.session, kind=kind, slugs=[row.slug])
            if self.stores is not None:
                purge_after_commit(self.session, self.stores)
        return await self.get(kind, slug)

    async def history(self, kind: str, slug: str) -> ItemHistory:
        """Every published revision (newest first) and every workflow step (oldest first); ``NotFound`` (404)."""
        row = await self._row(kind, slug)
        reader = await self._reader()
        revisions = [
            RevisionView(
                number=r.number,
                item_version=r.item_version,
                author_id=r.author_id,
                reviewer_id=r.reviewer_id,
                published_at=r.published_at,
                fields=dict(r.body),
            )
            for r in await repository.revisions_of(reader, row.id)
        ]
        events = [
            WorkflowEventView(
                action=e.action, actor_id=e.actor_id, status=e.status, version=e.version, note=e.note, at=e.at
            )
            for e in await repository.workflow_events_of(reader, row.id)
        ]
        return ItemHistory(slug=row.slug, revisions=revisions, events=events)

    # -- helpers ---------------------------------------------------------------------------------------------------

    async def _checked(self, kind: str, slug: str, if_match: str | None) -> ItemRow:
        if if_match is None:
            raise PreconditionRequired(f"send If-Match with the ETag of GET /v1/editor/{kind}s/{{slug}}")
        row = await self._row(kind, slug)
        if not if_match_allows(if_match, item_etag(row)):
            raise PreconditionFailed(f"{kind} {slug!r} changed since that version; read it again")
        return row

    async def _write(self, row: ItemRow, values: dict[str, Any], now: datetime) -> None:
        connection = await self.session.connection()
        if not await repository.update_item(connection, row.id, row.version, {**values, "updated_at": now}):
            raise PreconditionFailed(f"{row.kind} {row.slug!r} was changed by another editor just now; read it again")

    async def _event(
        self, item_id: int, action: str, status: str, version: int, note: str | None, now: datetime
    ) -> None:
        await repository.add_workflow_event(
            await self.session.connection(),
            {
                "item_id": item_id,
                "action": action,
                "actor_id": self.actor,
                "status": status,
                "version": version,
                "note": note,
                "at": now,
            },
        )

    @staticmethod
    def _slug_from(fields: Mapping[str, Any]) -> str:
        translations = fields.get("translations", {})
        for locale in ("vi", "en", *SUPPORTED_LOCALES):
            title = translations.get(locale, {}).get("title")
            if title:
                slug = slugify(title)[:MAX_SLUG].strip("-")
                if slug:
                    return slug
        raise _invalid("slug", "give a slug: no title spells one in Latin letters")

    async def _validated(self, kind: str, current: Mapping[str, Any], data: ItemFields) -> dict[str, Any]:
        """The working copy's fields after ``data`` (validated against the catalogue and the media store)."""
        fields: dict[str, Any] = dict(current.items())
        reader = await self._reader()
        if data.translations is not msgspec.UNSET:
            translations = dict(fields.get("translations", {}))
            for locale, texts in data.translations.items():
                locale = _locale_key(f"translations.{locale}", locale)
                if texts is None:
                    translations.pop(locale, None)
                else:
                    translations[locale] = _texts(f"translations.{locale}", texts)
            if not translations:
                raise _invalid("translations", "an item keeps its texts in at least one locale")
            fields["translations"] = translations
        if data.destinations is not msgspec.UNSET:
            wanted = _bounded("destinations", data.destinations)
            fields["destinations"] = await self._destinations("destinations", wanted, reader)
        if data.communes is not msgspec.UNSET:
            codes = _bounded("communes", sorted(set(data.communes)))
            bad = [c for c in codes if not COMMUNE_CODE.fullmatch(c)]
            known = await repository.commune_names(reader, [c for c in codes if c not in bad])
            unknown = bad + [c for c in codes if c not in bad and c not in known]
            if unknown:
                raise _invalid("communes", f"no 2025 commune has the code(s) {unknown}")
            fields["communes"] = codes
        if data.peoples is not msgspec.UNSET:
            fields["peoples"] = _codes("peoples", _bounded("peoples", data.peoples), PEOPLES)
        if data.topics is not msgspec.UNSET:
            fields["topics"] = _codes("topics", _bounded("topics", data.topics), TOPICS)
        if data.media_ids is not msgspec.UNSET:
            ids = list(dict.fromkeys(_bounded("media_ids", data.media_ids)))
            found = await existing_media_ids(reader, ids)
            if missing := [i for i in ids if i not in found]:
                raise _invalid("media_ids", f"no media item has the id(s) {missing}")
            fields["media_ids"] = ids
        tour_fields = ("stops", "route", "duration_minutes", "difficulty", "elevation_gain_m", "best_months")
        if kind == ContentKind.ARTICLE:
            given = [name for name in tour_fields if getattr(data, name) is not msgspec.UNSET]
            if given:
                raise _invalid(given[0], "belongs to tours, not articles")
            return fields
        if data.stops is not msgspec.UNSET:
            stops = _bounded("stops", data.stops, MAX_STOPS)
            if len(stops) < MIN_STOPS:
                raise _invalid("stops", f"a tour has {MIN_STOPS} to {MAX_STOPS} stops")
            slugs = await self._destinations("stops.destination", [s.destination for s in stops], reader, unique=False)
            fields["stops"] = [
                {
                    "destination": slug,
                    "notes": self._notes(f"stops[{i}].notes", stop.notes),
                    "trigger_zone": trigger_zone(stop.trigger_zone, f"stops[{i}].trigger_zone"),
                }
                for i, (slug, stop) in enumerate(zip(slugs, stops, strict=True))
            ]
        if data.route is not msgspec.UNSET:
            fields["route"] = route_geometry(data.route)
        if data.duration_minutes is not msgspec.UNSET:
            fields["duration_minutes"] = self._int("duration_minutes", data.duration_minutes, 1, 10_080)
        if data.difficulty is not msgspec.UNSET:
            if data.difficulty is not None and data.difficulty not in DIFFICULTIES:
                raise _invalid("difficulty", f"one of {', '.join(DIFFICULTIES)}")
            fields["difficulty"] = data.difficulty
        if data.elevation_gain_m is not msgspec.UNSET:
            fields["elevation_gain_m"] = self._int("elevation_gain_m", data.elevation_gain_m, 0, 10_000)
        if data.best_months is not msgspec.UNSET:
            months = sorted(set(data.best_months))
            if any(not 1 <= m <= 12 for m in months):
                raise _invalid("best_months", "months are 1 to 12")
            fields["best_months"] = months
        return fields

    @staticmethod
    def _int(field: str, value: int | None, low: int, high: int) -> int | None:
        if value is not None and not low <= value <= high:
            raise _invalid(field, f"between {low} and {high}")
        return value

    @staticmethod
    def _notes(field: str, notes: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for locale, text in notes.items():
            cleaned = clean_text(text, f"{field}.{_locale_key(f'{field}.{locale}', locale)}", multiline=True)
            if len(cleaned) > NOTE_LIMIT:
                raise _invalid(f"{field}.{locale}", f"at most {NOTE_LIMIT} characters")
            out[locale] = cleaned
        return out

    @staticmethod
    async def _destinations(field: str, slugs: Sequence[str], reader: Reader, unique: bool = True) -> list[str]:
        wanted = list(dict.fromkeys(slugs)) if unique else list(slugs)
        bad = [s for s in wanted if not SLUG.fullmatch(s)]
        rows = await repository.summaries_by_slug(reader, [s for s in dict.fromkeys(wanted) if s not in bad], ())
        missing = list(dict.fromkeys(bad + [s for s in wanted if s not in bad and s not in rows]))
        if missing:
            raise _invalid(field, f"no destination has the slug(s) {missing}")
        return wanted
