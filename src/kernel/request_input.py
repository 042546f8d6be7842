"""Parsing of HTTP request input shared by several concerns: weighted header lists (locale negotiation, content
coding) and strictly typed JSON bodies."""

from typing import TypeVar

import msgspec

T = TypeVar("T")


def strict_json(raw: bytes, kind: type[T]) -> T:
    """``raw`` decoded as ``kind`` with msgspec's strict typing, where ``"100"`` is not an integer (Litestar converts
    request bodies leniently: a money amount must not accept a string). ``BadRequest`` (400) for a body that is not
    JSON, ``InvalidParameter`` (422, naming the path) for a wrong type or value."""
    from src.kernel.errors import BadRequest, InvalidParameter  # errors -> i18n -> this module

    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidParameter(
            f"body: {exc}", errors=[{"field": "body", "source": "body", "message": str(exc)}]
        ) from None
    except msgspec.DecodeError:
        raise BadRequest("the body is not valid JSON") from None


def parse_weights(header: str) -> list[tuple[str, float]]:
    """Every member of a comma-separated list with its ``q`` weight, in header order (RFC 9110 §12.4.2).

    A malformed or out-of-range weight counts as ``q=0``; members with ``q=0`` are kept (they refuse something).
    """
    members: list[tuple[str, float]] = []
    for item in header.split(","):
        token, *params = (part.strip() for part in item.split(";"))
        if not token:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        members.append((token, quality))
    return members


def parse_weighted_list(header: str) -> list[str]:
    """The acceptable members of a weighted list, best first; ties keep the header's order.

    ``"en;q=0.5, ko, fr;q=0.8, de;q=0"`` -> ``["ko", "fr", "en"]``.
    """
    ranked = sorted((-quality, position, token) for position, (token, quality) in enumerate(parse_weights(header)))
    return [token for negative_quality, _, token in ranked if negative_quality < 0]
