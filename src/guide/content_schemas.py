"""Request and response shapes of the guide's articles and tours (public reading API and the editors' workflow).

Texts are per locale (BCP 47: ``vi``, ``en``, ``zh-Hans``, ``fr``, ``ko``). Public responses give each text in the
negotiated locale along its fallback chain (requested -> ``en`` -> ``vi``) with the locale it came from beside it
(``title`` and ``title_locale``). Coordinates are WGS84; GeoJSON members use ``[lon, lat]`` (RFC 7946). Lengths are
metres, durations minutes, elevations metres above sea level, months 1-12.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from src.guide.schemas import Location, MediaRef

# -- input ---------------------------------------------------------------------------------------------------------


class TextsInput(msgspec.Struct, forbid_unknown_fields=True):
    """The texts of an item in one locale. ``title`` is required in every locale given; ``body`` is the article's
    story (plain text, paragraphs separated by blank lines); ``safety_notes`` belong to tours."""

    title: str
    summary: str | None = None
    body: str | None = None
    safety_notes: str | None = None


class StopInput(msgspec.Struct, forbid_unknown_fields=True):
    """A tour stop: a destination slug, optional notes per locale, and an optional trigger zone where the app may
    start the stop's narration on arrival: ``{"type": "circle", "center": [lon, lat], "radius_m": 10..5000}`` or a
    GeoJSON Polygon (RFC 7946 §3.1.6; rings closed, re-wound counter-clockwise when given clockwise)."""

    destination: str
    notes: dict[str, str] = {}
    trigger_zone: dict[str, Any] | None = None


class ItemFields(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The editable fields of an article or a tour (all optional in a PATCH: a field given replaces its value;
    ``translations`` is merged per locale, ``null`` removing that locale).

    Tags: ``destinations`` (slugs), ``communes`` (5-digit 2025 codes), ``peoples`` and ``topics`` (codes of
    ``src/guide/content.py``'s vocabularies), ``media_ids`` (``POST /v1/editor/media`` ids). Tours only: ``stops``
    (2-50, in order), ``route`` (a GeoJSON LineString; without it the route joins the stops in order),
    ``duration_minutes`` (1-10,080), ``difficulty`` (easy, moderate, hard), ``elevation_gain_m`` (0-10,000; computed
    from the stops' surveyed elevations when every stop has one and none is given), ``best_months`` (1-12)."""

    translations: dict[str, TextsInput | None] | msgspec.UnsetType = msgspec.UNSET
    destinations: list[str] | msgspec.UnsetType = msgspec.UNSET
    communes: list[str] | msgspec.UnsetType = msgspec.UNSET
    peoples: list[str] | msgspec.UnsetType = msgspec.UNSET
    topics: list[str] | msgspec.UnsetType = msgspec.UNSET
    media_ids: list[str] | msgspec.UnsetType = msgspec.UNSET
    stops: list[StopInput] | msgspec.UnsetType = msgspec.UNSET
    route: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    duration_minutes: int | msgspec.UnsetType | None = msgspec.UNSET
    difficulty: str | msgspec.UnsetType | None = msgspec.UNSET
    elevation_gain_m: int | msgspec.UnsetType | None = msgspec.UNSET
    best_months: list[int] | msgspec.UnsetType = msgspec.UNSET


class ItemCreate(ItemFields, forbid_unknown_fields=True, omit_defaults=True):
    """A new draft: ``slug`` (lower-case ASCII words joined by hyphens, issued once; made from the Vietnamese or
    English title when absent) and the fields of ``ItemFields`` (``translations`` required)."""

    slug: str | None = None


class WorkflowNote(msgspec.Struct, forbid_unknown_fields=True):
    """An optional note recorded with a workflow step (e.g. what to change), at most 2,000 characters."""

    note: str | None = None


# -- public output -------------------------------------------------------------------------------------------------


class DestinationRef(msgspec.Struct):
    """A destination an item names: its slug, name along the locale chain, position and elevation (metres)."""

    slug: str
    name: str
    name_locale: str
    location: Location
    elevation_m: int | None
    commune: str | None


class ItemSummary(msgspec.Struct):
    """A published article or tour in a list."""

    slug: str
    kind: str
    title: str
    title_locale: str
    summary: str | None
    summary_locale: str | None
    destinations: list[str]
    communes: list[str]
    peoples: list[str]
    topics: list[str]
    locales: list[str]
    revision: int
    published_at: datetime
    is_sample: bool
    length_m: int | None = None
    duration_minutes: int | None = None
    difficulty: str | None = None


