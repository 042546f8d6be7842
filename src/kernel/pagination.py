"""Opaque cursors for keyset paging (API.md, "Lists": ``{"items": [...], "next_cursor": "..."|null}``).

A cursor is base64url JSON holding the sort key of the last item and a fingerprint of the query it belongs to, so
a cursor replayed against other filters is refused (422) instead of silently skipping or repeating items.
"""

import base64
import binascii
import hashlib
import json
import math
from typing import Any

from src.kernel.errors import InvalidParameter

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def query_fingerprint(*parts: Any) -> str:
    """A short stable hash of the filters a cursor is valid for."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(fingerprint: str, key: list[Any]) -> str:
    """Encode the sort ``key`` of the last item returned (JSON-serialisable values)."""
    raw = json.dumps({"q": fingerprint, "k": key}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, types: tuple[type | tuple[type, ...], ...]) -> list[Any]:
    """Decode a cursor made by ``encode_cursor`` for the same query, whose key holds one value of each of ``types``
    (``(str,)`` for a slug, ``((int, float), int)`` for distance and id); raises ``InvalidParameter`` (422) otherwise.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter("cursor is not one this service issued", errors=[_error()]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("k"), list) or len(data["k"]) != len(types):
        raise InvalidParameter("cursor is not one this service issued", errors=[_error()])
    if data.get("q") != fingerprint:
        raise InvalidParameter("cursor belongs to a query with other filters", errors=[_error()])
    key: list[Any] = data["k"]
    if not all(_plain_value(value) and isinstance(value, kind) for value, kind in zip(key, types, strict=True)):
        raise InvalidParameter("cursor is not one this service issued", errors=[_error()])
    return key


def _plain_value(value: Any) -> bool:
    """A sort-key value as ``encode_cursor`` writes them: a finite number or short, encodable, NUL-free text.

    The cursor is not signed, so its contents are client input like any other."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return len(value) <= 200 and "\x00" not in value
    return False


def _error() -> dict[str, str]:
    return {"field": "cursor", "source": "query", "message": "invalid cursor"}
