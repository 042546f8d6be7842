"""Offline packs: one reproducible ZIP archive per area and locale, for apps that lose the signal in the mountains.

``GET /v1/offline-packs/{area}?lang=`` (area: a 2025 commune code or a tour slug) answers an archive of JSON members
(all UTF-8, RFC 8259; GeoJSON members RFC 7946, ``[lon, lat]``):

- ``manifest.json``: ``format`` (this module's ``FORMAT``), ``area`` (``{"kind": "commune"|"tour", "id": ...}``),
  ``locale``, ``version``, ``since`` (``null`` for a full pack), ``removed`` (item keys gone since ``since``),
  ``counts`` per member, ``members`` (name, size in bytes, SHA-256 of each other member) and ``media`` (the media
  manifest: ``key``, ``url``, ``sha256``, ``size`` bytes, ``mime_type``; the app fetches those files separately).
- ``places.geojson`` and ``routes.geojson``: FeatureCollections of the area's destinations (Points) and tour routes
  (LineStrings).
- ``articles.json``, ``tours.json``, ``events.json``, ``alerts.json``: ``{"items": [...]}`` in the public API's
  shapes, rendered in the pack's locale with ``*_locale`` beside each translated text.

Every item has a stable ``key`` (``place:<slug>``, ``route:<tour slug>``, ``article:<slug>``, ``tour:<slug>``,
``event:<id>``, ``alert:<id>``, ``media:<id>``). The pack's ``version`` is a hash of the sorted (key, item hash)
pairs, the area, the locale and ``FORMAT``: the same content gives the same version and the same bytes (members in a
fixed order, fixed timestamps, canonical JSON), which is also the strong ``ETag``.

Deltas: ``since=<version>`` answers an archive of the same members holding only the items added or changed since that
version, with the keys of removed items in ``manifest.removed``. The server keeps, for every version it has served,
the (key -> item hash) index in ``offline_pack_snapshot`` (a few kilobytes; pruned after ``SNAPSHOT_DAYS``). A
``since`` the server does not know (never served, pruned, or of another area or locale) answers the full pack with
``since: null``, so the app replaces what it holds.
"""

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from src.guide import repository
from src.guide.alerts import active_alerts, alerts_max_age
from src.guide.calendar import events_between
from src.guide.content import ContentReader
from src.guide.content_schemas import ArticleView, TourView
from src.guide.media import media_manifest
from src.guide.models import ContentKind
from src.guide.schemas import Feature
from src.guide.service import COMMUNE_CODE, SLUG, CatalogueService
from src.kernel.db import Reader, unit_of_work, utcnow
from src.kernel.errors import NotFound
from src.kernel.jobs import JobContext, PeriodicJob
from src.kernel.localtime import local_today

#: Version of the archive layout; part of every pack version, so a layout change gives every area a new version.
FORMAT = 1

#: Members of an archive besides ``manifest.json``, in archive order, and the collection each one holds.
MEMBERS: tuple[tuple[str, str], ...] = (
    ("places.geojson", "place"),
    ("routes.geojson", "route"),
    ("articles.json", "article"),
    ("tours.json", "tour"),
    ("events.json", "event"),
    ("alerts.json", "alert"),
)
_GEOJSON_COLLECTIONS = frozenset({"place", "route"})
#: The media manifest lives in ``manifest.json`` (the files themselves are fetched separately).
MEDIA = "media"
COLLECTIONS = frozenset({collection for _name, collection in MEMBERS} | {MEDIA})

#: A fixed timestamp for every member (the ZIP epoch), so the archive's bytes depend on its content only.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes: sorted keys, no insignificant white space, UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class PackItem:
    """One item of a pack: its ``collection`` (see ``COLLECTIONS``), a stable ``key`` and its JSON ``body`` (for
    places and routes a GeoJSON Feature)."""

    collection: str
    key: str
    body: Mapping[str, Any]
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        if self.collection not in COLLECTIONS:
            raise ValueError(f"unknown pack collection {self.collection!r}")
        object.__setattr__(self, "digest", hashlib.sha256(canonical_json(self.body)).hexdigest())


