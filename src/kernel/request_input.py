"""Parsing of HTTP request headers shared by several concerns (locale negotiation, content coding)."""


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
