"""Tables of the digital map catalogue: communes (2025 units), their former units, destinations and their names.

Coordinates are WGS84 decimal degrees. A destination is its own entity (a village, pass, peak, market...) linked to
the 2025 commune it lies in; that link comes from the source data's ``commune_2025_code`` column, never from a
point-in-polygon test (the simplified commune polygons overlap along shared edges, see data/SOURCES.md).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from src.kernel.db import UTCDateTime, utcnow


class DestinationKind(StrEnum):
    """What a destination is: the source data's ``category`` (GeoNames feature codes mapped in data/SOURCES.md §8)."""

    BRIDGE = "bridge"
    BUILDING = "building"
    CAVE = "cave"
    CITY = "city"
    DAM = "dam"
    DESTINATION = "destination"
    DOCK = "dock"
    FERRY = "ferry"
    HILL = "hill"
    HILLS = "hills"
    HOTEL = "hotel"
    LAKE = "lake"
    LOCALITY = "locality"
    MARKET = "market"
    MOUNTAIN = "mountain"
    MOUNTAIN_PASS = "mountain_pass"  # noqa: S105  (a road over a col, not a secret)
    MOUNTAIN_RANGE = "mountain_range"
    NEIGHBOURHOOD = "neighbourhood"
    PEAK = "peak"
    RAILWAY_STATION = "railway_station"
    RAPIDS = "rapids"
    STREAM = "stream"
    STREAM_SECTION = "stream_section"
    TEMPLE = "temple"  # editors' additions (open data lacks them, data/SOURCES.md §10)
    TOWN = "town"
    VIEWPOINT = "viewpoint"
    VILLAGE = "village"
    WATERFALL = "waterfall"
    MUSEUM = "museum"


class QualityFlag(StrEnum):
    """Known doubts about a record, shown to clients instead of dropping the record (data/SOURCES.md §8-§9)."""

    #: A business listing last edited in GeoNames 2007-2017: a map feature, never a bookable property.
    STALE_BUSINESS = "stale_business"
    #: The source itself says the coordinate is likely wrong (e.g. "name says Sa Pa but point is 31 km away").
    COORDINATE_SUSPECT = "coordinate_suspect"
    #: Both coordinates sit on a 1 arc-minute grid (about ±1 km): an old map-derived record.
    ARCMINUTE_PRECISION = "arcminute_precision"
    #: A nominal or coarse point (article-level point, label point, 0.05° grid).
    COARSE_POINT = "coarse_point"
    #: The source flags another record as the same place; see ``possible_duplicates``.
    LIKELY_DUPLICATE = "likely_duplicate"
    #: The point lies just outside the 2025 province polygon (border ridge); ``outside_by_m`` says how far.
    OUTSIDE_PROVINCE = "outside_province"
    #: A French-era romanisation ("Ba Tchao Ping"): show only beside an editor-approved Vietnamese name.
    FRENCH_ERA_SPELLING = "french_era_spelling"
    #: The name's language could not be determined (unaccented romanisation of a Hmong, Dao, Tày or Thái name).
    NAME_LANGUAGE_UNDETERMINED = "name_language_undetermined"


class Commune(SQLModel, table=True):
    """A commune-level unit (phường = ward, xã = commune) of the 2025 province, keyed by its 5-digit code.

    Resolution 1673/NQ-UBTVQH15 set 99 units (10 wards, 89 communes) from 2025-07-01. ``boundary`` is a GeoJSON
    Polygon or MultiPolygon (WGS84, ``[lon, lat]``) whose outer rings are stored counter-clockwise (RFC 7946 §3.1.6).
    """

    __tablename__ = "commune"
    __table_args__ = (
        CheckConstraint("unit_type IN ('ward', 'commune')", name="unit_type"),
        CheckConstraint("code <> ''", name="code_not_empty"),
    )

    code: str = Field(primary_key=True, max_length=5)
    name: str = Field(max_length=120)
    full_name: str = Field(max_length=160)
    name_en: str = Field(max_length=120)
    name_folded: str = Field(max_length=120, index=True)
    unit_type: str = Field(max_length=16)
    area_km2: float
    rep_lat: float
    rep_lon: float
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    boundary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    old_province: str = Field(max_length=200)
    old_districts: list[str] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200)
    licence: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class CommuneFormerUnit(SQLModel, table=True):
    """A pre-2025 commune-level unit merged into a 2025 commune (data/admin/laocai_2025_merge_old_to_new.csv).

    ``old_code`` is never resolved as the 2025 unit of the same number: each 2025 code re-uses one predecessor's.
    """

    __tablename__ = "commune_former_unit"

    old_code: str = Field(primary_key=True, max_length=5)
    commune_code: str = Field(foreign_key="commune.code", index=True, max_length=5)
    old_name: str = Field(max_length=160)
    old_name_folded: str = Field(max_length=160, index=True)
    old_district_code: str = Field(max_length=5)
    old_district: str = Field(max_length=160)
    old_province_code: str = Field(max_length=5)
    old_province: str = Field(max_length=160)
    legal_basis: str = Field(max_length=300)