def item_index(items: Iterable[PackItem]) -> dict[str, str]:
    """``{key: SHA-256 of the item's canonical JSON}``; ``ValueError`` when two items share a key."""
    index: dict[str, str] = {}
    for item in items:
        if item.key in index:
            raise ValueError(f"two pack items have the key {item.key!r}")
        index[item.key] = item.digest
    return index


def pack_version(area_id: str, locale: str, index: Mapping[str, str]) -> str:
    """The version of a pack: 32 hex digits of a SHA-256 over ``FORMAT``, the area, the locale and the sorted
    (key, item hash) pairs."""
    digest = hashlib.sha256(f"laocai-offline-pack\n{FORMAT}\n{area_id}\n{locale}\n".encode())
    for key in sorted(index):
        digest.update(f"{key}\t{index[key]}\n".encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Delta:
    """What changed between a known earlier index and the current one: keys added or changed, keys removed."""

    changed: frozenset[str]
    removed: tuple[str, ...]


def delta(before: Mapping[str, str], after: Mapping[str, str]) -> Delta:
    """Keys of ``after`` that are new or whose hash differs from ``before``'s, and the sorted keys only ``before``
    has."""
    changed = frozenset(key for key, digest in after.items() if before.get(key) != digest)
    removed = tuple(sorted(set(before) - set(after)))
    return Delta(changed=changed, removed=removed)


def _member_body(collection: str, items: Sequence[PackItem]) -> bytes:
    ordered = sorted(items, key=lambda item: item.key)
    if collection in _GEOJSON_COLLECTIONS:
        return canonical_json({"type": "FeatureCollection", "features": [dict(item.body) for item in ordered]})
    return canonical_json({"items": [dict(item.body) for item in ordered]})


def _write(archive: zipfile.ZipFile, name: str, body: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the server runs on
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    archive.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def build_archive(
    *,
    area: Mapping[str, str],
    locale: str,
    version: str,
    items: Sequence[PackItem],
    since: str | None = None,
    removed: Sequence[str] = (),
    only: frozenset[str] | None = None,
) -> bytes:
    """The ZIP archive (PKWARE APPNOTE 6.3, deflate) of a pack: every item, or with ``only`` the items whose key is
    in it (a delta since ``since``, listing ``removed`` keys). Same arguments, same bytes."""
    chosen = [item for item in items if only is None or item.key in only]
    by_collection: dict[str, list[PackItem]] = {collection: [] for collection in COLLECTIONS}
    for item in chosen:
        by_collection[item.collection].append(item)
    bodies = [(name, _member_body(collection, by_collection[collection])) for name, collection in MEMBERS]
    media = [dict(item.body) for item in sorted(by_collection[MEDIA], key=lambda item: item.key)]
    manifest = {
        "format": FORMAT,
        "area": dict(area),
        "locale": locale,
        "version": version,
        "since": since,
        "removed": list(removed),
        "counts": {collection: len(by_collection[collection]) for collection in sorted(COLLECTIONS)},
        "members": [
            {"name": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()} for name, body in bodies
        ],
        "media": media,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _write(archive, "manifest.json", canonical_json(manifest))
        for name, body in bodies:
            _write(archive, name, body)
    return buffer.getvalue()


def read_archive(data: bytes) -> dict[str, Any]:
    """The members of a pack archive, parsed (``{"manifest.json": {...}, "places.geojson": {...}, ...}``): what an
    app does with the bytes, used by tests and the benchmark. ``zipfile.BadZipFile`` for bytes that are no ZIP."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


# -- the service -------------------------------------------------------------------------------------------------

#: Snapshots older than this are pruned (``guide.prune_pack_snapshots``); a delta from them answers the full pack.
SNAPSHOT_DAYS = 180
#: How long a client may keep a pack (seconds), further bounded by the next start or end of an alert.
PACK_MAX_AGE = 300


@dataclass(frozen=True)
class Area:
    """What an offline pack covers: a 2025 commune (``kind="commune"``, ``id`` its 5-digit code) or a tour
    (``kind="tour"``, ``id`` its slug)."""

    kind: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Pack:
    """A built pack: the archive ``body``, its ``version`` (also the strong ETag's value), the ``since`` version
    the body is a delta from (``None`` for a full pack), the ``area``, and how many seconds a client may keep it
    (``max_age``: ``PACK_MAX_AGE``, never past the next start or end of an alert, which the pack carries)."""

    body: bytes
    version: str
    since: str | None
    area: Area
    max_age: int

    @property
    def etag(self) -> str:
        """The strong entity tag (RFC 9110 §8.8.3): the version, and for a delta the version it starts from."""
        return f'"{self.version}"' if self.since is None else f'"{self.version}.since.{self.since}"'


class OfflinePackService:
    """Builds offline packs from published content, in one negotiated ``locale``, as of ``now`` (aware UTC).

    Reads go through ``reader``; the item index of a version not served before is recorded through ``engine``
    (the writer) in a unit of work of its own, so a GET never holds the request's read transaction open for it.
    """

    def __init__(self, reader: Reader, engine: AsyncEngine, locale: str, now: datetime) -> None:
        self.reader = reader
        self.engine = engine
        self.locale = locale
        self.now = now

    async def pack(self, area_id: str, since: str | None = None) -> Pack:
        """The pack of ``area_id`` (a 2025 commune code or a published tour's slug): full, or with ``since`` the
        delta from that version (full when the version is unknown). ``NotFound`` (404) for an unknown area."""
        area = await self._area(area_id)
        items = await self.collect(area)
        index = item_index(items)
        version = pack_version(area.key, self.locale, index)
        await self._record(area, version, index)
        max_age = await alerts_max_age(self.reader, self.now, PACK_MAX_AGE)
        area_json = {"kind": area.kind, "id": area.id}
        before = None
        if since is not None and since != version:
            before = await repository.pack_snapshot(self.reader, area.key, self.locale, since)
        if since is not None and since == version:
            body = build_archive(
                area=area_json, locale=self.locale, version=version, items=items, since=since, only=frozenset()
            )
            return Pack(body=body, version=version, since=since, area=area, max_age=max_age)
        if before is None:
            body = build_archive(area=area_json, locale=self.locale, version=version, items=items)
            return Pack(body=body, version=version, since=None, area=area, max_age=max_age)
        change = delta(before, index)
        body = build_archive(
            area=area_json,
            locale=self.locale,
            version=version,
            items=items,
            since=since,
            removed=change.removed,
            only=change.changed,
        )
        return Pack(body=body, version=version, since=since, area=area, max_age=max_age)

    async def _area(self, area_id: str) -> Area:
        if COMMUNE_CODE.fullmatch(area_id):
            if await repository.get_commune(self.reader, area_id) is None:
                raise NotFound(f"No 2025 commune has the code {area_id!r}.")
            return Area(kind="commune", id=area_id)
        if SLUG.fullmatch(area_id) and await repository.publication(self.reader, ContentKind.TOUR, area_id):
            return Area(kind="tour", id=area_id)
        raise NotFound(f"No commune or published tour is called {area_id!r}.")

    async def collect(self, area: Area) -> list[PackItem]:
        """Every item of ``area``'s pack. A commune: its destinations, the published tours and articles tagged with
        it or naming one of its destinations, and those tours' routes. A tour: the tour, its route, its stops' and
        named destinations, and the articles naming any of them. Both: the media manifest of every article and tour
        included (events and alerts join through ``_happenings``)."""
        catalogue = CatalogueService(self.reader, self.locale)
        content = ContentReader(self.reader, self.locale)
        if area.kind == "commune":
            places = await catalogue.commune_features(area.id)
            touching = [("commune", area.id)] + [("destination", str(f.id)) for f in places]
            tours = cast("list[TourView]", await content.published(ContentKind.TOUR, any_of=touching))
        else:
            row = await repository.publication(self.reader, ContentKind.TOUR, area.id)
            tours = [cast("TourView", await content.view(row))] if row is not None else []
            slugs = [s.destination.slug for t in tours for s in t.stops] + [
                d.slug for t in tours for d in t.destinations
            ]
            places = await catalogue.features_by_slug(list(dict.fromkeys(slugs)))
            touching = [("destination", str(f.id)) for f in places]
        articles = cast("list[ArticleView]", await content.published(ContentKind.ARTICLE, any_of=touching))
        items = [PackItem("place", f"place:{f.id}", msgspec.to_builtins(f)) for f in places]
        for tour in tours:
            items.append(PackItem("tour", f"tour:{tour.slug}", msgspec.to_builtins(tour)))
            route = msgspec.to_builtins(tour.route)
            route["id"] = tour.slug
            extra = {"tour": tour.slug, "title": tour.title, "title_locale": tour.title_locale}
            route["properties"] = {**route["properties"], **extra}
            items.append(PackItem("route", f"route:{tour.slug}", route))
        items.extend(PackItem("article", f"article:{a.slug}", msgspec.to_builtins(a)) for a in articles)
        media_ids = [m.id for tour in tours for m in tour.media] + [m.id for a in articles for m in a.media]
        media_ids = list(dict.fromkeys(media_ids))
        for entry in await media_manifest(self.reader, media_ids):
            items.append(PackItem(MEDIA, entry.key, msgspec.to_builtins(entry)))
        items.extend(await self._happenings(area, places, tours))
        return items

    async def _happenings(self, area: Area, places: Sequence[Feature], tours: Sequence[TourView]) -> list[PackItem]:
        """The area's events with their occurrences from 1 January of this year (Vietnam's) to 31 December of the
        next, and the alerts in force that touch the area (its commune, or the tour, its route and its stops'
        communes; a commune pack also takes those of the tours it carries)."""
        communes = [area.id] if area.kind == "commune" else []
        communes += sorted({s.destination.commune for t in tours for s in t.stops if s.destination.commune})
        year = local_today(self.now).year
        calendar = await events_between(
            self.reader, date(year, 1, 1), date(year + 1, 12, 31), locale=self.locale, commune_codes=communes,
            destination_slugs=[str(f.id) for f in places],
        )  # fmt: skip
        by_event: dict[str, list[dict[str, Any]]] = {}
        for occurrence in calendar.items:
            by_event.setdefault(occurrence.event, []).append(msgspec.to_builtins(occurrence))
        events = [
            PackItem("event", f"event:{slug}", {"event": slug, "occurrences": found})
            for slug, found in by_event.items()
        ]
        alerts = await active_alerts(
            self.reader, self.now, locale=self.locale, commune_codes=communes,
            tour_slugs=[t.slug for t in tours], routes=[t.route.geometry.coordinates for t in tours],
        )  # fmt: skip
        items = [PackItem("alert", f"alert:{alert.id}", msgspec.to_builtins(alert)) for alert in alerts]
        return events + items

    async def _record(self, area: Area, version: str, index: dict[str, str]) -> None:
        if await repository.pack_snapshot(self.reader, area.key, self.locale, version) is not None:
            return
        async with unit_of_work(self.engine) as session:
            connection = await session.connection()
            await repository.save_pack_snapshot(connection, area.key, self.locale, version, index, self.now)


async def prune_snapshots(ctx: JobContext) -> None:
    """Periodic job: drop the item indexes of pack versions recorded more than ``SNAPSHOT_DAYS`` ago."""
    async with unit_of_work(ctx.engine) as session:
        connection = await session.connection()
        await repository.prune_pack_snapshots(connection, utcnow() - timedelta(days=SNAPSHOT_DAYS))


PRUNE_PACK_SNAPSHOTS = PeriodicJob("guide.prune_pack_snapshots", prune_snapshots, cron="17 3 * * *")
