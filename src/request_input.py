"""Parsing of HTTP request headers shared by several concerns (locale negotiation, content coding)."""


def parse_weighted_list(header: str) -> list[str]:
    """The members of a comma-separated list with ``q`` weights, best first (RFC 9110 §12.4.2).

    Members with ``q=0`` are dropped; a malformed or out-of-range weight counts as ``q=0``. Ties keep the header's
    order. ``"en;q=0.5, ko, fr;q=0.8"`` -> ``["ko", "fr", "en"]``.
    """
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
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
        if quality > 0:
            weighted.append((-quality, position, token))
    return [token for _, _, token in sorted(weighted)]
