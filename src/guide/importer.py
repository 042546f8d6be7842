"""Import of the shipped catalogue (``data/``) into the database: communes, former units, destinations, names.

The import is a pure projection of the files (``load_catalogue``) followed by a diff against the database
(``apply_catalogue``): running it twice changes nothing, and a slug once issued is never changed. Each known data
problem listed in data/SOURCES.md is handled on purpose:

- the 2025 commune points of ``laocai_places_admin_points.csv`` are communes, not destinations;
- commune outer rings run clockwise in the source; they are stored counter-clockwise (RFC 7946 §3.1.6);
- a destination's commune is the source's ``commune_2025_code``, never a point-in-polygon test (polygons overlap);
- doubtful rows (French-era spellings, arc-minute coordinates, likely duplicates, stale businesses, points just
  outside the province) are kept and carry ``quality_flags``;
- records of one place listed in ``data/curation/merges.csv`` (the Fansipan summit) become one destination whose
  other records are extra sources;
- Chinese names from Who's On First state no script and are stored under ``zh``, not ``zh-Hans``;
- aliases of the curated aliases file whose target is not in the data (Thác Bạc) are reported, not invented.
"""

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import mapping, shape
from shapely.geometry.polygon import orient
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationKind,
    DestinationSource,
    DestinationTranslation,
    QualityFlag,
)
from src.guide.names import fold, slugify
from src.kernel.db import utcnow

#: Files of the catalogue, relative to the catalogue folder (``data/``).
COMMUNES_CSV = "admin/laocai_2025_communes.csv"
COMMUNES_GEOJSON = "admin/laocai_2025_communes.geojson"
MERGE_CSV = "admin/laocai_2025_merge_old_to_new.csv"
ADMIN_POINTS_CSV = "places/laocai_places_admin_points.csv"
PLACE_CSVS = (
    "places/laocai_pois_wiki.csv",
    "places/laocai_pois_geonames.csv",
    "places/laocai_settlements_geonames.csv",
)
ALIASES_CSV = "search/laocai_name_aliases.csv"
MERGES_CSV = "curation/merges.csv"

#: Alias kinds of the aliases file that may serve as a display name in their language.
DISPLAY_ALIAS_KINDS = frozenset({"official", "official (2025)", "exonym", "common"})
#: Languages (as tagged in the data) that are served locales or their script-less parent.
DISPLAY_LANGS = {"vi": "vi", "en": "en", "fr": "fr", "ko": "ko", "zh-Hans": "zh-Hans", "zh": "zh"}
_FRENCH_ORTHOGRAPHY = re.compile(r"tch|ou|dj|tz|dz")
_GEONAMES_REF = re.compile(r"geonames:(\d+)")
_COARSE_NOTE = re.compile(r"coarse|nominal|label point|article-level point|range/massif label")
_UNIT_TYPES = {"phuong": "ward", "xa": "commune"}


class CatalogueError(ValueError):
    """The shipped files contradict themselves (unknown commune code, unknown category...): nothing is written."""


@dataclass
class DestinationRecord:
    """One destination as the files describe it, before it has a database id or slug."""

    source_id: str
    values: dict[str, Any]
    translations: dict[str, tuple[str, str]] = field(default_factory=dict)  # locale -> (name, source)
    aliases: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (alias, lang) -> (kind, evidence)
    extra_sources: list[dict[str, Any]] = field(default_factory=list)
    fixed_slug: str | None = None
    preferred_slug: str | None = None
    rank: tuple[Any, ...] = ()


@dataclass
class Catalogue:
    """Everything the files say, keyed by natural keys (commune code, old code, primary source id)."""

    communes: dict[str, dict[str, Any]]
    former_units: dict[str, dict[str, Any]]
    destinations: dict[str, DestinationRecord]
    unresolved_aliases: list[str]


