"""Safety and access alerts: the board publishes them, the app gets those that touch what it shows.

- **Targets**: 2025 communes, tours or trails (by slug), and a drawn area (GeoJSON Polygon/MultiPolygon). An alert
  touches a point when its area or one of its communes' boundaries contains it; a commune when it names it or its
  area meets the commune's boundary; a tour when it names it, names a commune of one of its stops, or its area
  meets the tour's route.
- **Validity**: an alert is served only while ``valid_from <= now < valid_until`` (UTC) and not withdrawn. The
  public list is never kept by the server's response cache, and its ``Cache-Control: max-age`` never reaches past
  the next moment an alert starts or ends, so no client is told to keep an expired alert.
- **Severity** follows OASIS CAP 1.2 (Common Alerting Protocol, §3.2.2): minor, moderate, severe, extreme; lists
  come most severe first, then by start.
- Writes (role ``board`` or ``editor``) name the version they apply to in ``If-Match`` (RFC 9110 §13.1.1) and purge
  the response caches after commit (offline packs and tours carry alerts).
"""

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar.stores.registry import StoreRegistry
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import repository
from src.guide.alert_schemas import AlertFields, AlertPage, AlertView, EditorAlert, EditorAlertPage
from src.guide.content import PROVINCE_BOX, ContentReader
from src.guide.models import ContentKind
from src.guide.service import COMMUNE_CODE, SLUG, if_match_allows
from src.kernel.caching import purge_after_commit
from src.kernel.db import Reader, connection_reader
from src.kernel.errors import InvalidParameter, NotFound, PreconditionFailed, PreconditionRequired
from src.kernel.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, pick
from src.kernel.pagination import decode_cursor, encode_cursor, query_fingerprint
from src.kernel.text import clean_text

#: OASIS CAP 1.2 severities, most severe first (the order lists are sorted in).
SEVERITIES = ("extreme", "severe", "moderate", "minor")
CATEGORIES = ("road_closure", "landslide", "flood", "weather", "frost_snow", "crowd", "other")
MAX_VALIDITY = timedelta(days=90)
TEXT_LIMITS = {"headline": 200, "description": 5_000, "instruction": 2_000}
MAX_TARGETS = 100
#: Where every locale's fallback chain ends (requested -> en -> vi): an alert has its headline in one of them, so
#: no reader ever gets an alert without a headline.
HEADLINE_LOCALES = ("en", DEFAULT_LOCALE)
#: The longest a client may keep the public list (seconds), further bounded by the next start or end of an alert.
MAX_AGE_SECONDS = 60


