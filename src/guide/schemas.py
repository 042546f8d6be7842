"""Response shapes of the catalogue endpoints (API.md). Coordinates are WGS84 degrees; distances in metres.

Translated fields come with the locale they were taken from (``name`` + ``name_locale``) so that a client can mark
a fallback (API.md, "Locale").
"""

from datetime import datetime
from typing import Any

import msgspec


class Location(msgspec.Struct):
    """A WGS84 point as JSON bodies carry it: ``{"lat": 22.3364, "lon": 103.8438}``."""

    lat: float
    lon: float


class CommuneRef(msgspec.Struct):
    """The 2025 commune a destination lies in; ``code`` is its 5-digit code as a string (``"03006"``)."""

    code: str
    name: str
    name_locale: str
    unit_type: str


class DestinationSummary(msgspec.Struct):
    """One destination in a list. ``distance_m`` (metres, great-circle) is present when a point was given."""

    slug: str
    kind: str
    name: str
    name_locale: str
    location: Location
    commune: CommuneRef | None
    elevation_m: int | None
    quality_flags: list[str]
    distance_m: int | None = None


class DestinationPage(msgspec.Struct):
    """A page of destinations; pass ``next_cursor`` back as ``cursor`` for the next one (``null`` at the end)."""

    items: list[DestinationSummary]
    next_cursor: str | None


class Alias(msgspec.Struct):
    """Another name of a destination; ``lang`` is BCP 47 (``und`` when unknown)."""

    name: str
    lang: str
    kind: str


class SourceRecord(msgspec.Struct):
    """A source record behind a destination, with its licence and the attribution to show."""

    source: str
    source_id: str
    name: str
    url: str | None
    licence: str
    attribution: str
    note: str | None
    primary: bool


class DuplicateRef(msgspec.Struct):
    """Another record the sources say may be the same place; ``slug`` is null when it is merged elsewhere."""

    source_id: str
    slug: str | None


class DestinationDetail(msgspec.Struct):
    """One destination with every name the sources hold (``names``: locale -> name), aliases, sources, licence."""

    slug: str
    kind: str
    name: str
    name_locale: str
    names: dict[str, str]
    location: Location
    elevation_m: int | None
    dem_m: int | None
    population: int | None
    commune: CommuneRef | None
    coord_precision: str
    in_province: bool
    outside_by_m: int | None
    quality_flags: list[str]
    qa_note: str | None
    possible_duplicates: list[DuplicateRef]
    aliases: list[Alias]
    sources: list[SourceRecord]
    updated_at: datetime


class CommuneSummary(msgspec.Struct):
    """A 2025 commune-level unit. ``unit_type`` is ``ward`` (phường) or ``commune`` (xã); ``bbox`` is
    ``[minLon, minLat, maxLon, maxLat]``; ``representative_point`` lies inside the unit but is not its centre."""

    code: str
    name: str
    name_locale: str
    full_name: str
    unit_type: str
    area_km2: float
    representative_point: Location
    bbox: list[float]


class CommunePage(msgspec.Struct):
    items: list[CommuneSummary]
    next_cursor: str | None


class FormerUnit(msgspec.Struct):
    """A pre-2025 unit merged into this commune on 2025-07-01 (its code is never reused for lookups)."""

    code: str
    name: str
    district: str
    province: str
    legal_basis: str


class CommuneDetail(CommuneSummary):
    """A commune with its boundary (GeoJSON geometry, counter-clockwise outer rings) and former names."""

    boundary: dict[str, Any]
    old_province: str
    old_districts: list[str]
    former_units: list[FormerUnit]
    source: str
    licence: str


class PointGeometry(msgspec.Struct):
    """A GeoJSON Point: ``coordinates`` is ``[lon, lat]`` (RFC 7946 §3.1.2, longitude first)."""

    type: str
    coordinates: list[float]


class FeatureProperties(msgspec.Struct):
    slug: str
    kind: str
    name: str
    name_locale: str
    commune: str | None
    quality_flags: list[str]


class Feature(msgspec.Struct):
    """A GeoJSON Feature (RFC 7946 §3.2) whose ``id`` is the destination slug."""

    type: str
    id: str
    geometry: PointGeometry
    properties: FeatureProperties


class FeatureCollection(msgspec.Struct):
    """A GeoJSON FeatureCollection (RFC 7946 §3.3); ``truncated`` (a foreign member) is true when more
    features matched than ``limit`` allowed."""

    type: str
    features: list[Feature]
    truncated: bool
