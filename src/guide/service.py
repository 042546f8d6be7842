"""The rules of the catalogue: filters, distance ordering, keyset paging, names along the locale fallback chain.

Services read through the repository and never commit (the request owns the transaction).
"""

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
from litestar.stores.registry import StoreRegistry
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import qr, repository
from src.guide.events import catalogue_changed
from src.guide.geo import Box, circle_box, distances_m
from src.guide.hours import holiday_years, hours_state
from src.guide.hours import validate as validate_hours
from src.guide.models import DestinationKind
from src.guide.names import fold, slugify
from src.guide.repository import CommuneName, CommuneRow, SummaryRow
from src.guide.schemas import (
    Alias,
    CommuneDetail,
    CommunePage,
    CommuneRef,
    CommuneSummary,
    DestinationCreate,
    DestinationDetail,
    DestinationEdit,
    DestinationPage,
    DestinationSummary,
    DuplicateRef,
    Feature,
    FeatureCollection,
    FeatureProperties,
    FormerUnit,
    Location,
    OpeningState,
    PointGeometry,
    SourceRecord,
)
from src.kernel.caching import purge_after_commit
from src.kernel.db import Reader, connection_reader, utcnow
from src.kernel.errors import InvalidParameter, NotFound, PreconditionFailed, PreconditionRequired
from src.kernel.i18n import fallback_chain, pick
from src.kernel.localtime import VIETNAM
from src.kernel.pagination import decode_cursor, encode_cursor, query_fingerprint
from src.kernel.text import clean_text

#: The shape of every issued slug and of a 2025 commune code; anything else cannot exist (404 without a query).
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
COMMUNE_CODE = re.compile(r"[0-9]{5}")

#: Largest radius accepted by the radius filter, in kilometres (the province is about 250 km across).
MAX_RADIUS_KM = 300.0


@dataclass(frozen=True)
class Near:
    """A radius filter: points within ``radius_km`` kilometres of (``lat``, ``lon``), WGS84 degrees."""

    lat: float
    lon: float
    radius_km: float


def near_of(lat: float | None, lon: float | None, radius_km: float | None) -> Near | None:
    """The radius filter of query parameters ``lat``/``lon`` (WGS84 degrees) and ``radius_km`` (kilometres), which
    go together: ``None`` when none is given, ``InvalidParameter`` (422) naming the missing ones when only some are."""
    given = {"lat": lat, "lon": lon, "radius_km": radius_km}
    if all(v is None for v in given.values()):
        return None
    missing = [name for name, v in given.items() if v is None]
    if missing:
        raise InvalidParameter(
            "lat, lon and radius_km go together; missing: " + ", ".join(missing),
            errors=[
                {"field": name, "source": "query", "message": "required with lat/lon/radius_km"} for name in missing
            ],
        )
    return Near(lat=float(lat or 0), lon=float(lon or 0), radius_km=float(radius_km or 0))


@dataclass(frozen=True)
class DestinationQuery:
    """Filters of ``GET /v1/destinations``; all given filters must hold."""

    kinds: Sequence[str] = ()
    commune: str | None = None
    near: Near | None = None
    bbox: Box | None = None
    limit: int = 20
    cursor: str | None = None


