"""All SQL of the catalogue. Functions take the request's ``Reader`` (``src.kernel.db.ReadPath``) and return light
column rows (SQLAlchemy Core rows typed by the protocols below).

Every statement is built once (at import, or once per filter shape through ``lru_cache``) with bind parameters for
every value, so no statement is constructed, no cache key computed and nothing compiled per request. Reads are one
statement per list and two per detail (profiled, issue 5 §6: each statement has a fixed cost whatever it returns), so a
summary row carries its display names (one correlated subquery per locale of the fallback chain) and its commune's
names (a left join) instead of two more queries per page.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, cast
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlmodel import col

from src.guide.geo import Box
from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationSource,
    DestinationTranslation,
    GuideAlert,
    GuideItem,
    GuidePublication,
    GuidePublicationTag,
    GuideRevision,
    GuideWorkflowEvent,
    Media,
    MediaFile,
    OfflinePackSnapshot,
)
from src.guide.names import fold
from src.kernel.db import Reader

#: Map features come first by what a visitor looks for, so that a truncated map keeps the landmarks.
KIND_PRIORITY = {
    "destination": 0,
    "city": 1,
    "town": 2,
    "peak": 3,
    "mountain_pass": 4,
    "market": 5,
    "lake": 6,
    "cave": 7,
    "railway_station": 8,
    "mountain": 9,
    "village": 10,
}


class SummaryRow(Protocol):
    """The columns of a destination that lists and map features show, plus display names: ``n0``, ``n1``... are its
    names in the locales of the requested fallback chain (``None`` where it has none) and ``commune_name``,
    ``commune_name_en``, ``commune_unit_type`` its commune's (``None`` without a commune). The columns come in this
    order (``CatalogueService._summaries`` unpacks them by position), ``n0``... last."""

    id: int | None
    slug: str
    kind: str
    name: str
    name_locale: str
    lat: float
    lon: float
    elevation_m: int | None
    commune_code: str | None
    quality_flags: list[str]
    commune_name: str | None
    commune_name_en: str | None
    commune_unit_type: str | None


class CommuneName(Protocol):
    """The columns of a commune that a reference to it shows."""

    code: str
    name: str
    name_en: str
    unit_type: str


_SUMMARY_COLUMNS = (
    Destination.id,
    Destination.slug,
    Destination.kind,
    Destination.name,
    Destination.name_locale,
    Destination.lat,
    Destination.lon,
    Destination.elevation_m,
    Destination.commune_code,
    Destination.quality_flags,
)


_DESTINATION = Destination.__table__  # type: ignore[attr-defined]
_TRANSLATION = DestinationTranslation.__table__  # type: ignore[attr-defined]
_COMMUNE = Commune.__table__  # type: ignore[attr-defined]
_ALIAS = DestinationAlias.__table__  # type: ignore[attr-defined]
_SOURCE = DestinationSource.__table__  # type: ignore[attr-defined]
#: Most locales a fallback chain holds (``zh-Hans`` -> ``zh`` -> ``en`` -> ``vi``).
MAX_CHAIN = 4


def _name_in(index: int) -> ColumnElement[Any]:
    """The destination's name in the locale bound to ``l<index>`` (``NULL`` when it has none), labelled
    ``n<index>``, as a correlated scalar subquery."""
    return (
        sa_select(_TRANSLATION.c.name)
        .where(_TRANSLATION.c.destination_id == _DESTINATION.c.id, _TRANSLATION.c.locale == bindparam(f"l{index}"))
        .scalar_subquery()
        .label(f"n{index}")
    )


@lru_cache(maxsize=64)
def _filtered(has_kinds: bool, has_commune: bool, boxes: int, chain: int) -> Select[Any]:
    """Summary columns, names along the chain (``n0``...) and commune names of the destinations matching filters.

    Built once per shape, every value a bind parameter (``_filter_parameters``): the statement and its cache key
    are made once and SQLAlchemy's compiled cache always hits.
    """
    query: Select[Any] = sa_select(  # type: ignore[assignment]
        *(col(column) for column in _SUMMARY_COLUMNS),
        _COMMUNE.c.name.label("commune_name"),
        _COMMUNE.c.name_en.label("commune_name_en"),
        _COMMUNE.c.unit_type.label("commune_unit_type"),
        *(_name_in(i) for i in range(min(chain, MAX_CHAIN))),
    ).select_from(_DESTINATION.outerjoin(_COMMUNE, _COMMUNE.c.code == _DESTINATION.c.commune_code))
    return _where(query, has_kinds, has_commune, boxes)


def _where(query: Select[Any], has_kinds: bool, has_commune: bool, boxes: int) -> Select[Any]:
    """``query`` restricted by the filters of ``_filter_parameters`` (kinds, commune, ``boxes`` boxes)."""
    if has_kinds:
        query = query.where(col(Destination.kind).in_(bindparam("kinds", expanding=True)))
    if has_commune:
        query = query.where(col(Destination.commune_code) == bindparam("commune"))
    for i in range(boxes):
        query = query.where(
            col(Destination.lat).between(bindparam(f"b{i}_min_lat"), bindparam(f"b{i}_max_lat")),
            col(Destination.lon).between(bindparam(f"b{i}_min_lon"), bindparam(f"b{i}_max_lon")),
        )
    return query


def _filter_parameters(
    kinds: Sequence[str], commune: str | None, boxes: Sequence[Box], chain: Sequence[str]
) -> dict[str, Any]:
    """The bind parameters of ``_filtered`` for these filter values."""
    parameters: dict[str, Any] = {f"l{i}": locale for i, locale in enumerate(chain[:MAX_CHAIN])}
    if kinds:
        parameters["kinds"] = list(kinds)
    if commune:
        parameters["commune"] = commune
    for i, box in enumerate(boxes):
        parameters[f"b{i}_min_lat"] = box.min_lat
        parameters[f"b{i}_max_lat"] = box.max_lat
        parameters[f"b{i}_min_lon"] = box.min_lon
        parameters[f"b{i}_max_lon"] = box.max_lon
    return parameters


async def _summary_rows(reader: Reader, query: Select[Any], parameters: dict[str, Any]) -> Sequence[SummaryRow]:
    return cast("Sequence[SummaryRow]", (await reader.execute(query, parameters)).all())


_LIMIT = bindparam("limit", type_=Integer)


@lru_cache(maxsize=64)
def _list_statement(has_kinds: bool, has_commune: bool, boxes: int, chain: int, after: bool) -> Select[Any]:
    query = _filtered(has_kinds, has_commune, boxes, chain)
    if after:
        query = query.where(col(Destination.slug) > bindparam("after_slug"))
    return query.order_by(col(Destination.slug)).limit(_LIMIT)


async def list_destinations(
    reader: Reader,
    *,
    kinds: Sequence[str],
    commune: str | None,
    boxes: Sequence[Box],
    after_slug: str | None,
    limit: int,
    chain: Sequence[str],
) -> Sequence[SummaryRow]:
    """Destinations matching every filter (all ``boxes`` must contain the point), by slug, after ``after_slug``;
    names along the locale fallback ``chain``."""
    query = _list_statement(bool(kinds), bool(commune), len(boxes), len(chain), after_slug is not None)
    parameters = _filter_parameters(kinds, commune, boxes, chain)
    parameters["limit"] = limit
    if after_slug is not None:
        parameters["after_slug"] = after_slug
    return await _summary_rows(reader, query, parameters)


class PointRow(Protocol):
    """A destination's id and position (WGS84 degrees)."""

    id: int
    lat: float
    lon: float