def _invalid(field: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {message}", errors=[{"field": field, "source": "body", "message": message}])


def area_geometry(value: Any) -> dict[str, Any] | None:
    """A drawn area: a valid GeoJSON Polygon or MultiPolygon (RFC 7946 §3.1.6-7) inside a box around the province,
    every ring closed (at least four positions, the last equal to the first: RFC 7946 §3.1.6; shapely would close an
    open one silently), outer rings re-wound counter-clockwise; ``None`` clears it. ``InvalidParameter`` (422)
    otherwise."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise _invalid("area", "a GeoJSON Polygon or MultiPolygon")
    try:
        geometry = shape(value)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise _invalid("area", f"not a GeoJSON {value.get('type')}: {exc}") from exc
    if geometry.is_empty:
        raise _invalid("area", "an empty area")
    for polygon in [value["coordinates"]] if value["type"] == "Polygon" else value["coordinates"]:
        for ring in polygon:
            if len(ring) < 4 or list(ring[0]) != list(ring[-1]):
                raise _invalid("area", "each ring has at least 4 positions, the last equal to the first (RFC 7946)")
    if not geometry.is_valid:
        raise _invalid("area", f"not a valid area: {explain_validity(geometry)}")
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    box = PROVINCE_BOX
    if not all(math.isfinite(v) for v in geometry.bounds) or not (
        box[0] <= min_lon and max_lon <= box[2] and box[1] <= min_lat and max_lat <= box[3]
    ):
        raise _invalid("area", "the area lies outside Lào Cai province (positions are [lon, lat])")
    if geometry.geom_type == "Polygon":
        polygons = [orient(geometry, sign=1.0)]
    else:
        polygons = [orient(p, sign=1.0) for p in geometry.geoms]
    rings = [[[list(xy) for xy in p.exterior.coords], *[[list(xy) for xy in r.coords] for r in p.interiors]]
             for p in polygons]  # fmt: skip
    if value["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def state_of(row: Any, now: datetime) -> str:
    """``withdrawn``, ``scheduled``, ``active`` or ``expired`` at ``now``."""
    if row.withdrawn:
        return "withdrawn"
    if now < row.valid_from:
        return "scheduled"
    return "active" if now < row.valid_until else "expired"


def _texts(translations: Mapping[str, Mapping[str, str]], name: str, locale: str) -> tuple[str | None, str | None]:
    found = pick({loc: t[name] for loc, t in translations.items() if t.get(name)}, locale)
    return (None, None) if found is None else found


def render(row: Any, locale: str) -> AlertView:
    """The public view of an alert in ``locale`` (texts along the fallback chain, each with its locale)."""
    headline, headline_locale = _texts(row.translations, "headline", locale)
    description, description_locale = _texts(row.translations, "description", locale)
    instruction, instruction_locale = _texts(row.translations, "instruction", locale)
    return AlertView(
        id=row.id,
        category=row.category,
        severity=row.severity,
        headline=headline or "",
        headline_locale=headline_locale or "und",
        description=description,
        description_locale=description_locale,
        instruction=instruction,
        instruction_locale=instruction_locale,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        communes=list(row.commune_codes),
        tours=list(row.tour_slugs),
        area=row.area,
        updated_at=row.updated_at,
    )


def _ordered(rows: Sequence[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (SEVERITIES.index(r.severity), r.valid_from, r.id))


async def active_alerts(
    reader: Reader,
    now: datetime,
    *,
    locale: str,
    point: tuple[float, float] | None = None,
    commune_codes: Sequence[str] = (),
    tour_slugs: Sequence[str] = (),
    routes: Sequence[Sequence[Sequence[float]]] = (),
) -> list[AlertView]:
    """The alerts in force at ``now`` (aware UTC) touching any of what is given (all of them when nothing is):
    ``point`` (lat, lon), ``commune_codes``, ``tour_slugs``, ``routes`` (each a list of ``[lon, lat]`` positions:
    alerts whose area meets one). Rendered in ``locale``, most severe first. Offline packs call it for their area."""
    rows = await repository.alerts_in_force(reader, now)
    if point is None and not commune_codes and not tour_slugs and not routes:
        return [render(r, locale) for r in _ordered(rows)]
    wanted_communes = set(commune_codes)
    boundary_codes = {c for r in rows for c in r.commune_codes} if point is not None else set()
    boundaries = {
        code: shape(geometry)
        for code, geometry in (await repository.commune_boundaries(reader, sorted(boundary_codes | wanted_communes)))
        .items()
    }  # fmt: skip
    here = Point(point[1], point[0]) if point is not None else None
    lines = [[list(p[:2]) for p in route] for route in routes if len(route) >= 2]
    line: BaseGeometry | None = shape({"type": "MultiLineString", "coordinates": lines}) if lines else None
    touching = []
    for row in rows:
        area = shape(row.area) if row.area else None
        hit = bool(wanted_communes & set(row.commune_codes)) or bool(set(tour_slugs) & set(row.tour_slugs))
        if not hit and here is not None:
            hit = (area is not None and area.covers(here)) or any(
                boundaries[c].covers(here) for c in row.commune_codes if c in boundaries
            )
        if not hit and area is not None:
            hit = any(area.intersects(boundaries[c]) for c in wanted_communes if c in boundaries)
            hit = hit or (line is not None and area.intersects(line))
        if hit:
            touching.append(row)
    return [render(r, locale) for r in _ordered(touching)]


async def alerts_max_age(reader: Reader, now: datetime, ceiling: int) -> int:
    """How many seconds (at most ``ceiling``) a client may keep an answer carrying the alerts in force at ``now``:
    never past the next start or end of an alert (RFC 9111 §5.2.2.1 ``max-age``), so no cache serves an expired
    alert, or misses a new one, for longer than that. The public list and offline packs both send it."""
    change = await repository.next_alert_change(reader, now)
    if change is None:
        return ceiling
    return max(0, min(ceiling, math.floor((change - now).total_seconds())))


class AlertService:
    """The public side: the alerts touching a point, a commune or a tour, in one negotiated ``locale``."""

    def __init__(self, reader: Reader, locale: str, now: datetime) -> None:
        self.reader = reader
        self.locale = locale
        self.now = now

    async def touching(
        self, *, lat: float | None, lon: float | None, commune: str | None, tour: str | None
    ) -> tuple[AlertPage, int]:
        """The alerts in force that touch what is given, and how many seconds a client may keep the answer (never
        past the next start or end of an alert). ``InvalidParameter`` (422) when only one of lat/lon is given;
        ``NotFound`` (404) for an unknown commune or tour."""
        if (lat is None) != (lon is None):
            raise InvalidParameter.of_field("lat" if lat is None else "lon", "lat and lon go together", "query")
        communes: list[str] = []
        tours: list[str] = []
        routes: list[list[list[float]]] = []
        if commune is not None:
            if not COMMUNE_CODE.fullmatch(commune) or await repository.get_commune(self.reader, commune) is None:
                raise NotFound(f"No 2025 commune has the code {commune!r}.")
            communes.append(commune)
        if tour is not None:
            row = await repository.publication(self.reader, ContentKind.TOUR, tour) if SLUG.fullmatch(tour) else None
            if row is None:
                raise NotFound(f"No published tour has the slug {tour!r}.")
            view = await ContentReader(self.reader, self.locale).tour(row)
            tours.append(tour)
            routes.append(view.route.geometry.coordinates)
            communes.extend(sorted({s.destination.commune for s in view.stops if s.destination.commune}))
        point = (lat, lon) if lat is not None and lon is not None else None
        items = await active_alerts(
            self.reader, self.now, locale=self.locale, point=point, commune_codes=communes, tour_slugs=tours,
            routes=routes,
        )  # fmt: skip
        return AlertPage(items=items), await alerts_max_age(self.reader, self.now, MAX_AGE_SECONDS)


class EditorAlertService:
    """The board's side: create, change and withdraw alerts (role ``board`` or ``editor``). Runs in the request's
    unit of work; purges the response caches after the commit."""

    def __init__(self, session: AsyncSession, actor: UUID, now: datetime, stores: StoreRegistry | None = None) -> None:
        self.session = session
        self.actor = actor
        self.now = now
        self.stores = stores

    def view(self, row: Any) -> EditorAlert:
        return EditorAlert(
            id=row.id,
            state=state_of(row, self.now),
            version=row.version,
            category=row.category,
            severity=row.severity,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            communes=list(row.commune_codes),
            tours=list(row.tour_slugs),
            area=row.area,
            translations={k: dict(v) for k, v in row.translations.items()},
            created_by=row.created_by,
            updated_by=row.updated_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @staticmethod
    def etag(row: Any) -> str:
        return f'"alert-{row.id}-v{row.version}"'

    async def _reader(self) -> Reader:
        return connection_reader(await self.session.connection())

    async def get(self, alert_id: int) -> tuple[EditorAlert, str]:
        row = await repository.alert_by_id(await self._reader(), alert_id)
        if row is None:
            raise NotFound(f"No alert has the id {alert_id}.")
        return self.view(row), self.etag(row)

    async def page(self, limit: int, cursor: str | None) -> EditorAlertPage:
        fingerprint = query_fingerprint("alerts")
        after = decode_cursor(cursor, fingerprint, (int,))[0] if cursor else None
        rows = list(await repository.list_alerts(await self._reader(), after_id=after, limit=limit + 1))
        page = rows[:limit]
        next_cursor = encode_cursor(fingerprint, [page[-1].id]) if len(rows) > limit and page else None
        return EditorAlertPage(items=[self.view(r) for r in page], next_cursor=next_cursor)

    async def create(self, data: AlertFields) -> tuple[EditorAlert, str]:
        """Publish a new alert (in force from ``valid_from``). ``InvalidParameter`` (422) for invalid fields."""
        for name in ("category", "severity", "valid_from", "valid_until", "translations"):
            if getattr(data, name) is msgspec.UNSET:
                raise _invalid(name, "required")
        values = await self._validated({}, data)
        if values["valid_until"] <= self.now:
            raise _invalid("valid_until", "an alert that has already ended is not published")
        connection = await self.session.connection()
        alert_id = await repository.insert_alert(
            connection,
            {**values, "version": 1, "withdrawn": False, "created_by": self.actor, "updated_by": self.actor,
             "created_at": self.now, "updated_at": self.now},
        )  # fmt: skip
        self._purge()
        return await self.get(alert_id)

    async def edit(self, alert_id: int, if_match: str | None, data: AlertFields) -> tuple[EditorAlert, str]:
        """Change an alert at the version ``If-Match`` names (428 without, 412 when stale, 404, 422)."""
        row = await self._checked(alert_id, if_match)
        values = await self._validated(row, data)
        await self._write(row, values)
        return await self.get(alert_id)

    async def withdraw(self, alert_id: int, if_match: str | None) -> tuple[EditorAlert, str]:
        """End an alert now: it is no longer served (its row stays, marked withdrawn)."""
        row = await self._checked(alert_id, if_match)
        await self._write(row, {"withdrawn": True})
        return await self.get(alert_id)

    async def _checked(self, alert_id: int, if_match: str | None) -> Any:
        if if_match is None:
            raise PreconditionRequired("send If-Match with the ETag of GET /v1/editor/alerts/{id}")
        row = await repository.alert_by_id(await self._reader(), alert_id)
        if row is None:
            raise NotFound(f"No alert has the id {alert_id}.")
        if not if_match_allows(if_match, self.etag(row)):
            raise PreconditionFailed(f"alert {alert_id} changed since that version; read it again")
        return row

    async def _write(self, row: Any, values: dict[str, Any]) -> None:
        connection = await self.session.connection()
        written = await repository.update_alert(
            connection, row.id, row.version, {**values, "updated_by": self.actor, "updated_at": self.now}
        )
        if not written:
            raise PreconditionFailed(f"alert {row.id} was changed by someone else just now; read it again")
        self._purge()

    def _purge(self) -> None:
        if self.stores is not None:
            purge_after_commit(self.session, self.stores)

    async def _validated(self, current: Any, data: AlertFields) -> dict[str, Any]:
        def now_or(name: str, fallback: Any) -> Any:
            value = getattr(data, name)
            return fallback if value is msgspec.UNSET else value

        category = now_or("category", getattr(current, "category", None))
        if category not in CATEGORIES:
            raise _invalid("category", f"one of {', '.join(CATEGORIES)}")
        severity = now_or("severity", getattr(current, "severity", None))
        if severity not in SEVERITIES:
            raise _invalid("severity", f"one of {', '.join(reversed(SEVERITIES))} (OASIS CAP 1.2)")
        valid_from = now_or("valid_from", getattr(current, "valid_from", None))
        valid_until = now_or("valid_until", getattr(current, "valid_until", None))
        for name, value in (("valid_from", valid_from), ("valid_until", valid_until)):
            if value.tzinfo is None:
                raise _invalid(name, "an RFC 3339 time with its offset")
            try:
                value.astimezone(UTC)
            except OverflowError:  # 9999-12-31T23:00:00-05:00 has no UTC datetime: it was a 500 when stored
                raise _invalid(name, "out of range once in UTC") from None
        valid_from, valid_until = valid_from.astimezone(UTC), valid_until.astimezone(UTC)
        if valid_until <= valid_from:
            raise _invalid("valid_until", "must be after valid_from")
        if valid_until - valid_from > MAX_VALIDITY:
            raise _invalid("valid_until", f"at most {MAX_VALIDITY.days} days after valid_from")
        reader = await self._reader()
        communes = sorted(set(now_or("communes", getattr(current, "commune_codes", []))))
        bad = [c for c in communes if not COMMUNE_CODE.fullmatch(c)]
        known = await repository.commune_names(reader, [c for c in communes if c not in bad])
        if unknown := bad + [c for c in communes if c not in bad and c not in known]:
            raise _invalid("communes", f"no 2025 commune has the code(s) {unknown}")
        tours = sorted(set(now_or("tours", getattr(current, "tour_slugs", []))))
        for slug in tours:
            if not SLUG.fullmatch(slug) or await repository.item_by_slug(reader, slug, ContentKind.TOUR) is None:
                raise _invalid("tours", f"no tour has the slug {slug!r}")
        area = area_geometry(data.area) if data.area is not msgspec.UNSET else getattr(current, "area", None)
        if len(communes) > MAX_TARGETS or len(tours) > MAX_TARGETS:
            raise _invalid("communes", f"at most {MAX_TARGETS} communes and {MAX_TARGETS} tours")
        if not communes and not tours and area is None:
            raise _invalid("communes", "an alert targets communes, tours or an area")
        translations = dict(getattr(current, "translations", {}))
        if data.translations is not msgspec.UNSET:
            for locale, texts in data.translations.items():
                if locale not in SUPPORTED_LOCALES:
                    raise _invalid(f"translations.{locale}", f"unknown locale; one of {', '.join(SUPPORTED_LOCALES)}")
                if texts is None:
                    translations.pop(locale, None)
                    continue
                cleaned = {}
                for name, limit in TEXT_LIMITS.items():
                    value = getattr(texts, name)
                    if value is None:
                        continue
                    value = clean_text(value, f"translations.{locale}.{name}", multiline=name != "headline")
                    if len(value) > limit:
                        raise _invalid(f"translations.{locale}.{name}", f"at most {limit} characters")
                    cleaned[name] = value
                translations[locale] = cleaned
        if not any(translations.get(loc, {}).get("headline") for loc in HEADLINE_LOCALES):
            raise _invalid("translations", "an alert has its headline in en or vi (where every locale falls back)")
        return {
            "category": category,
            "severity": severity,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "commune_codes": communes,
            "tour_slugs": tours,
            "area": area,
            "translations": translations,
        }
