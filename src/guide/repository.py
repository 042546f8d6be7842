"""All SQL of the catalogue. Functions take the request's session and return model rows or light column rows.

Reads on the hot path are Core selects of the needed columns, one statement per list and two per detail: each
statement costs about 0.3-0.7 ms of SQLAlchemy and driver work whatever it returns (profiled, issue 5 §6), so a
summary row carries its display names (one correlated subquery per locale of the fallback chain) and its commune's
names (a left join) instead of two more queries per page.
"""

from collections.abc import Sequence
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Integer, Select, String, case, literal, null, or_, union_all
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
from sqlalchemy.orm import defer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide.geo import Box
from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationSource,
    DestinationTranslation,
)

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
    ``commune_name_en``, ``commune_unit_type`` its commune's (``None`` without a commune)."""

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


def _name_in(locale: str, label: str) -> ColumnElement[Any]:
    """The destination's name in ``locale`` (``NULL`` when it has none), as a correlated scalar subquery."""
    return (
        sa_select(_TRANSLATION.c.name)
        .where(_TRANSLATION.c.destination_id == _DESTINATION.c.id, _TRANSLATION.c.locale == locale)
        .scalar_subquery()
        .label(label)
    )


def _filtered(kinds: Sequence[str], commune: str | None, boxes: Sequence[Box], chain: Sequence[str]) -> Select[Any]:
    """Summary columns, names along ``chain`` (``n0``...) and commune names of the destinations matching filters."""
    query: Select[Any] = sa_select(  # type: ignore[assignment]
        *(col(column) for column in _SUMMARY_COLUMNS),
        _COMMUNE.c.name.label("commune_name"),
        _COMMUNE.c.name_en.label("commune_name_en"),
        _COMMUNE.c.unit_type.label("commune_unit_type"),
        *(_name_in(locale, f"n{i}") for i, locale in enumerate(chain[:MAX_CHAIN])),
    ).select_from(_DESTINATION.outerjoin(_COMMUNE, _COMMUNE.c.code == _DESTINATION.c.commune_code))
    if kinds:
        query = query.where(col(Destination.kind).in_(kinds))
    if commune:
        query = query.where(col(Destination.commune_code) == commune)
    for box in boxes:
        query = query.where(
            col(Destination.lat).between(box.min_lat, box.max_lat),
            col(Destination.lon).between(box.min_lon, box.max_lon),
        )
    return query


async def _summary_rows(session: AsyncSession, query: Select[Any]) -> Sequence[SummaryRow]:
    connection = await session.connection()
    return cast("Sequence[SummaryRow]", (await connection.execute(query)).all())