@lru_cache(maxsize=16)
def _points_statement(has_kinds: bool, has_commune: bool, boxes: int) -> Select[Any]:
    return _where(sa_select(_DESTINATION.c.id, _DESTINATION.c.lat, _DESTINATION.c.lon), has_kinds, has_commune, boxes)


async def points_in_boxes(
    reader: Reader, *, kinds: Sequence[str], commune: str | None, boxes: Sequence[Box]
) -> Sequence[PointRow]:
    """Id and position of every destination inside all ``boxes`` (the candidates of a radius query): the few columns
    a distance ranking needs, so that only the page's rows are read in full (``summaries_by_id``)."""
    query = _points_statement(bool(kinds), bool(commune), len(boxes))
    return cast(
        "Sequence[PointRow]", (await reader.execute(query, _filter_parameters(kinds, commune, boxes, ()))).all()
    )


@lru_cache(maxsize=8)
def _summaries_by_id_statement(chain: int) -> Select[Any]:
    return _filtered(False, False, 0, chain).where(_DESTINATION.c.id.in_(bindparam("ids", expanding=True)))


async def summaries_by_id(reader: Reader, ids: Sequence[int], chain: Sequence[str]) -> dict[int, SummaryRow]:
    """Summary rows of the destinations with these ids (names along ``chain``), by id; absent ids are left out."""
    if not ids:
        return {}
    parameters = _filter_parameters((), None, (), chain)
    parameters["ids"] = list(ids)
    rows = await _summary_rows(reader, _summaries_by_id_statement(len(chain)), parameters)
    return {cast("tuple[int, ...]", row)[0]: row for row in rows}


@lru_cache(maxsize=8)
def _summaries_by_slug_statement(chain: int) -> Select[Any]:
    return _filtered(False, False, 0, chain).where(_DESTINATION.c.slug.in_(bindparam("slugs", expanding=True)))


async def summaries_by_slug(reader: Reader, slugs: Sequence[str], chain: Sequence[str]) -> dict[str, SummaryRow]:
    """Summary rows of the destinations with these slugs (names along ``chain``), by slug; absent slugs left out."""
    if not slugs:
        return {}
    parameters = _filter_parameters((), None, (), chain)
    parameters["slugs"] = list(slugs)
    rows = await _summary_rows(reader, _summaries_by_slug_statement(len(chain)), parameters)
    return {row.slug: row for row in rows}


@lru_cache(maxsize=16)
def _map_statement(has_kinds: bool, chain: int) -> Select[Any]:
    priority = case(KIND_PRIORITY, value=Destination.kind, else_=len(KIND_PRIORITY))
    query = _filtered(has_kinds, False, 1, chain).order_by(
        priority, col(Destination.population).desc().nulls_last(), col(Destination.id)
    )
    return query.limit(_LIMIT)