@dataclass
class ImportReport:
    """What an import changed. ``changed`` is 0 when the database already matched the files."""

    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    unresolved_aliases: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.deleted.values())

    def summary(self) -> str:
        parts = [
            f"{verb} {table}={count}"
            for verb, counter in (
                ("inserted", self.inserted),
                ("updated", self.updated),
                ("deleted", self.deleted),
            )
            for table, count in sorted(counter.items())
            if count
        ]
        return ", ".join(parts) or "no changes"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as csv_file:
        return list(csv.DictReader(csv_file))


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(float(text)) if text else None


def _split(text: str, sep: str) -> list[str]:
    return [part.strip() for part in text.split(sep) if part.strip()]


def ccw_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    """Return a GeoJSON (Multi)Polygon with counter-clockwise outer rings and clockwise holes (RFC 7946 §3.1.6)."""
    geom = shape(geometry)
    if geom.geom_type == "Polygon":
        fixed = orient(geom, sign=1.0)
    elif geom.geom_type == "MultiPolygon":
        fixed = type(geom)([orient(part, sign=1.0) for part in geom.geoms])
    else:
        raise CatalogueError(f"commune boundary must be a Polygon or MultiPolygon, not {geom.geom_type}")
    result: dict[str, Any] = json.loads(json.dumps(mapping(fixed)))
    return result