async def list_destinations(
    session: AsyncSession,
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
    query = _filtered(kinds, commune, boxes, chain)
    if after_slug is not None:
        query = query.where(col(Destination.slug) > after_slug)
    return await _summary_rows(session, query.order_by(col(Destination.slug)).limit(limit))


async def destinations_in_boxes(
    session: AsyncSession, *, kinds: Sequence[str], commune: str | None, boxes: Sequence[Box], chain: Sequence[str]
) -> Sequence[SummaryRow]:
    """Every destination inside all ``boxes`` (the candidates of a radius query), names along ``chain``."""
    return await _summary_rows(session, _filtered(kinds, commune, boxes, chain))


async def map_features(
    session: AsyncSession, *, kinds: Sequence[str], box: Box, limit: int, chain: Sequence[str]
) -> Sequence[SummaryRow]:
    """Up to ``limit`` destinations inside ``box``, landmarks first (``KIND_PRIORITY``), then larger places; names
    along ``chain``."""
    priority = case(KIND_PRIORITY, value=Destination.kind, else_=len(KIND_PRIORITY))
    query = _filtered(kinds, None, [box], chain).order_by(
        priority, col(Destination.population).desc().nulls_last(), col(Destination.id)
    )
    return await _summary_rows(session, query.limit(limit))


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


async def get_destination(session: AsyncSession, slug: str) -> DetailRow | None:
    """The detail columns of the destination with this slug and its commune's names (one statement), or ``None``.

    Its translated names are not selected here (``n0``... are absent): ``detail_parts`` reads all of them.
    """
    query = _filtered((), None, (), ()).add_columns(*(col(column) for column in _DETAIL_COLUMNS))
    row = (await (await session.connection()).execute(query.where(col(Destination.slug) == slug))).first()
    return cast("DetailRow | None", row)


def _text(column: Any = None) -> ColumnElement[Any]:
    return sql_cast(null(), String) if column is None else sql_cast(column, String)


async def detail_parts(session: AsyncSession, destination_id: int) -> Sequence[DetailPart]:
    """Every translation, alias and merged source record of a destination in one statement (``DetailPart``
    rows); aliases in import order (``ord``), the rest unordered."""

    def part(tag: str, ord_: Any, table: Any, fk: Any, *columns: Any) -> Select[Any]:
        padded = [_text(c) for c in columns] + [_text() for _ in range(7 - len(columns))]
        labelled = [c.label(name) for c, name in zip(padded, "abcdefg", strict=True)]
        return sa_select(literal(tag).label("part"), sql_cast(ord_, Integer).label("ord"), *labelled).where(
            fk == destination_id
        )

    t, a, s = _TRANSLATION.c, _ALIAS.c, _SOURCE.c
    query = union_all(
        part("t", literal(0), _TRANSLATION, t.destination_id, t.locale, t.name),
        part("a", a.id, _ALIAS, a.destination_id, a.alias, a.lang, a.alias_kind),
        part(
            "s",
            literal(0),
            _SOURCE,
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
    return cast("Sequence[DetailPart]", (await (await session.connection()).execute(query)).all())


async def slugs_by_source_id(session: AsyncSession, source_ids: Sequence[str]) -> dict[str, str]:
    """Slugs of the destinations whose primary record is one of ``source_ids``."""
    if not source_ids:
        return {}
    rows = await session.exec(
        select(Destination.source_id, Destination.slug).where(col(Destination.source_id).in_(source_ids))
    )
    return dict(rows.all())


async def commune_names(session: AsyncSession, codes: Sequence[str]) -> dict[str, CommuneName]:
    """Code, names and unit type of the communes with these codes."""
    if not codes:
        return {}
    table = Commune.__table__  # type: ignore[attr-defined]
    query = sa_select(table.c.code, table.c.name, table.c.name_en, table.c.unit_type).where(table.c.code.in_(codes))
    return {row.code: cast("CommuneName", row) for row in await (await session.connection()).execute(query)}


async def list_communes(
    session: AsyncSession, *, folded_query: str | None, after_code: str | None, limit: int
) -> Sequence[Commune]:
    """Communes by code, boundary not loaded; ``folded_query`` matches the current or a former unit's name (folded)."""
    query = select(Commune).options(defer(Commune.boundary))  # type: ignore[arg-type]
    if folded_query:
        escaped = folded_query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        former = select(CommuneFormerUnit.commune_code).where(
            col(CommuneFormerUnit.old_name_folded).like(pattern, escape="\\")
        )
        query = query.where(or_(col(Commune.name_folded).like(pattern, escape="\\"), col(Commune.code).in_(former)))
    if after_code is not None:
        query = query.where(Commune.code > after_code)
    return (await session.exec(query.order_by(col(Commune.code)).limit(limit))).all()


async def get_commune(session: AsyncSession, code: str) -> Commune | None:
    """The 2025 commune with this 5-digit code, boundary included, or ``None``."""
    return await session.get(Commune, code)


async def former_units_of(session: AsyncSession, code: str) -> Sequence[CommuneFormerUnit]:
    """The pre-2025 units merged into the 2025 commune ``code``, by old code."""
    query = select(CommuneFormerUnit).where(CommuneFormerUnit.commune_code == code)
    return (await session.exec(query.order_by(col(CommuneFormerUnit.old_code)))).all()


async def former_unit(session: AsyncSession, old_code: str) -> CommuneFormerUnit | None:
    """The pre-2025 unit with this old code (never resolved as the 2025 unit of the same number), or ``None``."""
    return await session.get(CommuneFormerUnit, old_code)