class Destination(SQLModel, table=True):
    """A place a visitor can find on the map: a village, peak, pass, lake, market, station...

    ``lat``/``lon`` are WGS84 degrees; ``elevation_m`` is the surveyed elevation in metres when the source has one,
    ``dem_m`` the SRTM-derived value. ``slug`` is issued once and never changes. ``source_id`` names the primary
    record (``geonames:<id>``, ``wikivoyage:en:<page>``, ``anchor:<key>``); merged records are in
    ``destination_source``.
    """

    __tablename__ = "destination"
    __table_args__ = (
        Index("ix_destination_lat_lon", "lat", "lon"),
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=160, unique=True)
    kind: str = Field(max_length=32, index=True)
    name: str = Field(max_length=200)
    name_locale: str = Field(max_length=16)
    name_folded: str = Field(max_length=200, index=True)
    lat: float
    lon: float
    elevation_m: int | None = None
    dem_m: int | None = None
    population: int | None = None
    commune_code: str | None = Field(default=None, foreign_key="commune.code", index=True, max_length=5)
    coord_precision: str = Field(max_length=16)
    in_province: bool = True
    outside_by_m: int | None = None
    source: str = Field(max_length=40)
    source_id: str = Field(max_length=120, unique=True)
    source_url: str | None = Field(default=None, max_length=300)
    source_modified: str | None = Field(default=None, max_length=10)
    licence: str = Field(max_length=120)
    attribution: str = Field(max_length=300)
    quality_flags: list[str] = Field(sa_column=Column(JSON, nullable=False))
    possible_duplicates: list[str] = Field(sa_column=Column(JSON, nullable=False))
    qa_note: str | None = Field(default=None, max_length=1000)
    #: OpenStreetMap ``opening_hours`` syntax, set by editors (``src/guide/hours.py``); ``None`` when unknown.
    opening_hours: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class DestinationSource(SQLModel, table=True):
    """A further source record merged into a destination (e.g. the GeoNames points of the Fansipan summit)."""

    __tablename__ = "destination_source"

    source_id: str = Field(primary_key=True, max_length=120)
    destination_id: int = Field(foreign_key="destination.id", index=True, ondelete="CASCADE")
    source: str = Field(max_length=40)
    name: str = Field(max_length=200)
    lat: float
    lon: float
    source_url: str | None = Field(default=None, max_length=300)
    licence: str = Field(max_length=120)
    attribution: str = Field(max_length=300)
    note: str | None = Field(default=None, max_length=1000)


class DestinationTranslation(SQLModel, table=True):
    """The name of a destination in one locale (BCP 47: ``vi``, ``en``, ``fr``, ``ko``, ``zh-Hans``, ``zh``...).

    Only names that exist in a source are stored (never machine translations); ``name_source`` says which.
    ``zh`` holds Chinese names whose script the source does not state (Who's On First ``name:zho``).
    """

    __tablename__ = "destination_translation"
    __table_args__ = (UniqueConstraint("destination_id", "locale"),)

    id: int | None = Field(default=None, primary_key=True)
    destination_id: int = Field(foreign_key="destination.id", index=True, ondelete="CASCADE")
    locale: str = Field(max_length=16)
    name: str = Field(max_length=200)
    name_source: str = Field(max_length=200)


class DestinationAlias(SQLModel, table=True):
    """Another name a destination is known by: GeoNames alternate names and the curated aliases file.

    ``lang`` is BCP 47 (``und`` when unknown); ``alias_kind`` follows the aliases file (official, exonym, historic,
    variant, false-friend, ambiguous...; ``alternate`` for GeoNames alternates). ``folded`` is the lower-case
    diacritic-free form used for matching.
    """

    __tablename__ = "destination_alias"
    __table_args__ = (UniqueConstraint("destination_id", "alias", "lang"),)

    id: int | None = Field(default=None, primary_key=True)
    destination_id: int = Field(foreign_key="destination.id", index=True, ondelete="CASCADE")
    alias: str = Field(max_length=200)
    lang: str = Field(max_length=16)
    alias_kind: str = Field(max_length=40)
    folded: str = Field(max_length=200, index=True)
    evidence: str = Field(max_length=400)