def _load_communes(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    with (root / COMMUNES_GEOJSON).open(encoding="utf-8") as geojson_file:
        features = json.load(geojson_file)["features"]
    boundaries = {f["properties"]["code_2025"]: ccw_geometry(f["geometry"]) for f in features}
    communes: dict[str, dict[str, Any]] = {}
    for row in _read_csv(root / COMMUNES_CSV):
        code = row["code_2025"]
        min_lon, min_lat, max_lon, max_lat = (float(v) for v in row["bbox"].split(","))
        if code not in boundaries:
            raise CatalogueError(f"commune {code} has no boundary in {COMMUNES_GEOJSON}")
        communes[code] = {
            "code": code,
            "name": row["name_vi"],
            "full_name": row["full_name_vi"],
            "name_en": row["name_en"],
            "name_folded": fold(row["name_vi"]),
            "unit_type": _UNIT_TYPES[row["unit_type"]],
            "area_km2": float(row["area_km2"]),
            "rep_lat": float(row["rep_lat"]),
            "rep_lon": float(row["rep_lon"]),
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
            "boundary": boundaries[code],
            "old_province": row["old_province"],
            "old_districts": _split(row["old_districts"], ";"),
            "source": "vietnamese-provinces-database (MIT) <- sapnhap.bando.com.vn",
            "licence": "MIT",
        }
    former: dict[str, dict[str, Any]] = {}
    for row in _read_csv(root / MERGE_CSV):
        if row["new_commune_code"] not in communes:
            raise CatalogueError(f"former unit {row['old_commune_code']} maps to unknown {row['new_commune_code']}")
        former[row["old_commune_code"]] = {
            "old_code": row["old_commune_code"],
            "commune_code": row["new_commune_code"],
            "old_name": row["old_commune"],
            "old_name_folded": fold(row["old_commune"]),
            "old_district_code": row["old_district_code"],
            "old_district": row["old_district"],
            "old_province_code": row["old_province_code"],
            "old_province": row["old_province"],
            "legal_basis": row["legal_basis"],
        }
    return communes, former


def _flags(row: dict[str, str], kind: str) -> list[str]:
    note = row.get("qa_note", "")
    lang = row.get("name_lang", "")
    flags: list[QualityFlag] = []
    if "verify it still operates" in note or kind == DestinationKind.HOTEL:
        flags.append(QualityFlag.STALE_BUSINESS)
    if "coordinate likely wrong" in note:
        flags.append(QualityFlag.COORDINATE_SUSPECT)
    if row.get("coord_precision") == "arcminute":
        flags.append(QualityFlag.ARCMINUTE_PRECISION)
    if _COARSE_NOTE.search(note):
        flags.append(QualityFlag.COARSE_POINT)
    if row.get("in_2025_polygon") == "false":
        flags.append(QualityFlag.OUTSIDE_PROVINCE)
    if lang == "fr" or (lang == "und" and _FRENCH_ORTHOGRAPHY.search(fold(row["name"]))):
        flags.append(QualityFlag.FRENCH_ERA_SPELLING)
    if lang == "und":
        flags.append(QualityFlag.NAME_LANGUAGE_UNDETERMINED)
    return [str(flag) for flag in flags]


def _place_record(row: dict[str, str], communes: dict[str, dict[str, Any]]) -> DestinationRecord:
    kind = row["category"]
    if kind not in DestinationKind.__members__.values():
        raise CatalogueError(f"{row['source_id']}: unknown category {kind!r}")
    commune = row["commune_2025_code"] or None
    if commune is not None and commune not in communes:
        raise CatalogueError(f"{row['source_id']}: unknown commune {commune}")
    name_lang = row["name_lang"] or "und"
    record = DestinationRecord(
        source_id=row["source_id"],
        values={
            "kind": kind,
            "name": row["name"],
            "name_locale": name_lang,
            "name_folded": fold(row["name"]),
            "lat": float(row["lat"]),
            "lon": float(row["lon"]),
            "elevation_m": _int_or_none(row.get("elevation_m", "")),
            "dem_m": _int_or_none(row.get("dem_m", "")),
            "population": _int_or_none(row.get("population", "")),
            "commune_code": commune,
            "coord_precision": row.get("coord_precision") or "published",
            "in_province": row["in_2025_polygon"] != "false",
            "outside_by_m": _int_or_none(row["outside_by_m"]),
            "source": row["source"],
            "source_url": row["source_url"] or None,
            "source_modified": row.get("source_modified") or None,
            "licence": row["licence"],
            "attribution": row["attribution"],
            "quality_flags": _flags(row, kind),
            "possible_duplicates": sorted(
                {f"geonames:{ref}" for ref in _GEONAMES_REF.findall(row["qa_note"])} - {row["source_id"]}
            ),
            "qa_note": row["qa_note"] or None,
        },
    )
    source_name = row["source"]
    if name_lang in DISPLAY_LANGS:
        record.translations[name_lang] = (row["name"], source_name)
    for item in _split(row.get("names_i18n", ""), ";"):
        lang, _, name = item.partition(":")
        if lang in DISPLAY_LANGS and lang not in record.translations:
            record.translations[lang] = (name.strip(), row["names_i18n_source"])
    for alias in _split(row["alt_names"], "|"):
        record.aliases.setdefault((alias, "und"), ("alternate", f"{source_name} alternate name"))
    return record


def _anchor_record(row: dict[str, str]) -> DestinationRecord:
    """A non-commune row of laocai_places_admin_points.csv (the Fansipan summit), a published coordinate."""
    record = DestinationRecord(
        source_id=row["place_id"],
        values={
            "kind": row["kind"],
            "name": row["name_vi"],
            "name_locale": "vi",
            "name_folded": fold(row["name_vi"]),
            "lat": float(row["lat"]),
            "lon": float(row["lon"]),
            "elevation_m": None,
            "dem_m": None,
            "population": None,
            "commune_code": row["code_2025"] or None,
            "coord_precision": "published",
            "in_province": True,
            "outside_by_m": None,
            "source": "wikipedia",
            "source_url": None,
            "source_modified": None,
            "licence": "fact (published coordinate)",
            "attribution": row["source"],
            "quality_flags": [],
            "possible_duplicates": [],
            "qa_note": row["point_method"] or None,
        },
    )
    record.translations["vi"] = (row["name_vi"], "laocai_places_admin_points")
    if row["name_en"]:
        record.translations["en"] = (row["name_en"], "laocai_places_admin_points")
    return record


def _merge(primary: DestinationRecord, other: DestinationRecord) -> None:
    """Fold ``other`` (another record of the same place) into ``primary`` as an extra source."""
    values = other.values
    primary.extra_sources.append(
        {
            "source_id": other.source_id,
            "source": values["source"],
            "name": values["name"],
            "lat": values["lat"],
            "lon": values["lon"],
            "source_url": values["source_url"],
            "licence": values["licence"],
            "attribution": values["attribution"],
            "note": values["qa_note"],
        }
    )
    for key in ("commune_code", "elevation_m", "dem_m"):
        if primary.values[key] is None:
            primary.values[key] = values[key]
    for locale, name in other.translations.items():
        primary.translations.setdefault(locale, name)
    primary.aliases.setdefault((values["name"], values["name_locale"]), ("merged-record", other.source_id))
    for alias_key, alias_value in other.aliases.items():
        primary.aliases.setdefault(alias_key, alias_value)


def _rank(record: DestinationRecord) -> tuple[Any, ...]:
    """Who gets a contested bare slug first: curated slugs (merges, the aliases file's ``place_key``), anchors,
    wiki destinations, then towns by population."""
    curated = 0 if record.fixed_slug or record.preferred_slug else 1
    source_rank = {"anchor": 0, "wikivoyage": 1, "wikipedia": 1}.get(record.source_id.split(":")[0], 2)
    kind_rank = 0 if record.values["kind"] in {"city", "town", "destination"} else 1
    number = re.sub(r"\D", "", record.source_id)
    population = -(record.values["population"] or 0)
    return (curated, source_rank, kind_rank, population, int(number) if number else 0, record.source_id)


def load_catalogue(root: Path) -> Catalogue:
    """Read the catalogue files under ``root`` into memory; raises ``CatalogueError`` on inconsistent files."""
    communes, former = _load_communes(root)
    records: dict[str, DestinationRecord] = {}
    for row in _read_csv(root / ADMIN_POINTS_CSV):
        if row["kind"] == "admin_commune_2025":
            continue  # the commune points are communes (see _load_communes), not destinations
        records[row["place_id"]] = _anchor_record(row)
    for relative in PLACE_CSVS:
        for row in _read_csv(root / relative):
            if row["source_id"] in records:
                raise CatalogueError(f"{row['source_id']} appears twice")
            records[row["source_id"]] = _place_record(row, communes)

    for row in _read_csv(root / MERGES_CSV):
        primary, merged = records[row["primary_source_id"]], records.pop(row["merged_source_id"])
        primary.fixed_slug = row["slug"]
        _merge(primary, merged)
    merged_ids = {
        extra["source_id"]: primary.source_id for primary in records.values() for extra in primary.extra_sources
    }

    unresolved: list[str] = []
    for row in _read_csv(root / ALIASES_CSV):
        target = merged_ids.get(row["target_id"], row["target_id"])
        commune_code = target.removeprefix("commune:") if target.startswith("commune:") else None
        if commune_code in communes and fold(row["alias"]) == communes[commune_code]["name_folded"]:
            continue  # a commune's own name: served as the commune's name, nothing to add
        if target not in records:
            unresolved.append(f"{row['alias']} ({row['target_id'] or 'no target'})")
            continue
        record = records[target]
        record.preferred_slug = record.preferred_slug or row["place_key"]
        record.aliases[(row["alias"], row["lang"])] = (row["alias_kind"], row["evidence"])
        locale = DISPLAY_LANGS.get(row["lang"])
        if (
            locale
            and row["alias_kind"] in DISPLAY_ALIAS_KINDS
            and (record.translations.get(locale, ("", ""))[1] != "laocai_name_aliases")
        ):
            record.translations[locale] = (row["alias"], "laocai_name_aliases")

    # A duplicate reference is symmetric, and never points inside a merged record.
    for record in records.values():
        record.values["possible_duplicates"] = [
            ref for ref in record.values["possible_duplicates"] if merged_ids.get(ref, ref) != record.source_id
        ]
    for record in list(records.values()):
        for ref in record.values["possible_duplicates"]:
            other = records.get(merged_ids.get(ref, ref))
            if other is not None and record.source_id not in other.values["possible_duplicates"]:
                other.values["possible_duplicates"] = sorted([*other.values["possible_duplicates"], record.source_id])
    for record in records.values():
        flags = record.values["quality_flags"]
        if record.values["possible_duplicates"] and QualityFlag.LIKELY_DUPLICATE not in flags:
            flags.append(str(QualityFlag.LIKELY_DUPLICATE))
        record.rank = _rank(record)
    return Catalogue(communes=communes, former_units=former, destinations=records, unresolved_aliases=unresolved)


def assign_slugs(
    records: Iterable[DestinationRecord], taken: set[str], commune_names: dict[str, str]
) -> dict[str, str]:
    """Issue slugs for new records: the curated slug if any (``merges.csv``, the aliases file's ``place_key``),
    else the folded name, plus the commune on a clash, plus the source id if still ambiguous (``cat-cat``,
    ``lao-chai-bac-ha``, ``doi-bon-tran-yen-geonames-1234``). ``taken`` holds every slug already issued and is
    extended in place; the returned map is source id -> slug.
    """
    issued: dict[str, str] = {}
    for record in sorted(records, key=lambda r: r.rank):
        if record.fixed_slug:
            candidates = [record.fixed_slug]
        else:
            base = slugify(record.values["name"]) or "place"
            commune = commune_names.get(record.values["commune_code"] or "", "")
            with_commune = base if slugify(commune) == base else slugify(base, commune)
            candidates = [base, with_commune, slugify(with_commune, record.source_id)]
            if record.preferred_slug:
                candidates.insert(0, record.preferred_slug)
        slug = next((c for c in candidates if c not in taken), None)
        if slug is None:
            raise CatalogueError(f"no free slug for {record.source_id}: {candidates}")
        taken.add(slug)
        issued[record.source_id] = slug
    return issued


async def _sync_rows(
    conn: AsyncConnection,
    model: Any,
    key: str,
    desired: dict[Any, dict[str, Any]],
    report: ImportReport,
    *,
    touch: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Make ``model``'s table equal ``desired`` (key -> column values): insert, update, delete by ``key``."""
    table = model.__table__
    columns = [c.name for c in table.columns if c.name not in {"id", "created_at", "updated_at"}]
    existing = {getattr(row, key): row for row in (await conn.execute(select(table))).all()}
    for k, values in desired.items():
        row = existing.pop(k, None)
        if row is None:
            await conn.execute(table.insert().values(**values, **({"updated_at": utcnow()} if touch else {})))
            report.inserted[table.name] += 1
        elif any(getattr(row, c) != values[c] for c in columns if c in values):
            changes = dict(values)
            if touch:
                touch(changes)
            await conn.execute(update(table).where(table.c[key] == k).values(**changes))
            report.updated[table.name] += 1
    for k in existing:
        await conn.execute(delete(table).where(table.c[key] == k))
        report.deleted[table.name] += 1


def _stamp(values: dict[str, Any]) -> None:
    values["updated_at"] = utcnow()


async def apply_catalogue(
    session: AsyncSession, catalogue: Catalogue, progress: Callable[[str, int], None] | None = None
) -> ImportReport:
    """Bring the database in line with ``catalogue`` inside the caller's transaction (the caller commits).

    Destinations are matched by primary source id; existing slugs are kept. Destinations whose record left the
    files are not deleted (a slug once issued stays resolvable); they are reported as ``orphaned``.
    """
    report = ImportReport(unresolved_aliases=list(catalogue.unresolved_aliases))
    conn = await session.connection()
    step = progress or (lambda _label, _n: None)

    await _sync_rows(conn, Commune, "code", catalogue.communes, report, touch=_stamp)
    step("communes", len(catalogue.communes))
    await _sync_rows(conn, CommuneFormerUnit, "old_code", catalogue.former_units, report)
    step("former units", len(catalogue.former_units))

    dest_table = Destination.__table__  # type: ignore[attr-defined]
    existing = {row.source_id: row for row in (await conn.execute(select(dest_table))).all()}
    taken = {row.slug for row in existing.values()}
    new_records = [r for sid, r in catalogue.destinations.items() if sid not in existing]
    commune_names = {code: c["name"] for code, c in catalogue.communes.items()}
    slugs = assign_slugs(new_records, taken, commune_names)
    now = utcnow()
    if new_records:
        await conn.execute(
            dest_table.insert(),
            [
                {
                    **r.values,
                    "source_id": r.source_id,
                    "slug": slugs[r.source_id],
                    "created_at": now,
                    "updated_at": now,
                }
                for r in new_records
            ],
        )
        report.inserted["destination"] += len(new_records)
    for source_id, record in catalogue.destinations.items():
        row = existing.get(source_id)
        if row is not None and any(getattr(row, c) != v for c, v in record.values.items()):
            await conn.execute(
                update(dest_table).where(dest_table.c.source_id == source_id).values(**record.values, updated_at=now)
            )
            report.updated["destination"] += 1
    report.orphaned = sorted(set(existing) - set(catalogue.destinations))
    step("destinations", len(catalogue.destinations))

    ids: dict[str, int] = dict((await conn.execute(select(dest_table.c.source_id, dest_table.c.id))).all())
    translations: dict[Any, dict[str, Any]] = {}
    aliases: dict[Any, dict[str, Any]] = {}
    sources: dict[Any, dict[str, Any]] = {}
    for source_id, record in catalogue.destinations.items():
        dest_id = ids[source_id]
        for locale, (name, name_source) in record.translations.items():
            translations[(dest_id, locale)] = {
                "destination_id": dest_id,
                "locale": locale,
                "name": name,
                "name_source": name_source,
            }
        for (alias, lang), (kind, evidence) in record.aliases.items():
            aliases[(dest_id, alias, lang)] = {
                "destination_id": dest_id,
                "alias": alias,
                "lang": lang,
                "alias_kind": kind,
                "folded": fold(alias),
                "evidence": evidence,
            }
        for extra in record.extra_sources:
            sources[extra["source_id"]] = {**extra, "destination_id": dest_id}
    await _sync_composite(conn, DestinationTranslation, ("destination_id", "locale"), translations, report)
    step("names", len(translations))
    await _sync_composite(conn, DestinationAlias, ("destination_id", "alias", "lang"), aliases, report)
    step("aliases", len(aliases))
    await _sync_rows(conn, DestinationSource, "source_id", sources, report)
    step("sources", len(sources))
    await session.flush()
    return report


async def _sync_composite(
    conn: AsyncConnection,
    model: Any,
    key: tuple[str, ...],
    desired: dict[Any, dict[str, Any]],
    report: ImportReport,
) -> None:
    """Like ``_sync_rows`` for tables with a surrogate id and a composite natural key."""
    table = model.__table__
    columns = [c.name for c in table.columns if c.name != "id"]
    existing: dict[Any, Any] = {}
    for row in (await conn.execute(select(table))).all():
        existing[tuple(getattr(row, k) for k in key)] = row
    inserts = []
    for k, values in desired.items():
        row = existing.pop(k, None)
        if row is None:
            inserts.append(values)
        elif any(getattr(row, c) != values[c] for c in columns):
            await conn.execute(update(table).where(table.c.id == row.id).values(**values))
            report.updated[table.name] += 1
    if inserts:
        await conn.execute(table.insert(), inserts)
        report.inserted[table.name] += len(inserts)
    stale_ids = [row.id for row in existing.values()]
    for start in range(0, len(stale_ids), 500):
        await conn.execute(delete(table).where(table.c.id.in_(stale_ids[start : start + 500])))
    report.deleted[table.name] += len(stale_ids)


async def destination_count(session: AsyncSession) -> int:
    """How many destinations the database holds (0 means the catalogue was never imported)."""
    return int((await session.exec(sqlmodel_select(func.count()).select_from(Destination))).one())