class CatalogueService:
    """Read access to destinations and communes, rendered in one negotiated ``locale``."""

    def __init__(self, reader: Reader, locale: str) -> None:
        self.reader = reader
        self.locale = locale
        self.chain = fallback_chain(locale)
        #: Communes are named in Vietnamese and English only: the first of the two along the chain.
        self.commune_in_english = next(c for c in self.chain if c in ("vi", "en")) == "en"

    # -- destinations ---------------------------------------------------------------------------------------------

    async def list_destinations(self, query: DestinationQuery) -> DestinationPage:
        """A page of destinations: by slug, or by distance (then id) when ``near`` is given.

        Raises ``InvalidParameter`` (422) for an unknown commune or a cursor of another query.
        """
        if query.commune is not None:
            await self._require_commune(query.commune)
        boxes = [query.bbox] if query.bbox else []
        fingerprint = query_fingerprint(
            sorted(query.kinds),
            query.commune,
            query.near and vars(query.near),
            query.bbox and vars(query.bbox),
        )
        if query.near is None:
            after = decode_cursor(query.cursor, fingerprint, (str,))[0] if query.cursor else None
            rows = await repository.list_destinations(
                self.reader,
                kinds=query.kinds,
                commune=query.commune,
                boxes=boxes,
                after_slug=after,
                limit=query.limit + 1,
                chain=self.chain,
            )
            page, more = list(rows[: query.limit]), len(rows) > query.limit
            items = self._summaries(page, {})
            next_cursor = encode_cursor(fingerprint, [page[-1].slug]) if more and page else None
            return DestinationPage(items=items, next_cursor=next_cursor)

        near = query.near
        radius_m = near.radius_km * 1000.0
        candidates = await repository.points_in_boxes(
            self.reader,
            kinds=query.kinds,
            commune=query.commune,
            boxes=[*boxes, circle_box(near.lat, near.lon, radius_m)],
        )
        # Rows are unpacked by position (id, lat, lon): a Row's attribute lookup costs ~0.3 µs, times hundreds.
        points = [(point_id, lat, lon) for point_id, lat, lon in cast("Sequence[tuple[int, float, float]]", candidates)]
        distances_to = distances_m(near.lat, near.lon, [(lat, lon) for _, lat, lon in points])
        ranked = sorted((d, point[0]) for d, point in zip(distances_to, points, strict=True) if d <= radius_m)
        if query.cursor:
            last = tuple(decode_cursor(query.cursor, fingerprint, ((int, float), int)))
            ranked = [entry for entry in ranked if entry > last]
        page_entries = ranked[: query.limit]
        by_id = await repository.summaries_by_id(self.reader, [row_id for _, row_id in page_entries], self.chain)
        distances = {row_id: d for d, row_id in page_entries}
        items = self._summaries([by_id[row_id] for _, row_id in page_entries if row_id in by_id], distances)
        next_cursor = None
        if len(ranked) > query.limit and page_entries:
            d, row_id = page_entries[-1]
            next_cursor = encode_cursor(fingerprint, [d, row_id])
        return DestinationPage(items=items, next_cursor=next_cursor)

    async def destination_qr(
        self,
        slug: str,
        *,
        base: str,
        image: qr.QrImage,
        scale: int = qr.DEFAULT_SCALE,
        level: qr.QrLevel = qr.DEFAULT_LEVEL,
        with_lang: bool = False,
    ) -> bytes:
        """The QR code for a sign at the destination ``slug`` (``src/guide/qr.py``): the deep link ``base + slug``
        (``+ "?lang=<negotiated locale>"`` when ``with_lang``) as SVG or PNG bytes at ``scale`` px per module and
        error correction ``level``. Raises ``NotFound`` (404) for an unknown slug."""
        if not (SLUG.fullmatch(slug) and await repository.destination_exists(self.reader, slug)):
            raise NotFound(f"No destination has the slug {slug!r}.")
        link = qr.deep_link(base, slug, self.locale if with_lang else None)
        return qr.render(link, image, scale, level)

    async def get_destination(self, slug: str) -> DestinationDetail:
        """One destination by slug; raises ``NotFound`` (404)."""
        row = await repository.get_destination(self.reader, slug) if SLUG.fullmatch(slug) else None
        if row is None or row.id is None:
            raise NotFound(f"No destination has the slug {slug!r}.")
        names: dict[str, str] = {}
        aliases: list[tuple[int, Alias]] = []
        extra: list[SourceRecord] = []
        for part in await repository.detail_parts(self.reader, row.id):
            if part.part == "t":
                names[str(part.a)] = str(part.b)
            elif part.part == "a":
                aliases.append((part.ord, Alias(name=str(part.a), lang=str(part.b), kind=str(part.c))))
            else:
                extra.append(
                    SourceRecord(
                        source=str(part.a),
                        source_id=str(part.b),
                        name=str(part.c),
                        url=part.d,
                        licence=str(part.e),
                        attribution=str(part.f),
                        note=part.g,
                        primary=False,
                    )
                )
        aliases.sort(key=lambda entry: entry[0])
        extra.sort(key=lambda record: record.source_id)
        picked = pick(names, self.locale)
        name, name_locale = picked if picked is not None else (row.name, row.name_locale)
        duplicate_slugs = await repository.slugs_by_source_id(self.reader, row.possible_duplicates)
        primary = SourceRecord(
            source=row.source,
            source_id=row.source_id,
            name=row.name,
            url=row.source_url,
            licence=row.licence,
            attribution=row.attribution,
            note=row.qa_note,
            primary=True,
        )
        return DestinationDetail(
            slug=row.slug,
            kind=row.kind,
            name=name,
            name_locale=name_locale,
            names=names,
            location=Location(lat=row.lat, lon=row.lon),
            elevation_m=row.elevation_m,
            dem_m=row.dem_m,
            population=row.population,
            commune=self._row_commune(row),
            coord_precision=row.coord_precision,
            in_province=row.in_province,
            outside_by_m=row.outside_by_m,
            quality_flags=list(row.quality_flags),
            qa_note=row.qa_note,
            possible_duplicates=[
                DuplicateRef(source_id=ref, slug=duplicate_slugs.get(ref)) for ref in row.possible_duplicates
            ],
            aliases=[alias for _, alias in aliases],
            sources=[primary, *extra],
            updated_at=row.updated_at,
            opening_hours=row.opening_hours,
        )

    async def opening_state(self, slug: str, at: datetime) -> OpeningState:
        """Whether the destination ``slug`` is open at ``at`` (aware) and when that changes; ``NotFound`` (404)."""
        row = await repository.get_destination(self.reader, slug) if SLUG.fullmatch(slug) else None
        if row is None:
            raise NotFound(f"No destination has the slug {slug!r}.")
        first, last = holiday_years()
        local = at.astimezone(VIETNAM)
        if row.opening_hours is None:
            return OpeningState(slug=slug, opening_hours=None, at=local, open_now=None, opens_at=None, closes_at=None,
                                comment=None, holidays_known=list(range(first, last + 1)))  # fmt: skip
        state = hours_state(row.opening_hours, at)
        return OpeningState(
            slug=slug,
            opening_hours=row.opening_hours,
            at=local,
            open_now=state.open_now,
            opens_at=state.opens_at,
            closes_at=state.closes_at,
            comment=state.comment or None,
            holidays_known=list(range(first, last + 1)),
        )

    async def map_features(self, box: Box, kinds: Sequence[str], limit: int) -> FeatureCollection:
        """A GeoJSON FeatureCollection of the destinations in ``box`` (landmarks first), at most ``limit``."""
        rows = list(await repository.map_features(self.reader, kinds=kinds, box=box, limit=limit + 1, chain=self.chain))
        truncated = len(rows) > limit
        rows = rows[:limit]
        features = [self._feature(row) for row in rows]
        return FeatureCollection(type="FeatureCollection", features=features, truncated=truncated)

    async def commune_features(self, commune: str) -> list[Feature]:
        """GeoJSON Point Features of every destination in the 2025 commune ``commune`` (5-digit code), by slug (an
        offline pack's places)."""
        rows = await repository.list_destinations(
            self.reader, kinds=(), commune=commune, boxes=(), after_slug=None, limit=100_000, chain=self.chain
        )
        return [self._feature(row) for row in rows]

    async def features_by_slug(self, slugs: Sequence[str]) -> list[Feature]:
        """GeoJSON Point Features of the destinations with these slugs, in the order given (unknown slugs left out)."""
        rows = await repository.summaries_by_slug(self.reader, slugs, self.chain)
        return [self._feature(rows[slug]) for slug in slugs if slug in rows]

    def _feature(self, row: SummaryRow) -> Feature:
        """A destination as a GeoJSON Feature (RFC 7946 §3.2, ``[lon, lat]``), its name along the chain."""
        name, name_locale = self._name(row)
        return Feature(
            type="Feature",
            id=row.slug,
            geometry=PointGeometry(type="Point", coordinates=[row.lon, row.lat]),
            properties=FeatureProperties(
                slug=row.slug,
                kind=row.kind,
                name=name,
                name_locale=name_locale,
                commune=row.commune_code,
                quality_flags=list(row.quality_flags),
            ),
        )

    # -- communes -------------------------------------------------------------------------------------------------

    async def list_communes(self, q: str | None, limit: int, cursor: str | None) -> CommunePage:
        """Communes by code; ``q`` matches current or former unit names, with or without diacritics."""
        folded = fold(q) if q else None
        fingerprint = query_fingerprint("communes", folded)
        after = decode_cursor(cursor, fingerprint, (str,))[0] if cursor else None
        rows = list(await repository.list_communes(self.reader, folded_query=folded, after_code=after, limit=limit + 1))
        page = rows[:limit]
        next_cursor = encode_cursor(fingerprint, [page[-1].code]) if len(rows) > limit and page else None
        return CommunePage(items=[self._commune_summary(c) for c in page], next_cursor=next_cursor)

    async def get_commune(self, code: str) -> CommuneDetail:
        """One 2025 commune with boundary and former units; raises ``NotFound`` (404), naming the successor when
        ``code`` is a former unit's code."""
        commune = await repository.get_commune(self.reader, code) if COMMUNE_CODE.fullmatch(code) else None
        if commune is None:
            former = await repository.former_unit(self.reader, code) if COMMUNE_CODE.fullmatch(code) else None
            if former is not None:
                raise NotFound(
                    f"{code} was the code of {former.old_name} before 2025-07-01; it is now part of commune "
                    f"{former.commune_code}.",
                    successor=former.commune_code,
                )
            raise NotFound(f"No 2025 commune has the code {code!r}.")
        former_units = await repository.former_units_of(self.reader, code)
        return CommuneDetail(
            **self._commune_fields(commune),
            boundary=commune.boundary,
            old_province=commune.old_province,
            old_districts=list(commune.old_districts),
            former_units=[
                FormerUnit(
                    code=f.old_code,
                    name=f.old_name,
                    district=f.old_district,
                    province=f.old_province,
                    legal_basis=f.legal_basis,
                )
                for f in former_units
            ],
            source=commune.source,
            licence=commune.licence,
        )

    # -- helpers --------------------------------------------------------------------------------------------------

    async def _require_commune(self, code: str) -> None:
        if await repository.commune_names(self.reader, [code]):
            return
        former = await repository.former_unit(self.reader, code)
        hint = f" ({code} is a pre-2025 code, now part of {former.commune_code})" if former else ""
        message = f"commune {code} is not a 2025 commune code{hint}"
        raise InvalidParameter(message, errors=[{"field": "commune", "source": "query", "message": message}])

    def _name(self, row: SummaryRow) -> tuple[str, str]:
        """The row's name along the fallback chain (its ``n0``, ``n1``... columns), else its own name."""
        for i, locale in enumerate(self.chain[: repository.MAX_CHAIN]):
            name = getattr(row, f"n{i}")
            if name is not None:
                return name, locale
        return row.name, row.name_locale

    def _row_commune(self, row: SummaryRow) -> CommuneRef | None:
        """The reference to the row's commune, from its ``commune_*`` columns (``None`` without a commune)."""
        if row.commune_code is None or row.commune_name is None:
            return None
        if self.commune_in_english:
            name, name_locale = row.commune_name_en or "", "en"
        else:
            name, name_locale = row.commune_name, "vi"
        return CommuneRef(
            code=row.commune_code, name=name, name_locale=name_locale, unit_type=row.commune_unit_type or ""
        )

    def _commune_name(self, commune: CommuneName) -> tuple[str, str]:
        picked = pick({"vi": commune.name, "en": commune.name_en}, self.locale)
        return picked if picked is not None else (commune.name, "vi")

    def _commune_fields(self, commune: CommuneRow) -> dict[str, Any]:
        name, name_locale = self._commune_name(commune)
        return {
            "code": commune.code,
            "name": name,
            "name_locale": name_locale,
            "full_name": commune.full_name,
            "unit_type": commune.unit_type,
            "area_km2": commune.area_km2,
            "representative_point": Location(lat=commune.rep_lat, lon=commune.rep_lon),
            "bbox": [commune.min_lon, commune.min_lat, commune.max_lon, commune.max_lat],
        }

    def _commune_summary(self, commune: CommuneRow) -> CommuneSummary:
        return CommuneSummary(**self._commune_fields(commune))

    def _summaries(self, rows: Sequence[SummaryRow], distances: dict[int, float]) -> list[DestinationSummary]:
        """Summaries of ``rows`` (columns unpacked by position, see ``repository.SUMMARY_COLUMNS``: a 100-item page
        pays for its attribute lookups), with ``distance_m`` where ``distances`` (by id, metres) has one."""
        chain = self.chain[: repository.MAX_CHAIN]
        in_english = self.commune_in_english
        items = []
        for row in rows:
            (
                row_id, slug, kind, name, name_locale, lat, lon, elevation_m, commune_code, flags,
                commune_name, commune_name_en, commune_unit_type, *names,
            ) = cast("tuple[Any, ...]", row)  # fmt: skip
            for translated, locale in zip(names, chain, strict=False):
                if translated is not None:
                    name, name_locale = translated, locale
                    break
            commune = None
            if commune_code is not None and commune_name is not None:
                commune = CommuneRef(
                    code=commune_code,
                    name=(commune_name_en or "") if in_english else commune_name,
                    name_locale="en" if in_english else "vi",
                    unit_type=commune_unit_type or "",
                )
            distance = distances.get(row_id or 0)
            items.append(
                DestinationSummary(
                    slug=slug,
                    kind=kind,
                    name=name,
                    name_locale=name_locale,
                    location=Location(lat=lat, lon=lon),
                    commune=commune,
                    elevation_m=elevation_m,
                    quality_flags=list(flags),
                    distance_m=None if distance is None else math.floor(distance + 0.5),
                )
            )
        return items