class OfflinePackSnapshot(SQLModel, table=True):
    """The item index of an offline pack version the server has served (``src/guide/offline.py``): what a later
    ``since=<version>`` delta is computed against. ``item_hashes`` maps each item key to the SHA-256 of its
    canonical JSON. Rows are immutable; ``created_at`` (UTC) lets old versions be pruned."""

    __tablename__ = "offline_pack_snapshot"

    area: str = Field(primary_key=True, max_length=200)
    locale: str = Field(primary_key=True, max_length=16)
    version: str = Field(primary_key=True, max_length=32)
    item_hashes: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))


class MediaKind(StrEnum):
    """What a media item is: a still image (JPEG, PNG or WebP upload) or an audio narration (MP3, Ogg, M4A)."""

    IMAGE = "image"
    AUDIO = "audio"


class Media(SQLModel, table=True):
    """An uploaded image or audio narration (issue 9), immutable once stored; its files are in ``media_file``.

    ``id`` is the first 32 hex digits (128 bits) of ``source_hash``, the SHA-256 of the bytes as uploaded: the
    same upload always gets the same id (a re-upload is idempotent). ``content_hash``, ``size_bytes``,
    ``mime_type``, ``width``/``height`` describe the main stored file: for an image its largest re-encoded variant
    (the upload itself is never kept: it may carry EXIF/GPS), for audio the checked upload. ``source_mime`` is the
    type detected from the uploaded bytes. ``duration_ms`` is set for audio only, ``width``/``height`` for images
    only. ``locale`` is the BCP 47 tag of the narration (required for audio) or of text shown in an image (null:
    language-neutral). ``captions`` maps BCP 47 locale -> caption/alt text. ``uploaded_by`` is the editor's
    account (null once that account is deleted).
    """

    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint("kind IN ('image', 'audio')", name="kind_known"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        CheckConstraint(
            "(kind = 'image' AND width > 0 AND height > 0 AND duration_ms IS NULL)"
            " OR (kind = 'audio' AND duration_ms > 0 AND width IS NULL AND height IS NULL AND locale IS NOT NULL)",
            name="shape_of_kind",
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    source_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=8)
    locale: str | None = Field(default=None, max_length=35)
    content_hash: str = Field(max_length=64)
    size_bytes: int
    mime_type: str = Field(max_length=64)
    source_mime: str = Field(max_length=64)
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    licence: str = Field(max_length=200)
    credit: str = Field(max_length=300)
    captions: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    uploaded_by: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class MediaFile(SQLModel, table=True):
    """One stored file of a media item, kept in the media storage under its ``hash`` (SHA-256 of its bytes).

    ``variant`` is ``w<width>`` for an image rendition (standard widths 320, 640, 1280 below the upload's width,
    plus the upload's own width when under 1280: never upscaled) and ``original`` for audio. Two media items may
    share a file (the same picture uploaded with different metadata re-encodes to the same bytes), hence the index
    on ``hash`` rather than a unique key.
    """

    __tablename__ = "media_file"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_media_file_hash", "hash"),
    )

    media_id: str = Field(foreign_key="media.id", primary_key=True, max_length=32, ondelete="CASCADE")
    variant: str = Field(primary_key=True, max_length=16)
    hash: str = Field(max_length=64)
    size_bytes: int
    mime_type: str = Field(max_length=64)
    width: int | None = None
    height: int | None = None


class ContentKind(StrEnum):
    """What a guide item is: a story (about a place, a festival, a craft, a people) or a tour/trail."""

    ARTICLE = "article"
    TOUR = "tour"