async def map_features(
    reader: Reader, *, kinds: Sequence[str], box: Box, limit: int, chain: Sequence[str]
) -> Sequence[SummaryRow]:
    """Up to ``limit`` destinations inside ``box``, landmarks first (``KIND_PRIORITY``), then larger places; names
    along ``chain``."""
    parameters = _filter_parameters(kinds, None, [box], chain)
    parameters["limit"] = limit
    return await _summary_rows(reader, _map_statement(bool(kinds), len(chain)), parameters)


class DetailRow(SummaryRow, Protocol):
    """The columns of a destination that its detail shows beyond a summary."""

    dem_m: int | None
    population: int | None
    coord_precision: str
    in_province: bool
    outside_by_m: int | None
    qa_note: str | None
    possible_duplicates: list[str]
    source: str
    source_id: str
    source_url: str | None
    licence: str
    attribution: str
    updated_at: Any
    opening_hours: str | None


class DetailPart(Protocol):
    """One row of ``detail_parts``: ``part`` is ``"t"`` (translation: ``a`` locale, ``b`` name), ``"a"`` (alias:
    ``a`` name, ``b`` lang, ``c`` kind; ``ord`` its id) or ``"s"`` (merged source record: ``a`` source, ``b``
    source id, ``c`` name, ``d`` url, ``e`` licence, ``f`` attribution, ``g`` note)."""

    part: str
    ord: int
    a: str | None
    b: str | None
    c: str | None
    d: str | None
    e: str | None
    f: str | None
    g: str | None


_DETAIL_COLUMNS = (
    Destination.dem_m,
    Destination.population,
    Destination.coord_precision,
    Destination.in_province,
    Destination.outside_by_m,
    Destination.qa_note,
    Destination.possible_duplicates,
    Destination.source,
    Destination.source_id,
    Destination.source_url,
    Destination.licence,
    Destination.attribution,
    Destination.updated_at,
    Destination.opening_hours,
)


_DETAIL = (
    _filtered(False, False, 0, 0)
    .add_columns(*(col(column) for column in _DETAIL_COLUMNS))
    .where(col(Destination.slug) == bindparam("slug"))
)


async def get_destination(reader: Reader, slug: str) -> DetailRow | None:
    """The detail columns of the destination with this slug and its commune's names (one statement), or ``None``.

    Its translated names are not selected here (``n0``... are absent): ``detail_parts`` reads all of them.
    """
    return cast("DetailRow | None", (await reader.execute(_DETAIL, {"slug": slug})).first())


def _text(column: Any = None) -> ColumnElement[Any]:
    return sql_cast(null(), String) if column is None else sql_cast(column, String)


def _detail_parts_statement() -> Executable:
    destination_id = bindparam("destination_id", type_=Integer)

    def part(tag: str, ord_: Any, fk: Any, *columns: Any) -> Select[Any]:
        padded = [_text(c) for c in columns] + [_text() for _ in range(7 - len(columns))]
        labelled = [c.label(name) for c, name in zip(padded, "abcdefg", strict=True)]
        return sa_select(literal(tag).label("part"), sql_cast(ord_, Integer).label("ord"), *labelled).where(
            fk == destination_id
        )

    t, a, s = _TRANSLATION.c, _ALIAS.c, _SOURCE.c
    return union_all(
        part("t", literal(0), t.destination_id, t.locale, t.name),
        part("a", a.id, a.destination_id, a.alias, a.lang, a.alias_kind),
        part(
            "s",
            literal(0),
            s.destination_id,
            s.source,
            s.source_id,
            s.name,
            s.source_url,
            s.licence,
            s.attribution,
            s.note,
        ),
    )


_DETAIL_PARTS = _detail_parts_statement()


async def detail_parts(reader: Reader, destination_id: int) -> Sequence[DetailPart]:
    """Every translation, alias and merged source record of a destination in one statement (``DetailPart``
    rows); aliases in import order (``ord``), the rest unordered."""
    return cast("Sequence[DetailPart]", (await reader.execute(_DETAIL_PARTS, {"destination_id": destination_id})).all())


_SLUGS_BY_SOURCE_ID = sa_select(_DESTINATION.c.source_id, _DESTINATION.c.slug).where(
    _DESTINATION.c.source_id.in_(bindparam("source_ids", expanding=True))
)


async def slugs_by_source_id(reader: Reader, source_ids: Sequence[str]) -> dict[str, str]:
    """Slugs of the destinations whose primary record is one of ``source_ids``."""
    if not source_ids:
        return {}
    rows = await reader.execute(_SLUGS_BY_SOURCE_ID, {"source_ids": list(source_ids)})
    return {row.source_id: row.slug for row in rows}


_DESTINATION_EXISTS = sa_select(_DESTINATION.c.id).where(_DESTINATION.c.slug == bindparam("slug")).limit(1)


async def destination_exists(reader: Reader, slug: str) -> bool:
    """True when a destination has the slug ``slug`` (one indexed lookup of the unique slug)."""
    return (await reader.execute(_DESTINATION_EXISTS, {"slug": slug})).first() is not None


class CommuneRow(CommuneName, Protocol):
    """The columns of a 2025 commune that its summary shows (``boundary`` only where the detail reads it)."""

    full_name: str
    area_km2: float
    rep_lat: float
    rep_lon: float
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    old_province: str
    old_districts: list[str]
    source: str
    licence: str


class CommuneDetailRow(CommuneRow, Protocol):
    """A commune row with its boundary (a GeoJSON geometry)."""

    boundary: dict[str, Any]