# -- editor --------------------------------------------------------------------------------------------------------

#: ``name_source`` of names an editor set (the importer's names say which source file they came from).
EDITOR_SOURCE = "editor"


def version_tag(slug: str, updated_at: datetime) -> str:
    """The strong entity tag of a destination's current version (RFC 9110 §8.8.3): a hash of its slug and
    ``updated_at``, which every edit moves forward. Sent as ``ETag`` by the editor routes, expected in ``If-Match``."""
    stamp = updated_at.astimezone(UTC).isoformat(timespec="microseconds")
    return '"' + hashlib.sha256(f"{slug}\n{stamp}".encode()).hexdigest()[:24] + '"'


def if_match_allows(if_match: str, current: str) -> bool:
    """Whether an ``If-Match`` field value lets a write proceed on the version tagged ``current`` (RFC 9110 §13.1.1):
    ``*``, or a listed tag equal to ``current`` by *strong* comparison (a weak ``W/"..."`` tag never matches)."""
    for candidate in if_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate == current:
            return True
    return False


def _clean_name(value: str, field: str) -> str:
    """``value`` in NFC without surrounding white space; ``InvalidParameter`` (422) when empty or holding control
    or bidirectional formatting characters (``src/kernel/text.py``)."""
    return clean_text(value, field)


