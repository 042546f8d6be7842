"""Geometry on WGS84 coordinates: great-circle distance, the box around a circle, ``bbox`` parsing.

Distances use the haversine formula on a sphere of the IUGG mean Earth radius (6,371,008.8 m); at Lào Cai's scale
(< 300 km) its error against the WGS84 ellipsoid is under 0.5 %.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from src.kernel.errors import InvalidParameter

EARTH_RADIUS_M = 6_371_008.8
#: A plain decimal number (no "1_000", no "nan", no full-width digits or stray Unicode spaces as float() allows).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Box:
    """A WGS84 bounding box in degrees, west/south/east/north (GeoJSON bbox order)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distances_m(lat: float, lon: float, points: Iterable[tuple[float, float]]) -> list[float]:
    """``haversine_m`` from (``lat``, ``lon``) to each (lat, lon) of ``points``, bit for bit, with the origin's terms
    computed once (a radius query ranks hundreds of candidates per request)."""
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    phi1 = radians(lat)
    cos_phi1 = cos(phi1)
    diameter = 2 * EARTH_RADIUS_M
    out = []
    for lat2, lon2 in points:
        phi2 = radians(lat2)
        a = sin((phi2 - phi1) / 2) ** 2 + cos_phi1 * cos(phi2) * sin(radians(lon2 - lon) / 2) ** 2
        out.append(diameter * asin(min(1.0, sqrt(a))))
    return out


def circle_box(lat: float, lon: float, radius_m: float) -> Box:
    """The smallest lat/lon box holding every point within ``radius_m`` of (``lat``, ``lon``), clamped to the globe."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = math.cos(math.radians(lat))
    dlon = 180.0 if coslat < 1e-9 else min(180.0, dlat / coslat)
    return Box(
        min_lon=max(-180.0, lon - dlon),
        min_lat=max(-90.0, lat - dlat),
        max_lon=min(180.0, lon + dlon),
        max_lat=min(90.0, lat + dlat),
    )


def parse_bbox(text: str) -> Box:
    """Parse ``minLon,minLat,maxLon,maxLat`` (RFC 7946 §5 order) into a ``Box``; raises ``InvalidParameter`` (422).

    Boxes crossing the antimeridian (``minLon > maxLon``) are refused: the province is nowhere near it.
    """
    parts = [part.strip(" ") for part in text.split(",")]
    if len(parts) != 4:
        raise _bbox_error(f"bbox needs 4 numbers (minLon,minLat,maxLon,maxLat), got {len(parts)}")
    if not all(_DECIMAL.fullmatch(part) for part in parts):
        raise _bbox_error("bbox values must be decimal numbers such as 103.75")
    min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise _bbox_error("bbox values must be finite numbers")
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise _bbox_error("bbox longitudes must lie within [-180, 180]")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise _bbox_error("bbox latitudes must lie within [-90, 90]")
    if min_lat > max_lat:
        raise _bbox_error("bbox minLat is greater than maxLat")
    if min_lon > max_lon:
        raise _bbox_error("bbox minLon is greater than maxLon (boxes across the antimeridian are not supported)")
    return Box(min_lon=min_lon, min_lat=min_lat, max_lon=max_lon, max_lat=max_lat)


def _bbox_error(message: str) -> InvalidParameter:
    return InvalidParameter(message, errors=[{"field": "bbox", "source": "query", "message": message}])