class FormerUnitRow(Protocol):
    """The columns of a pre-2025 unit that a commune's detail and a successor hint show."""

    old_code: str
    commune_code: str
    old_name: str
    old_district: str
    old_province: str
    legal_basis: str


_FORMER = CommuneFormerUnit.__table__  # type: ignore[attr-defined]
_COMMUNE_NAMES = sa_select(_COMMUNE.c.code, _COMMUNE.c.name, _COMMUNE.c.name_en, _COMMUNE.c.unit_type).where(
    _COMMUNE.c.code.in_(bindparam("codes", expanding=True))
)


async def commune_names(reader: Reader, codes: Sequence[str]) -> dict[str, CommuneName]:
    """Code, names and unit type of the communes with these codes."""
    if not codes:
        return {}
    rows = await reader.execute(_COMMUNE_NAMES, {"codes": list(codes)})
    return {row.code: cast("CommuneName", row) for row in rows}


@lru_cache(maxsize=4)
def _communes_statement(has_query: bool, after: bool) -> Select[Any]:
    query = sa_select(*(column for column in _COMMUNE.c if column.name != "boundary"))
    if has_query:
        pattern = bindparam("pattern", type_=String)
        former = sa_select(_FORMER.c.commune_code).where(_FORMER.c.old_name_folded.like(pattern, escape="\\"))
        query = query.where(or_(_COMMUNE.c.name_folded.like(pattern, escape="\\"), _COMMUNE.c.code.in_(former)))
    if after:
        query = query.where(_COMMUNE.c.code > bindparam("after_code"))
    return query.order_by(_COMMUNE.c.code).limit(_LIMIT)


async def list_communes(
    reader: Reader, *, folded_query: str | None, after_code: str | None, limit: int
) -> Sequence[CommuneRow]:
    """Communes by code, boundary not read; ``folded_query`` matches the current or a former unit's name (folded)."""
    parameters: dict[str, Any] = {"limit": limit}
    if folded_query:
        escaped = folded_query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parameters["pattern"] = f"%{escaped}%"
    if after_code is not None:
        parameters["after_code"] = after_code
    query = _communes_statement(bool(folded_query), after_code is not None)
    return cast("Sequence[CommuneRow]", (await reader.execute(query, parameters)).all())


_COMMUNE_BY_CODE = sa_select(_COMMUNE).where(_COMMUNE.c.code == bindparam("code"))
_FORMER_UNITS_OF = sa_select(_FORMER).where(_FORMER.c.commune_code == bindparam("code")).order_by(_FORMER.c.old_code)
_FORMER_UNIT = sa_select(_FORMER).where(_FORMER.c.old_code == bindparam("code"))


async def get_commune(reader: Reader, code: str) -> CommuneDetailRow | None:
    """The 2025 commune with this 5-digit code, boundary included, or ``None``."""
    return cast("CommuneDetailRow | None", (await reader.execute(_COMMUNE_BY_CODE, {"code": code})).first())


async def former_units_of(reader: Reader, code: str) -> Sequence[FormerUnitRow]:
    """The pre-2025 units merged into the 2025 commune ``code``, by old code."""
    return cast("Sequence[FormerUnitRow]", (await reader.execute(_FORMER_UNITS_OF, {"code": code})).all())


async def former_unit(reader: Reader, old_code: str) -> FormerUnitRow | None:
    """The pre-2025 unit with this old code (never resolved as the 2025 unit of the same number), or ``None``."""
    return cast("FormerUnitRow | None", (await reader.execute(_FORMER_UNIT, {"code": old_code})).first())


# -- editor writes ----------------------------------------------------------------------------------------------
# Writes run on the unit of work's connection (``await session.connection()``), never through a ``Reader``.


class EditableRow(Protocol):
    """What an edit needs of a destination before changing it."""

    id: int
    slug: str
    name_locale: str
    commune_code: str | None
    updated_at: datetime


async def editable_destination(connection: AsyncConnection, slug: str) -> EditableRow | None:
    """The destination with this slug (id, primary name's locale, commune, version), or ``None``."""
    query = sa_select(
        _DESTINATION.c.id,
        _DESTINATION.c.slug,
        _DESTINATION.c.name_locale,
        _DESTINATION.c.commune_code,
        _DESTINATION.c.updated_at,
    ).where(_DESTINATION.c.slug == slug)
    return cast("EditableRow | None", (await connection.execute(query)).first())


async def bump_version(
    connection: AsyncConnection,
    destination_id: int,
    *,
    expected: datetime,
    new: datetime,
    primary_name: str | None = None,
    opening_hours: tuple[str | None] | None = None,
) -> bool:
    """Move the destination from version ``expected`` to ``new`` (its ``updated_at``), setting its primary name (and
    folded form) when ``primary_name`` is given and its opening hours when ``opening_hours`` is given (a 1-tuple:
    ``(None,)`` clears them), in one conditional ``UPDATE ... WHERE updated_at = :expected``.

    ``False`` when another writer moved it first (the database settles the race on both engines; STACK-NOTES)."""
    values: dict[str, Any] = {"updated_at": new}
    if opening_hours is not None:
        values["opening_hours"] = opening_hours[0]
    if primary_name is not None:
        values.update(name=primary_name, name_folded=fold(primary_name))
    statement = (
        update(_DESTINATION)
        .where(_DESTINATION.c.id == destination_id, _DESTINATION.c.updated_at == expected)
        .values(**values)
    )
    result = await connection.execute(statement)
    return bool(result.rowcount == 1)