class ContentStatus(StrEnum):
    """Editorial status of an item's working copy: draft -> in_review -> published -> archived (in_review goes back
    to draft when changes are requested; editing a published item makes a new draft while the published revision
    stays public; archiving withdraws it)."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    ARCHIVED = "archived"


_CONTENT_STATUS_CHECK = "status IN ('draft', 'in_review', 'published', 'archived')"
_CONTENT_KIND_CHECK = "kind IN ('article', 'tour')"


class GuideItem(SQLModel, table=True):
    """The editors' working copy of an article or a tour (``src/guide/content.py`` gives the shape of ``body``).

    ``version`` grows by one with every edit and transition: the strong ETag of the working copy, compared by the
    conditional ``UPDATE`` of each write (RFC 9110 §13.1.1 ``If-Match``). ``author_id`` is the last editor of the
    working copy (the author a publishing reviewer must differ from). The public never reads this table: it reads
    ``guide_publication``.
    """

    __tablename__ = "guide_item"
    __table_args__ = (
        CheckConstraint(_CONTENT_STATUS_CHECK, name="status_known"),
        CheckConstraint(_CONTENT_KIND_CHECK, name="kind_known"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=160, unique=True)
    kind: str = Field(max_length=16, index=True)
    status: str = Field(max_length=16, index=True)
    version: int = 1
    is_sample: bool = False
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    author_id: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class GuideRevision(SQLModel, table=True):
    """An immutable published revision: the full snapshot of the item's body as published, who wrote it
    (``author_id``), who published it (``reviewer_id``) and when (UTC). Numbered from 1 per item."""

    __tablename__ = "guide_revision"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="guide_item.id", index=True, ondelete="CASCADE")
    number: int
    item_version: int
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    author_id: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    reviewer_id: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class GuideWorkflowEvent(SQLModel, table=True):
    """One step of an item's editorial history: ``action`` (created, edited, submitted, changes_requested,
    published, archived), who did it, when (UTC), the status it left the item in and the version it made."""

    __tablename__ = "guide_workflow_event"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="guide_item.id", index=True, ondelete="CASCADE")
    action: str = Field(max_length=32)
    actor_id: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    status: str = Field(max_length=16)
    version: int
    note: str | None = Field(default=None, max_length=2000)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class GuidePublication(SQLModel, table=True):
    """What the public sees of an item: its current published revision (``body`` is that revision's snapshot).
    Deleted when the item is archived; replaced when a new revision is published."""

    __tablename__ = "guide_publication"

    item_id: int = Field(primary_key=True, foreign_key="guide_item.id", ondelete="CASCADE")
    slug: str = Field(max_length=160, unique=True)
    kind: str = Field(max_length=16, index=True)
    revision: int
    is_sample: bool = False
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class GuidePublicationTag(SQLModel, table=True):
    """A filterable tag of a published item: ``tag`` is ``destination`` (a slug), ``commune`` (a 5-digit code),
    ``people`` or ``topic`` (vocabulary codes of ``src/guide/content.py``)."""

    __tablename__ = "guide_publication_tag"
    __table_args__ = (Index("ix_guide_publication_tag_lookup", "tag", "value", "item_id"),)

    item_id: int = Field(primary_key=True, foreign_key="guide_publication.item_id", ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=16)
    value: str = Field(primary_key=True, max_length=160)


class GuideAlert(SQLModel, table=True):
    """A safety or access alert published by the board (``src/guide/alerts.py``): landslides, road closures, frost and
    snow, crowds. Targets: 2025 communes (``commune_codes``), tours or trails (``tour_slugs``) and a drawn ``area``
    (GeoJSON Polygon or MultiPolygon, WGS84, outer rings counter-clockwise; ``min_lon``... its bounding box).
    Served only while ``valid_from <= now < valid_until`` (UTC) and not withdrawn. Severity follows OASIS CAP 1.2
    (minor, moderate, severe, extreme)."""

    __tablename__ = "guide_alert"
    __table_args__ = (
        CheckConstraint("valid_until > valid_from", name="validity_ordered"),
        CheckConstraint("severity IN ('minor', 'moderate', 'severe', 'extreme')", name="severity_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_guide_alert_validity", "withdrawn", "valid_until", "valid_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    valid_from: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    valid_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    withdrawn: bool = False
    commune_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    tour_slugs: list[str] = Field(sa_column=Column(JSON, nullable=False))
    area: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    translations: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_by: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    updated_by: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class GuideEvent(SQLModel, table=True):
    """A recurring happening of the guide (``src/guide/calendar.py``): a market day (an RFC 5545 ``RRULE`` from a
    local start date and time, with a duration) or a festival fixed in the Vietnamese lunar calendar (lunar month,
    day, leap flag, number of days). Tied to a destination (slug) and/or a 2025 commune; texts per locale in
    ``translations``; ``source`` and ``licence`` say where the facts come from."""

    __tablename__ = "guide_event"
    __table_args__ = (
        CheckConstraint("kind IN ('market', 'festival', 'other')", name="kind_known"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=160, unique=True)
    kind: str = Field(max_length=16, index=True)
    destination_slug: str | None = Field(default=None, max_length=160, index=True)
    commune_code: str | None = Field(default=None, foreign_key="commune.code", index=True, max_length=5)
    recurrence: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    translations: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=300)
    licence: str = Field(max_length=120)
    is_sample: bool = False
    version: int = 1
    created_by: UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
