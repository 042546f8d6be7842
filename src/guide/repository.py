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

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    case,
    delete,
    insert,
    literal,
    null,
    or_,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
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
) -> bool:
    """Move the destination from version ``expected`` to ``new`` (its ``updated_at``), setting its primary name (and
    folded form) when ``primary_name`` is given, in one conditional ``UPDATE ... WHERE updated_at = :expected``.

    ``False`` when another writer moved it first (the database settles the race on both engines; STACK-NOTES)."""
    values: dict[str, Any] = {"updated_at": new}
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