async def set_translation(
    connection: AsyncConnection, destination_id: int, locale: str, name: str, name_source: str
) -> None:
    """Set the destination's name in ``locale`` (update, or insert when it has none)."""
    updated = await connection.execute(
        update(_TRANSLATION)
        .where(_TRANSLATION.c.destination_id == destination_id, _TRANSLATION.c.locale == locale)
        .values(name=name, name_source=name_source)
    )
    if updated.rowcount == 0:
        await connection.execute(
            insert(_TRANSLATION).values(
                destination_id=destination_id, locale=locale, name=name, name_source=name_source
            )
        )


async def delete_translation(connection: AsyncConnection, destination_id: int, locale: str) -> None:
    """Remove the destination's name in ``locale`` (none is no error)."""
    await connection.execute(
        delete(_TRANSLATION).where(_TRANSLATION.c.destination_id == destination_id, _TRANSLATION.c.locale == locale)
    )


async def add_alias(
    connection: AsyncConnection, destination_id: int, *, alias: str, lang: str, kind: str, evidence: str
) -> bool:
    """Add an alias unless the destination already has this (alias, lang); ``True`` when one was added."""
    exists = await connection.scalar(
        sa_select(_ALIAS.c.id).where(
            _ALIAS.c.destination_id == destination_id, _ALIAS.c.alias == alias, _ALIAS.c.lang == lang
        )
    )
    if exists is not None:
        return False
    await connection.execute(
        insert(_ALIAS).values(
            destination_id=destination_id,
            alias=alias,
            lang=lang,
            alias_kind=kind,
            folded=fold(alias),
            evidence=evidence,
        )
    )
    return True


async def remove_aliases(connection: AsyncConnection, destination_id: int, aliases: Sequence[str]) -> int:
    """Remove the destination's aliases spelled as any of ``aliases`` (every language); how many went."""
    if not aliases:
        return 0
    result = await connection.execute(
        delete(_ALIAS).where(_ALIAS.c.destination_id == destination_id, _ALIAS.c.alias.in_(list(aliases)))
    )
    return int(result.rowcount)


# -- offline packs ---------------------------------------------------------------------------------------------

_SNAPSHOT = OfflinePackSnapshot.__table__  # type: ignore[attr-defined]


async def pack_snapshot(reader: Reader, area: str, locale: str, version: str) -> dict[str, str] | None:
    """The item index (key -> SHA-256) of an offline pack version served earlier, or ``None``."""
    row = (
        await reader.execute(
            sa_select(_SNAPSHOT.c.item_hashes).where(
                _SNAPSHOT.c.area == area, _SNAPSHOT.c.locale == locale, _SNAPSHOT.c.version == version
            )
        )
    ).first()
    return None if row is None else dict(row.item_hashes)


async def save_pack_snapshot(
    connection: AsyncConnection, area: str, locale: str, version: str, items: dict[str, str], now: datetime
) -> bool:
    """Record the item index of a pack version once (versions are content hashes: a second writer of the same version
    writes the same row); ``False`` when it was already there."""
    exists = (
        await connection.execute(
            sa_select(_SNAPSHOT.c.version).where(
                _SNAPSHOT.c.area == area, _SNAPSHOT.c.locale == locale, _SNAPSHOT.c.version == version
            )
        )
    ).first()
    if exists is not None:
        return False
    try:
        async with connection.begin_nested():
            await connection.execute(
                _SNAPSHOT.insert().values(area=area, locale=locale, version=version, item_hashes=items, created_at=now)
            )
    except IntegrityError:  # another process served the same new version first
        return False
    return True