class ItemPage(msgspec.Struct):
    items: list[ItemSummary]
    next_cursor: str | None


class LineStringGeometry(msgspec.Struct):
    """A GeoJSON LineString (RFC 7946 §3.1.4), positions ``[lon, lat]`` or ``[lon, lat, elevation]``."""

    type: str
    coordinates: list[list[float]]


class RouteProperties(msgspec.Struct):
    """``length_m``: the route's great-circle length (haversine on a sphere of radius 6,371,008.8 m, the IUGG mean
    Earth radius), rounded to the metre; ``source``: ``editor`` (drawn) or ``stops`` (straight segments between the
    stops in order)."""

    length_m: int
    source: str


class RouteFeature(msgspec.Struct):
    """The tour's route as a GeoJSON Feature (RFC 7946 §3.2)."""

    type: str
    geometry: LineStringGeometry
    properties: RouteProperties


class TourStop(msgspec.Struct):
    """A stop in order (``position`` from 1), its destination, its note along the locale chain, and its trigger
    zone as a GeoJSON geometry (a Polygon, or a Point with ``radius_m`` for a circle)."""

    position: int
    destination: DestinationRef
    note: str | None
    note_locale: str | None
    trigger_zone: dict[str, Any] | None


class ArticleView(msgspec.Struct):
    """A published article in one locale: texts with their locales, tags, the destinations it names, its media."""

    slug: str
    kind: str
    title: str
    title_locale: str
    summary: str | None
    summary_locale: str | None
    body: str | None
    body_locale: str | None
    destinations: list[DestinationRef]
    communes: list[str]
    peoples: list[str]
    topics: list[str]
    media: list[MediaRef]
    locales: list[str]
    revision: int
    published_at: datetime
    is_sample: bool


class TourView(msgspec.Struct):
    """A published tour in one locale: its texts, stops in order, route, length (metres), duration (minutes),
    difficulty, elevation gain (metres, ``elevation_gain_source``: ``editor`` or ``stops``; ``null`` when unknown),
    best months (1-12) and safety notes."""

    slug: str
    kind: str
    title: str
    title_locale: str
    summary: str | None
    summary_locale: str | None
    safety_notes: str | None
    safety_notes_locale: str | None
    stops: list[TourStop]
    route: RouteFeature
    length_m: int
    duration_minutes: int | None
    difficulty: str | None
    elevation_gain_m: int | None
    elevation_gain_source: str | None
    best_months: list[int]
    destinations: list[DestinationRef]
    communes: list[str]
    peoples: list[str]
    topics: list[str]
    media: list[MediaRef]
    locales: list[str]
    revision: int
    published_at: datetime
    is_sample: bool


# -- editor output -------------------------------------------------------------------------------------------------


class LocaleCompleteness(msgspec.Struct):
    """How far one locale is translated: the texts it has and lacks of those its kind needs, as a percentage."""

    present: list[str]
    missing: list[str]
    percent: int


class EditorItem(msgspec.Struct):
    """The working copy as editors see it: status, version (also the strong ``ETag``), the fields as stored,
    translation completeness per served locale, the latest published revision number (``null`` when never)."""

    slug: str
    kind: str
    status: str
    version: int
    is_sample: bool
    fields: dict[str, Any]
    completeness: dict[str, LocaleCompleteness]
    published_revision: int | None
    author_id: UUID | None
    created_at: datetime
    updated_at: datetime


class EditorItemPage(msgspec.Struct):
    items: list[EditorItem]
    next_cursor: str | None


class RevisionView(msgspec.Struct):
    """An immutable published revision: its number, the item version it froze, author, reviewer and time (UTC)."""

    number: int
    item_version: int
    author_id: UUID | None
    reviewer_id: UUID | None
    published_at: datetime
    fields: dict[str, Any]


class WorkflowEventView(msgspec.Struct):
    """One step of the editorial history."""

    action: str
    actor_id: UUID | None
    status: str
    version: int
    note: str | None
    at: datetime


class ItemHistory(msgspec.Struct):
    """Every published revision (newest first) and every workflow step (oldest first) of an item."""

    slug: str
    revisions: list[RevisionView]
    events: list[WorkflowEventView]
