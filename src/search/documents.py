"""Search documents, built by pure functions from catalogue rows (ARCHITECTURE.md example 8: search is a projection).

A destination document carries its name in every locale the catalogue has (``destination_translation``), its
aliases (the shipped aliases file and GeoNames alternate names; "false-friend" aliases, which name a *different*
place that folds to the same letters, are left out), its commune and coordinates. A commune document carries its
2025 name (vi, en), its full name, and as former names every pre-2025 unit merged into it, the districts it came
from and, for communes of the former Yên Bái province, that province (Resolution 202/2025/QH15).

Importance (0..1) is computed from facts in the data only: what the thing is (a town outranks a village of the same
name), whether the curated aliases file or a wiki names it, how many languages name it, and its population. The
weights are ours, documented here, and the same on both engines.
"""

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from src.search.port import DocumentType, SearchDocument

#: Aliases-file kinds that name another place: never indexed as this one's name (data/search: "false-friend").
EXCLUDED_ALIAS_KINDS = frozenset({"false-friend"})
#: Alias kinds that are not from the curated aliases file.
UNCURATED_ALIAS_KINDS = frozenset({"alternate", "merged-record"})

#: Base importance by what a thing is. Settlements and landmarks a visitor travels to first.
KIND_IMPORTANCE: Mapping[str, float] = {
    "city": 0.55,
    "town": 0.5,
    "destination": 0.4,
    "peak": 0.4,
    "mountain_pass": 0.35,
    "market": 0.35,
    "lake": 0.3,
    "cave": 0.3,
    "mountain_range": 0.3,
    "railway_station": 0.25,
    "dam": 0.25,
    "mountain": 0.2,
    "village": 0.2,
    "bridge": 0.15,
    "hotel": 0.1,
    "stream": 0.1,
    "stream_section": 0.1,
}
DEFAULT_KIND_IMPORTANCE = 0.15
#: A lodging ranks below every place of the map: a search for "Sa Pa" is for the town, not a homestay named after it.
PROPERTY_IMPORTANCE = 0.05
WARD_IMPORTANCE = 0.45
COMMUNE_IMPORTANCE = 0.4
CURATED_BONUS = 0.2
WIKI_BONUS = 0.1
PER_LOCALE_BONUS = 0.04
MAX_LOCALE_BONUS = 0.16
#: Population bonus: ``0.1 * log10(population) / 6`` (a million people would give the whole 0.1).
POPULATION_BONUS = 0.1

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
FORMER_PROVINCE = "Tỉnh Yên Bái"


@dataclass(frozen=True, slots=True)
class DestinationFacts:
    """What a destination document is built from (one row of ``destination`` and its names)."""

    slug: str
    kind: str
    name: str
    name_locale: str
    source: str
    population: int | None
    lat: float
    lon: float
    commune_code: str | None
    translations: Mapping[str, str]
    aliases: Sequence[tuple[str, str]]  # (alias, alias_kind)


@dataclass(frozen=True, slots=True)
class CommuneFacts:
    """What a commune document is built from (one row of ``commune`` and its former units)."""

    code: str
    name: str
    full_name: str
    name_en: str
    unit_type: str
    rep_lat: float
    rep_lon: float
    old_province: str
    old_districts: Sequence[str]
    former_units: Sequence[str]


@dataclass(frozen=True, slots=True)
class PropertyFacts:
    """What a property document is built from (one listed row of ``property``)."""

    id: str
    name: str
    kind: str
    lat: float
    lon: float
    commune_code: str


#: A published article or tour ranks beside the places it is about, below the towns and landmarks themselves.
CONTENT_IMPORTANCE = 0.3


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """What an article or tour document is built from: its published titles per locale, and the point it is shown
    at (its first destination, a tour's first stop, else its first commune's representative point)."""

    slug: str
    kind: str
    titles: Mapping[str, str]
    lat: float
    lon: float
    commune_code: str | None


def document_key(doc_type: str, ref: str) -> str:
    """``<type>-<ref>`` with anything outside ``[A-Za-z0-9_-]`` replaced by ``_`` (Meilisearch's id alphabet).

    A slug is already in that alphabet (``src/guide/names.py``), so keys are unique."""
    return f"{doc_type}-{_KEY_UNSAFE.sub('_', ref)}"


def commune_names(commune: CommuneFacts | None) -> dict[str, str]:
    """A commune's display names per locale: its 2025 name (vi) and its English name."""
    if commune is None:
        return {}
    names = {"vi": commune.name}
    if commune.name_en:
        names["en"] = commune.name_en
    return names


def _unique(values: Iterable[str], exclude: Iterable[str] = ()) -> tuple[str, ...]:
    seen = {v.casefold() for v in exclude}
    out = []
    for value in values:
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)


