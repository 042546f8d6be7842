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
from typing import Any

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
