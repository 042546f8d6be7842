"""QR codes at sites: a sign at a destination carries a QR code that opens the destination in the app.

The code encodes a deep link, ``LAOCAI_DEEP_LINK_BASE`` followed by the destination's slug
(``https://laocai.travel/d/sa-pa``), with ``?lang=<locale>`` appended when the image was asked for in a language
(``https://laocai.travel/d/sa-pa?lang=fr``), so a sign printed for French visitors opens the French page. A slug is
never changed once issued (``src/guide/importer.py``), so a printed code stays valid; the base is a setting because
the app's link domain may change, which is also why the images are cached for a day rather than for ever.

Error correction (ISO/IEC 18004:2015 §7.5.1) is level ``Q`` by default (about 25 % of the symbol may be dirty, worn
or covered and the code still reads: signs stand outdoors in rain and fog) or ``M`` on request (about 15 %, a
smaller symbol for screens and leaflets). The level is never raised behind the caller's back, so the symbol is
exactly ``segno.make(link, error=level, boost_error=False)``. Images are black on white with the 4-module quiet
zone the standard asks for; the same link, level and scale always give the same bytes (``src/kernel/qr.py``).
"""

from typing import Literal

import segno

from src.kernel import qr

#: The error correction levels offered (ISO/IEC 18004 §7.5.1): ``Q`` for signs outdoors, ``M`` for print and screens.
QrLevel = Literal["M", "Q"]
DEFAULT_LEVEL: QrLevel = "Q"
#: The image formats served.
QrImage = Literal["svg", "png"]
MEDIA_TYPES: dict[QrImage, str] = {"svg": "image/svg+xml", "png": "image/png"}
#: Pixels (SVG: user units) per module: 1..32, 10 by default. A deep link takes a version-3 or -4 symbol at level Q
#: (29 or 33 modules, 37 or 41 with the quiet zone): 370 to 410 px at the default, 1,312 px at most.
MIN_SCALE, MAX_SCALE, DEFAULT_SCALE = 1, 32, 10


def deep_link(base: str, slug: str, lang: str | None = None) -> str:
    """The link a QR code at the destination ``slug`` opens: ``base + slug``, then ``?lang=<lang>`` when ``lang``
    (a served locale tag such as ``"en"`` or ``"zh-Hans"``) is given. ``base`` is ``Settings.deep_link_base``
    (an absolute http(s) URL ending in ``/``)."""
    link = f"{base}{slug}"
    return f"{link}?lang={lang}" if lang else link


def symbol(link: str, level: QrLevel = DEFAULT_LEVEL) -> segno.QRCode:
    """The QR symbol of ``link`` at exactly ``level`` (the smallest version that fits)."""
    return qr.symbol(link, "q" if level == "Q" else "m")


def render(link: str, image: QrImage, scale: int = DEFAULT_SCALE, level: QrLevel = DEFAULT_LEVEL) -> bytes:
    """The QR code of ``link`` as an SVG document (UTF-8, ``image="svg"``) or a PNG (``image="png"``) at ``scale``
    px per module (``MIN_SCALE``..``MAX_SCALE``) and error correction ``level``. Raises ``ValueError`` for a scale
    outside the bounds (the HTTP layer refuses it earlier with 422)."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be {MIN_SCALE}..{MAX_SCALE} px per module, not {scale}")
    code = symbol(link, level)
    return qr.svg(code, scale) if image == "svg" else qr.png(code, scale)