class EditorService:
    """The board editors' changes to destinations. Each edit is a conditional write on the destination's version
    (``If-Match``), announces ``guide.catalogue_changed`` for downstream indexes and purges the response cache, both
    after the unit of work commits. Never commits itself (the request owns the transaction)."""

    def __init__(self, session: AsyncSession, locale: str, stores: StoreRegistry | None = None) -> None:
        self.session = session
        self.locale = locale
        self.stores = stores

    async def current(self, slug: str) -> tuple[DestinationDetail, str]:
        """The destination as an editor sees it and its version tag; ``NotFound`` (404)."""
        detail = await self._detail(slug)
        return detail, version_tag(detail.slug, detail.updated_at)

    async def edit_destination(
        self, slug: str, if_match: str | None, edit: DestinationEdit
    ) -> tuple[DestinationDetail, str]:
        """Apply ``edit`` to the destination ``slug`` if it is still at the version ``if_match`` names.

        Returns the updated detail and its new version tag. Raises ``PreconditionRequired`` (428) without
        ``If-Match``, ``NotFound`` (404), ``PreconditionFailed`` (412) when the version moved on (checked again by
        the conditional ``UPDATE``, so two concurrent edits of one version cannot both win), ``InvalidParameter``
        (422) for an empty edit or a bad name.
        """
        if if_match is None:
            raise PreconditionRequired(
                "send If-Match with the ETag of GET /v1/editor/destinations/{slug} (lost updates are refused)"
            )
        names, removed = self._names(edit)
        aliases = [(_clean_name(a.name, "add_aliases.name"), a.lang, a.kind) for a in edit.add_aliases]
        dropped = [_clean_name(a, "remove_aliases") for a in edit.remove_aliases]
        hours: tuple[str | None] | None = None
        if edit.opening_hours is not msgspec.UNSET:
            hours = (validate_hours(edit.opening_hours) if edit.opening_hours is not None else None,)
        if not (names or removed or aliases or dropped or hours):
            message = "the edit changes nothing: give name, translations, add_aliases, remove_aliases or opening_hours"
            raise InvalidParameter(message, errors=[{"field": "body", "source": "body", "message": message}])
        connection = await self.session.connection()
        row = await repository.editable_destination(connection, slug) if SLUG.fullmatch(slug) else None
        if row is None:
            raise NotFound(f"No destination has the slug {slug!r}.")
        if not if_match_allows(if_match, version_tag(row.slug, row.updated_at)):
            raise PreconditionFailed(f"destination {slug!r} changed since that version; read it again")
        new_version = max(utcnow(), row.updated_at + timedelta(microseconds=1))
        primary = names.get("vi") if row.name_locale == "vi" else None
        moved = await repository.bump_version(
            connection, row.id, expected=row.updated_at, new=new_version, primary_name=primary, opening_hours=hours
        )
        if not moved:
            raise PreconditionFailed(f"destination {slug!r} was changed by another edit just now; read it again")
        for locale, name in names.items():
            await repository.set_translation(connection, row.id, locale, name, EDITOR_SOURCE)
        for locale in removed:
            await repository.delete_translation(connection, row.id, locale)
        for alias, lang, kind in aliases:
            await repository.add_alias(connection, row.id, alias=alias, lang=lang, kind=kind, evidence=EDITOR_SOURCE)
        await repository.remove_aliases(connection, row.id, dropped)
        catalogue_changed(self.session, slugs=[row.slug])
        if self.stores is not None:
            purge_after_commit(self.session, self.stores)
        detail = await self._detail(slug)
        return detail, version_tag(detail.slug, detail.updated_at)

    @staticmethod
    def _names(edit: DestinationEdit) -> tuple[dict[str, str], list[str]]:
        """(locale -> name to set, locales to remove) of ``edit``; ``InvalidParameter`` (422) for contradictions."""
        names: dict[str, str] = {}
        removed: list[str] = []
        for locale, value in (edit.translations or {}).items():
            if value is None:
                if locale == "vi":
                    message = "the Vietnamese name cannot be removed, only changed"
                    raise InvalidParameter(
                        message, errors=[{"field": "translations.vi", "source": "body", "message": message}]
                    )
                removed.append(locale)
            else:
                names[locale] = _clean_name(value, f"translations.{locale}")
        if edit.name is not None:
            name = _clean_name(edit.name, "name")
            if names.get("vi", name) != name:
                message = "name and translations.vi disagree"
                raise InvalidParameter(message, errors=[{"field": "name", "source": "body", "message": message}])
            names["vi"] = name
        return names, removed

    async def create_destination(self, body: DestinationCreate) -> tuple[DestinationDetail, str]:
        """Add a destination the open data lacks (``POST /v1/editor/destinations``): the slug is issued from the
        folded Vietnamese name (``-2``... when taken), the point must lie in the province's bounding box and the
        commune be a 2025 code (422 otherwise). It joins search (``guide.catalogue_changed``) and the caches are
        purged after commit."""
        connection = await self.session.connection()
        reader = connection_reader(connection)
        name = _clean_name(body.name, "name")
        lat, lon = body.location.lat, body.location.lon
        box = await repository.province_box(reader)
        if (
            not (math.isfinite(lat) and math.isfinite(lon))
            or box is None
            or not (box.min_lat <= lat <= box.max_lat and box.min_lon <= lon <= box.max_lon)
        ):
            raise InvalidParameter.of_field("location", "the point is outside Lào Cai province (its communes' box)")
        if not await repository.commune_names(reader, [body.commune]):
            raise InvalidParameter.of_field("commune", f"{body.commune!r} is not a 2025 commune code")
        hours = validate_hours(body.opening_hours) if body.opening_hours is not None else None
        translations = {k: _clean_name(v, f"translations.{k}") for k, v in body.translations.items() if k != "vi"}
        base = slugify(name)[:150].strip("-")
        if not base:
            raise InvalidParameter.of_field("name", "the name has no letters or digits to make a slug of")
        slug, n = base, 1
        while await repository.destination_slug_exists(reader, slug):
            n += 1
            slug = f"{base}-{n}"
        now = utcnow()
        destination_id = await repository.insert_destination(
            connection,
            {
                "slug": slug,
                "kind": DestinationKind(body.kind).value,
                "name": name,
                "name_locale": "vi",
                "name_folded": fold(name),
                "lat": lat,
                "lon": lon,
                "elevation_m": body.elevation_m,
                "commune_code": body.commune,
                "coord_precision": EDITOR_SOURCE,
                "in_province": True,
                "source": EDITOR_SOURCE,
                "source_id": f"{EDITOR_SOURCE}:{slug}",
                "source_url": body.source_url,
                "licence": _clean_name(body.licence, "licence"),
                "attribution": _clean_name(body.source, "source"),
                "quality_flags": [],
                "possible_duplicates": [],
                "opening_hours": hours,
                "created_at": now,
                "updated_at": now,
            },
        )
        await repository.set_translation(connection, destination_id, "vi", name, EDITOR_SOURCE)
        for tag, value in translations.items():
            await repository.set_translation(connection, destination_id, tag, value, EDITOR_SOURCE)
        catalogue_changed(self.session, slugs=[slug], commune_codes=[body.commune])
        if self.stores is not None:
            purge_after_commit(self.session, self.stores)
        detail = await self._detail(slug)
        return detail, version_tag(detail.slug, detail.updated_at)

    async def _detail(self, slug: str) -> DestinationDetail:
        reader = connection_reader(await self.session.connection())
        return await CatalogueService(reader, self.locale).get_destination(slug)