def destination_document(facts: DestinationFacts, commune: CommuneFacts | None) -> SearchDocument:
    """The search document of one destination."""
    names = dict(facts.translations)
    names.setdefault(facts.name_locale, facts.name)
    names.setdefault("vi", facts.name)
    aliases = [alias for alias, kind in facts.aliases if kind not in EXCLUDED_ALIAS_KINDS]
    curated = any(kind not in UNCURATED_ALIAS_KINDS | EXCLUDED_ALIAS_KINDS for _alias, kind in facts.aliases)
    importance = KIND_IMPORTANCE.get(facts.kind, DEFAULT_KIND_IMPORTANCE)
    importance += CURATED_BONUS if curated else 0.0
    importance += WIKI_BONUS if facts.source in ("wikipedia", "wikivoyage") else 0.0
    importance += min(MAX_LOCALE_BONUS, PER_LOCALE_BONUS * (len(names) - 1))
    if facts.population and facts.population > 1:
        importance += POPULATION_BONUS * min(1.0, math.log10(facts.population) / 6)
    return SearchDocument(
        key=document_key(DocumentType.DESTINATION, facts.slug),
        type=DocumentType.DESTINATION,
        ref=facts.slug,
        kind=facts.kind,
        commune_code=facts.commune_code,
        names=names,
        aliases=_unique(aliases, exclude=names.values()),
        former_names=(),
        commune_names=commune_names(commune),
        commune_unit_type=commune.unit_type if commune else None,
        lat=facts.lat,
        lon=facts.lon,
        importance=round(min(1.0, importance), 4),
    )


def commune_document(facts: CommuneFacts) -> SearchDocument:
    """The search document of one 2025 commune (or ward), with the names the 2025 merger abolished."""
    names = commune_names(facts)
    former = [*facts.former_units, *facts.old_districts]
    if facts.old_province == FORMER_PROVINCE:
        former.append(FORMER_PROVINCE)
    return SearchDocument(
        key=document_key(DocumentType.COMMUNE, facts.code),
        type=DocumentType.COMMUNE,
        ref=facts.code,
        kind=facts.unit_type,
        commune_code=facts.code,
        names=names,
        aliases=_unique([facts.full_name], exclude=names.values()),
        former_names=_unique(former, exclude=[*names.values(), facts.full_name]),
        commune_names=names,
        commune_unit_type=facts.unit_type,
        lat=facts.rep_lat,
        lon=facts.rep_lon,
        importance=WARD_IMPORTANCE if facts.unit_type == "ward" else COMMUNE_IMPORTANCE,
    )


def property_document(facts: PropertyFacts, commune: CommuneFacts | None) -> SearchDocument:
    """The search document of one listed property (hotel, homestay, guesthouse, ecolodge): its name, kind,
    commune and coordinates; ``ref`` is its id (``GET /v1/properties/{id}``)."""
    return SearchDocument(
        key=document_key(DocumentType.PROPERTY, facts.id),
        type=DocumentType.PROPERTY,
        ref=facts.id,
        kind=facts.kind,
        commune_code=facts.commune_code,
        names={"vi": facts.name},
        aliases=(),
        former_names=(),
        commune_names=commune_names(commune),
        commune_unit_type=commune.unit_type if commune else None,
        lat=facts.lat,
        lon=facts.lon,
        importance=PROPERTY_IMPORTANCE,
    )


def content_document(facts: ContentFacts, commune: CommuneFacts | None) -> SearchDocument:
    """The search document of a published article or tour: its titles in every locale it has, shown at its point;
    ``kind`` is ``article`` or ``tour``."""
    return SearchDocument(
        key=document_key(facts.kind, facts.slug),
        type=facts.kind,
        ref=facts.slug,
        kind=facts.kind,
        commune_code=facts.commune_code,
        names=dict(facts.titles),
        aliases=(),
        former_names=(),
        commune_names=commune_names(commune),
        commune_unit_type=commune.unit_type if commune else None,
        lat=facts.lat,
        lon=facts.lon,
        importance=CONTENT_IMPORTANCE,
    )


def fingerprint(documents: Iterable[SearchDocument], settings_version: str) -> str:
    """A SHA-256 over the settings version and every document (sorted by key): equal fingerprints mean an index
    built from these documents needs no rebuild."""
    digest = hashlib.sha256(settings_version.encode())
    for document in sorted(documents, key=lambda d: d.key):
        digest.update(repr(document).encode())
    return digest.hexdigest()


def to_record(document: SearchDocument) -> dict[str, Any]:
    """The JSON object an engine stores for ``document`` (every field; the adapter adds its own search fields)."""
    return {
        "key": document.key,
        "type": document.type,
        "ref": document.ref,
        "kind": document.kind,
        "commune_code": document.commune_code,
        "names": dict(document.names),
        "aliases": list(document.aliases),
        "former_names": list(document.former_names),
        "commune_names": dict(document.commune_names),
        "commune_unit_type": document.commune_unit_type,
        "lat": document.lat,
        "lon": document.lon,
        "importance": document.importance,
    }


def from_record(record: Mapping[str, Any]) -> SearchDocument:
    """``to_record``'s inverse; extra keys (an adapter's own fields) are ignored."""
    return SearchDocument(
        key=record["key"],
        type=record["type"],
        ref=record["ref"],
        kind=record["kind"],
        commune_code=record.get("commune_code"),
        names=dict(record["names"]),
        aliases=tuple(record.get("aliases") or ()),
        former_names=tuple(record.get("former_names") or ()),
        commune_names=dict(record.get("commune_names") or {}),
        commune_unit_type=record.get("commune_unit_type"),
        lat=float(record["lat"]),
        lon=float(record["lon"]),
        importance=float(record["importance"]),
    )
