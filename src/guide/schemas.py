"""Response shapes of the catalogue endpoints (API.md). Coordinates are WGS84 degrees; distances in metres.

Translated fields come with the locale they were taken from (``name`` + ``name_locale``) so that a client can mark
a fallback (API.md, "Locale").
"""

from datetime import datetime
from typing import Annotated, Any

import msgspec

from src.guide.models import DestinationKind


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
    #: OpenStreetMap ``opening_hours`` syntax (local time of Vietnam), ``null`` when unknown; whether it is open
    #: now is ``GET /v1/destinations/{slug}/hours``.
    opening_hours: str | None = None


class OpeningState(msgspec.Struct):
    """Whether a destination is open at ``at`` (local time of Vietnam, ``+07:00``), from its ``opening_hours``
    with public holidays (``PH``) from the shipped holiday file: ``open_now`` (``null`` when unknown: no hours, or
    the expression says unknown), ``opens_at``/``closes_at`` (the next change), ``holidays_known`` (the years the
    holiday file covers)."""

    slug: str
    opening_hours: str | None
    at: datetime
    open_now: bool | None
    opens_at: datetime | None
    closes_at: datetime | None
    comment: str | None
    holidays_known: list[int]


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


# -- editor ------------------------------------------------------------------------------------------------------

#: Locales a name can be edited in: the served ones, and ``zh`` (Chinese of unstated script, as sources give it).
EDITABLE_LOCALE = r"^(vi|en|zh-Hans|zh|fr|ko)$"
#: A display name: 1..200 characters (NFC-normalised and checked for control characters by the service).
EditedName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: Alias kinds an editor may give (the aliases file's vocabulary; ``false-friend`` names another place and is not
#: an alias of this one, so it cannot be added here).
ALIAS_KINDS = ("official", "variant", "exonym", "historic", "common", "informal", "nickname")


class AliasInput(msgspec.Struct, forbid_unknown_fields=True):
    """An alias to add: its spelling, its language (BCP 47, ``und`` when unknown) and its kind."""

    name: EditedName
    lang: Annotated[str, msgspec.Meta(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")] = (
        "und"
    )
    kind: Annotated[str, msgspec.Meta(pattern="^(" + "|".join(ALIAS_KINDS) + ")$")] = "variant"


class DestinationEdit(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /v1/editor/destinations/{slug}``: every member optional, at least one change.

    Attributes:
        name: the Vietnamese name (shorthand for ``translations.vi``; also the primary name when that is in vi).
        translations: locale -> name to set, or ``null`` to remove that locale's name (not ``vi``: a destination
            always keeps its Vietnamese or source name).
        add_aliases: aliases to add (an existing spelling in the same language is left as it is).
        remove_aliases: spellings to remove, in every language.
        opening_hours: the opening hours in OpenStreetMap syntax (``src/guide/hours.py``), ``null`` to clear.
    """

    name: EditedName | None = None
    translations: dict[Annotated[str, msgspec.Meta(pattern=EDITABLE_LOCALE)], EditedName | None] | None = None
    add_aliases: Annotated[list[AliasInput], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    remove_aliases: Annotated[list[EditedName], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    #: OpenStreetMap ``opening_hours`` syntax (``Mo-Su 07:00-17:00; PH off``), or ``null`` to clear them.
    opening_hours: str | msgspec.UnsetType | None = msgspec.UNSET


# -- media ---------------------------------------------------------------------------------------------------------


class MediaVariant(msgspec.Struct):
    """One stored file of a media item: ``w<width>`` image renditions (WebP, widths in px) or the ``original``
    audio. ``url`` serves its bytes (content-addressed, cached for a year); ``hash`` is its SHA-256 (hex) and
    ``ETag``; ``size_bytes`` its length."""

    variant: str
    url: str
    hash: str
    size_bytes: int
    mime_type: str
    width: int | None = None
    height: int | None = None


class MediaRef(msgspec.Struct):
    """A media item as the app and other content (articles, tours, packs) show it.

    ``url``/``hash``/``size_bytes``/``mime_type`` are those of the main file (an image's largest rendition, at most
    1280 px wide; the audio as uploaded). Images have ``width``/``height`` (px, of that main file), audio has
    ``duration_ms``. ``locale`` is the BCP 47 tag of the narration or of text in the image (``null``: language
    neutral). ``caption`` is the caption/alt text in the response locale or its fallback (``caption_locale`` says
    which; both ``null`` when there is none). ``licence`` and ``credit`` must be shown with the media.
    """

    id: str
    kind: str
    locale: str | None
    url: str
    hash: str
    size_bytes: int
    mime_type: str
    width: int | None
    height: int | None
    duration_ms: int | None
    licence: str
    credit: str
    caption: str | None
    caption_locale: str | None
    variants: list[MediaVariant]
    created_at: datetime


class MediaManifestEntry(msgspec.Struct):
    """A file an offline pack tells the app to fetch separately (the shape of ``manifest.json``'s ``media`` in
    ``src/guide/offline.py``): ``key`` (``media:<id>``, the pack item key), ``url``, ``sha256`` to check the bytes
    by, ``size`` in bytes, ``mime_type``."""

    key: str
    url: str
    sha256: str
    size: int
    mime_type: str


class DestinationCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/editor/destinations``: a place the open data lacks (a temple, a waterfall, a viewpoint). ``name``
    is Vietnamese; ``location`` WGS84 inside the province; ``commune`` its 5-digit 2025 code; ``source`` (who or
    what attests the place, shown as attribution) and ``licence`` are required; ``translations`` locale -> name."""

    kind: DestinationKind
    name: EditedName
    location: Location
    commune: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{5}$")]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    licence: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    source_url: Annotated[str, msgspec.Meta(max_length=300, pattern=r"^https?://")] | None = None
    elevation_m: Annotated[int, msgspec.Meta(ge=-100, le=9000)] | None = None
    translations: dict[Annotated[str, msgspec.Meta(pattern=EDITABLE_LOCALE)], EditedName] = msgspec.field(
        default_factory=dict
    )
    opening_hours: str | None = None