async def prune_pack_snapshots(connection: AsyncConnection, before: datetime) -> int:
    """Delete the snapshots recorded before ``before``; their versions then get a full pack. Returns the count."""
    result = await connection.execute(_SNAPSHOT.delete().where(_SNAPSHOT.c.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


# -- media ---------------------------------------------------------------------------------------------------------

_MEDIA = Media.__table__  # type: ignore[attr-defined]
_MEDIA_FILE = MediaFile.__table__  # type: ignore[attr-defined]


class MediaRow(Protocol):
    """A media item as served (``src.guide.models.Media`` without ``source_hash`` and ``uploaded_by``)."""

    id: str
    kind: str
    locale: str | None
    content_hash: str
    size_bytes: int
    mime_type: str
    width: int | None
    height: int | None
    duration_ms: int | None
    licence: str
    credit: str
    captions: dict[str, str]
    created_at: datetime


class MediaFileRow(Protocol):
    """One stored file of a media item."""

    media_id: str
    variant: str
    hash: str
    size_bytes: int
    mime_type: str
    width: int | None
    height: int | None


_MEDIA_COLUMNS = (
    _MEDIA.c.id,
    _MEDIA.c.kind,
    _MEDIA.c.locale,
    _MEDIA.c.content_hash,
    _MEDIA.c.size_bytes,
    _MEDIA.c.mime_type,
    _MEDIA.c.width,
    _MEDIA.c.height,
    _MEDIA.c.duration_ms,
    _MEDIA.c.licence,
    _MEDIA.c.credit,
    _MEDIA.c.captions,
    _MEDIA.c.created_at,
)
_MEDIA_FILE_COLUMNS = (
    _MEDIA_FILE.c.media_id,
    _MEDIA_FILE.c.variant,
    _MEDIA_FILE.c.hash,
    _MEDIA_FILE.c.size_bytes,
    _MEDIA_FILE.c.mime_type,
    _MEDIA_FILE.c.width,
    _MEDIA_FILE.c.height,
)
_MEDIA_BY_IDS = sa_select(*_MEDIA_COLUMNS).where(_MEDIA.c.id.in_(bindparam("ids", expanding=True)))
_FILES_BY_MEDIA_IDS = (
    sa_select(*_MEDIA_FILE_COLUMNS)
    .where(_MEDIA_FILE.c.media_id.in_(bindparam("ids", expanding=True)))
    .order_by(_MEDIA_FILE.c.media_id, _MEDIA_FILE.c.width, _MEDIA_FILE.c.variant)
)
_MEDIA_IDS_IN = sa_select(_MEDIA.c.id).where(_MEDIA.c.id.in_(bindparam("ids", expanding=True)))
_FILE_BY_HASH = sa_select(*_MEDIA_FILE_COLUMNS).where(_MEDIA_FILE.c.hash == bindparam("hash")).limit(1)
_SOURCE_HASH_OF = sa_select(_MEDIA.c.source_hash).where(_MEDIA.c.id == bindparam("id"))


async def media_by_ids(reader: Reader, ids: Sequence[str]) -> tuple[Sequence[MediaRow], Sequence[MediaFileRow]]:
    """The media items among ``ids`` (any order) and all their files (by media id, then width): two statements."""
    if not ids:
        return [], []
    parameters = {"ids": list(ids)}
    rows = (await reader.execute(_MEDIA_BY_IDS, parameters)).all()
    if not rows:
        return [], []
    files = (await reader.execute(_FILES_BY_MEDIA_IDS, {"ids": [row.id for row in rows]})).all()
    return cast("Sequence[MediaRow]", rows), cast("Sequence[MediaFileRow]", files)


async def existing_media_ids(reader: Reader, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` name a stored media item."""
    if not ids:
        return set()
    return {row.id for row in (await reader.execute(_MEDIA_IDS_IN, {"ids": list(ids)})).all()}


async def media_file_by_hash(reader: Reader, content_hash: str) -> MediaFileRow | None:
    """A stored file with this content hash (any media item holding it), or ``None``."""
    return cast("MediaFileRow | None", (await reader.execute(_FILE_BY_HASH, {"hash": content_hash})).first())


async def source_hash_of(reader: Reader, media_id: str) -> str | None:
    """The SHA-256 of the upload that created media ``media_id``, or ``None`` when there is none."""
    return cast("str | None", (await reader.execute(_SOURCE_HASH_OF, {"id": media_id})).scalar())


async def insert_media(connection: AsyncConnection, media: dict[str, Any], files: Sequence[dict[str, Any]]) -> bool:
    """Insert a media item and its files unless its id exists (``INSERT ... ON CONFLICT DO NOTHING``, so two
    concurrent uploads of the same bytes make one row on both engines); ``True`` when this call inserted it."""
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(_MEDIA).values(**media).on_conflict_do_nothing(index_elements=["id"])
    result = await connection.execute(statement)
    if result.rowcount != 1:
        return False
    await connection.execute(insert(_MEDIA_FILE), list(files))
    return True


# -- articles and tours --------------------------------------------------------------------------------------------

_ITEM = GuideItem.__table__  # type: ignore[attr-defined]
_REVISION = GuideRevision.__table__  # type: ignore[attr-defined]
_EVENT = GuideWorkflowEvent.__table__  # type: ignore[attr-defined]
_PUBLICATION = GuidePublication.__table__  # type: ignore[attr-defined]
_PUBLICATION_TAG = GuidePublicationTag.__table__  # type: ignore[attr-defined]


class ItemRow(Protocol):
    """A working copy (``guide_item``) with the number of its latest published revision (``None`` when never)."""

    id: int
    slug: str
    kind: str
    status: str
    version: int
    is_sample: bool
    body: dict[str, Any]
    created_by: UUID | None
    author_id: UUID | None
    created_at: datetime
    updated_at: datetime
    published_revision: int | None


def _item_select() -> Select[Any]:
    latest = (sa_select(func.max(_REVISION.c.number)).where(_REVISION.c.item_id == _ITEM.c.id).scalar_subquery()).label(
        "published_revision"
    )
    return sa_select(*_ITEM.c, latest)


async def item_by_slug(reader: Reader, slug: str, kind: str) -> ItemRow | None:
    """The working copy of the ``kind`` item ``slug``, or ``None``."""
    query = _item_select().where(_ITEM.c.slug == slug, _ITEM.c.kind == kind)
    return cast("ItemRow | None", (await reader.execute(query)).first())


async def list_items(
    reader: Reader, *, kind: str, statuses: Sequence[str], after_slug: str | None, limit: int
) -> Sequence[ItemRow]:
    """Working copies of ``kind`` (of these statuses, all when empty), by slug after ``after_slug``."""
    query = _item_select().where(_ITEM.c.kind == kind)
    if statuses:
        query = query.where(_ITEM.c.status.in_(list(statuses)))
    if after_slug is not None:
        query = query.where(_ITEM.c.slug > after_slug)
    return cast("Sequence[ItemRow]", (await reader.execute(query.order_by(_ITEM.c.slug).limit(limit))).all())


async def slug_taken(connection: AsyncConnection, slug: str) -> bool:
    """Whether any item (article or tour, whatever its status) holds ``slug``."""
    return (await connection.execute(sa_select(_ITEM.c.id).where(_ITEM.c.slug == slug))).first() is not None


async def insert_item(connection: AsyncConnection, values: dict[str, Any]) -> int:
    """Insert a working copy; its id. ``IntegrityError`` when the slug is taken."""
    result = await connection.execute(_ITEM.insert().values(**values).returning(_ITEM.c.id))
    return int(result.scalar_one())


async def update_item(connection: AsyncConnection, item_id: int, expected_version: int, values: dict[str, Any]) -> bool:
    """Write ``values`` and move the version on by one if the item is still at ``expected_version`` (the conditional
    ``UPDATE`` that settles concurrent writers: one wins, the others change nothing). Whether it was written."""
    result = await connection.execute(
        _ITEM.update()
        .where(_ITEM.c.id == item_id, _ITEM.c.version == expected_version)
        .values(**values, version=expected_version + 1)
    )
    return bool(getattr(result, "rowcount", 0))


async def add_workflow_event(connection: AsyncConnection, values: dict[str, Any]) -> None:
    """Append one step to an item's editorial history."""
    await connection.execute(_EVENT.insert().values(**values))


async def add_revision(connection: AsyncConnection, values: dict[str, Any]) -> int:
    """Append the next published revision of ``values["item_id"]`` (numbered from 1); its number. Runs under the
    item's version check, so two publishers cannot both number the same revision (a unique constraint backs it)."""
    latest = await connection.execute(
        sa_select(func.coalesce(func.max(_REVISION.c.number), 0)).where(_REVISION.c.item_id == values["item_id"])
    )
    number = int(latest.scalar_one()) + 1
    await connection.execute(_REVISION.insert().values(**values, number=number))
    return number


async def publish(connection: AsyncConnection, publication: dict[str, Any], tags: Sequence[tuple[str, str]]) -> None:
    """Make ``publication`` (item_id, slug, kind, revision, is_sample, body, published_at) what the public sees of
    its item, with these filterable (tag, value) pairs, replacing any earlier publication."""
    await withdraw(connection, publication["item_id"])
    await connection.execute(_PUBLICATION.insert().values(**publication))
    if tags:
        await connection.execute(
            _PUBLICATION_TAG.insert(),
            [{"item_id": publication["item_id"], "tag": tag, "value": value} for tag, value in sorted(set(tags))],
        )


async def withdraw(connection: AsyncConnection, item_id: int) -> None:
    """Remove the item's publication and its tags (nothing when it has none)."""
    await connection.execute(_PUBLICATION_TAG.delete().where(_PUBLICATION_TAG.c.item_id == item_id))
    await connection.execute(_PUBLICATION.delete().where(_PUBLICATION.c.item_id == item_id))


async def revisions_of(reader: Reader, item_id: int) -> Sequence[Any]:
    """Every published revision of the item, newest first."""
    query = sa_select(*_REVISION.c).where(_REVISION.c.item_id == item_id).order_by(_REVISION.c.number.desc())
    return (await reader.execute(query)).all()


async def workflow_events_of(reader: Reader, item_id: int) -> Sequence[Any]:
    """Every workflow step of the item, oldest first."""
    query = sa_select(*_EVENT.c).where(_EVENT.c.item_id == item_id).order_by(_EVENT.c.at, _EVENT.c.id)
    return (await reader.execute(query)).all()


class PublicationRow(Protocol):
    """What the public sees of an item (``guide_publication``)."""

    item_id: int
    slug: str
    kind: str
    revision: int
    is_sample: bool
    body: dict[str, Any]
    published_at: datetime


async def publication(reader: Reader, kind: str, slug: str) -> PublicationRow | None:
    """The published ``kind`` item ``slug``, or ``None``."""
    query = sa_select(*_PUBLICATION.c).where(_PUBLICATION.c.kind == kind, _PUBLICATION.c.slug == slug)
    return cast("PublicationRow | None", (await reader.execute(query)).first())


async def publications(
    reader: Reader,
    *,
    kind: str,
    tags: Sequence[tuple[str, str]] = (),
    any_of: Sequence[tuple[str, str]] = (),
    after_slug: str | None = None,
    limit: int | None = None,
) -> Sequence[PublicationRow]:
    """Published items of ``kind`` holding every (tag, value) of ``tags`` and, when ``any_of`` is given, at least
    one of those; by slug after ``after_slug``, at most ``limit``."""
    query = sa_select(*_PUBLICATION.c).where(_PUBLICATION.c.kind == kind)
    for tag, value in tags:
        query = query.where(
            sa_select(_PUBLICATION_TAG.c.item_id)
            .where(
                _PUBLICATION_TAG.c.item_id == _PUBLICATION.c.item_id,
                _PUBLICATION_TAG.c.tag == tag,
                _PUBLICATION_TAG.c.value == value,
            )
            .exists()
        )
    if any_of:
        # one IN list per tag kind: a commune pack asks about every destination of the commune at once
        grouped: dict[str, list[str]] = {}
        for tag, value in any_of:
            grouped.setdefault(tag, []).append(value)
        query = query.where(
            sa_select(_PUBLICATION_TAG.c.item_id)
            .where(
                _PUBLICATION_TAG.c.item_id == _PUBLICATION.c.item_id,
                or_(
                    *(
                        and_(_PUBLICATION_TAG.c.tag == tag, _PUBLICATION_TAG.c.value.in_(sorted(set(values))))
                        for tag, values in grouped.items()
                    )
                ),
            )
            .exists()
        )
    if after_slug is not None:
        query = query.where(_PUBLICATION.c.slug > after_slug)
    query = query.order_by(_PUBLICATION.c.slug)
    if limit is not None:
        query = query.limit(limit)
    return cast("Sequence[PublicationRow]", (await reader.execute(query)).all())


# -- alerts ----------------------------------------------------------------------------------------------------------

_ALERT = GuideAlert.__table__  # type: ignore[attr-defined]


async def alert_by_id(reader: Reader, alert_id: int) -> Any | None:
    """The alert ``alert_id`` (any state), or ``None``."""
    return (await reader.execute(sa_select(*_ALERT.c).where(_ALERT.c.id == alert_id))).first()


async def alerts_in_force(reader: Reader, now: datetime) -> Sequence[Any]:
    """Alerts not withdrawn with ``valid_from <= now < valid_until`` (UTC), by id."""
    query = (
        sa_select(*_ALERT.c)
        .where(_ALERT.c.withdrawn.is_(False), _ALERT.c.valid_from <= now, _ALERT.c.valid_until > now)
        .order_by(_ALERT.c.id)
    )
    return (await reader.execute(query)).all()


async def next_alert_change(reader: Reader, now: datetime) -> datetime | None:
    """The soonest instant after ``now`` at which an alert starts or ends (what a cached alert list is good until)."""
    starts = sa_select(func.min(_ALERT.c.valid_from)).where(_ALERT.c.withdrawn.is_(False), _ALERT.c.valid_from > now)
    ends = sa_select(func.min(_ALERT.c.valid_until)).where(_ALERT.c.withdrawn.is_(False), _ALERT.c.valid_until > now)
    values = [(await reader.execute(q)).scalar() for q in (starts, ends)]
    known = [v for v in values if v is not None]
    return min(known) if known else None


async def list_alerts(reader: Reader, *, after_id: int | None, limit: int) -> Sequence[Any]:
    """Every alert (expired and withdrawn included), newest first, after ``after_id``."""
    query = sa_select(*_ALERT.c).order_by(_ALERT.c.id.desc()).limit(limit)
    if after_id is not None:
        query = query.where(_ALERT.c.id < after_id)
    return (await reader.execute(query)).all()


async def insert_alert(connection: AsyncConnection, values: dict[str, Any]) -> int:
    """Insert an alert; its id."""
    result = await connection.execute(_ALERT.insert().values(**values).returning(_ALERT.c.id))
    return int(result.scalar_one())


async def update_alert(
    connection: AsyncConnection, alert_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Write ``values`` and move the version on if the alert is still at ``expected_version``; whether it was."""
    result = await connection.execute(
        _ALERT.update()
        .where(_ALERT.c.id == alert_id, _ALERT.c.version == expected_version)
        .values(**values, version=expected_version + 1)
    )
    return bool(getattr(result, "rowcount", 0))


async def commune_boundaries(reader: Reader, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The GeoJSON boundary of each of these 2025 communes, by code (unknown codes left out)."""
    if not codes:
        return {}
    query = sa_select(_COMMUNE.c.code, _COMMUNE.c.boundary).where(_COMMUNE.c.code.in_(sorted(set(codes))))
    return {row.code: dict(row.boundary) for row in (await reader.execute(query)).all()}


# -- destinations added by editors ---------------------------------------------------------------------------------


async def province_box(reader: Reader) -> Box | None:
    """The bounding box of every 2025 commune (the province), or ``None`` without communes."""
    query = sa_select(
        func.min(_COMMUNE.c.min_lon).label("min_lon"),
        func.min(_COMMUNE.c.min_lat).label("min_lat"),
        func.max(_COMMUNE.c.max_lon).label("max_lon"),
        func.max(_COMMUNE.c.max_lat).label("max_lat"),
    )
    row: Any = (await reader.execute(query)).first()
    if row is None or row.min_lon is None:
        return None
    return Box(min_lon=row.min_lon, min_lat=row.min_lat, max_lon=row.max_lon, max_lat=row.max_lat)


async def insert_destination(connection: AsyncConnection, values: dict[str, Any]) -> int:
    """Insert a destination row; its id."""
    result = await connection.execute(insert(_DESTINATION).values(**values).returning(_DESTINATION.c.id))
    return int(result.scalar_one())


async def destination_slug_exists(reader: Reader, slug: str) -> bool:
    """Whether a destination holds ``slug``."""
    return (await reader.execute(sa_select(_DESTINATION.c.id).where(_DESTINATION.c.slug == slug))).first() is not None
