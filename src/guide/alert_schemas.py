"""Request and response shapes of safety and access alerts (``src/guide/alerts.py``).

Times are RFC 3339 with an offset, stored and returned in UTC. Areas are GeoJSON (RFC 7946, ``[lon, lat]``).
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class AlertTexts(msgspec.Struct, forbid_unknown_fields=True):
    """An alert's texts in one locale (CAP 1.2 ``headline``, ``description``, ``instruction``)."""

    headline: str
    description: str | None = None
    instruction: str | None = None


class AlertFields(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The fields of an alert; in a PATCH, each given field replaces its value (``translations`` merged per
    locale, ``null`` removing one).

    ``category``: road_closure, landslide, flood, weather, frost_snow, crowd, other. ``severity`` (OASIS CAP 1.2
    §3.2.2 ``severity``): minor, moderate, severe, extreme. ``valid_from``/``valid_until``: RFC 3339 with an offset,
    at most 90 days apart. Targets (at least one): ``communes`` (5-digit 2025 codes), ``tours`` (tour slugs), ``area``
    (a GeoJSON Polygon or MultiPolygon in the province, rings closed). ``translations``: per locale; a headline in
    ``en`` or ``vi`` at least, where every locale's fallback chain ends."""

    category: str | msgspec.UnsetType = msgspec.UNSET
    severity: str | msgspec.UnsetType = msgspec.UNSET
    valid_from: datetime | msgspec.UnsetType = msgspec.UNSET
    valid_until: datetime | msgspec.UnsetType = msgspec.UNSET
    communes: list[str] | msgspec.UnsetType = msgspec.UNSET
    tours: list[str] | msgspec.UnsetType = msgspec.UNSET
    area: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
    translations: dict[str, AlertTexts | None] | msgspec.UnsetType = msgspec.UNSET


class AlertView(msgspec.Struct):
    """An alert as the app shows it, texts in the negotiated locale along its fallback chain (``*_locale``)."""

    id: int
    category: str
    severity: str
    headline: str
    headline_locale: str
    description: str | None
    description_locale: str | None
    instruction: str | None
    instruction_locale: str | None
    valid_from: datetime
    valid_until: datetime
    communes: list[str]
    tours: list[str]
    area: dict[str, Any] | None
    updated_at: datetime


class AlertPage(msgspec.Struct):
    """The alerts in force that touch what was asked, most severe first."""

    items: list[AlertView]


class EditorAlert(msgspec.Struct):
    """An alert as the board sees it: every translation, its ``state`` (scheduled, active, expired, withdrawn) at the
    time of the request, its version (also the strong ``ETag``)."""

    id: int
    state: str
    version: int
    category: str
    severity: str
    valid_from: datetime
    valid_until: datetime
    communes: list[str]
    tours: list[str]
    area: dict[str, Any] | None
    translations: dict[str, dict[str, str]]
    created_by: UUID | None
    updated_by: UUID | None
    created_at: datetime
    updated_at: datetime


class EditorAlertPage(msgspec.Struct):
    items: list[EditorAlert]
    next_cursor: str | None
