"""QR code images shared by the domains (VietQR payments, QR codes at sites), drawn with ``segno``.

Reference: **ISO/IEC 18004:2015** *QR Code bar code symbology specification*: §7.5.1 error correction levels
(L ~7 %, M ~15 %, Q ~25 %, H ~30 % of the codewords may be restored), §9.1 quiet zone (4 modules on every side).

Both renderers are deterministic: the same text, level and scale always give the same bytes (segno writes no ids,
dates or random values into SVG, and no timestamp chunk into PNG).
"""

import io
import math
from typing import Literal

import segno

#: Modules of quiet zone around the symbol (ISO/IEC 18004 §9.1 asks for 4).
QUIET_ZONE = 4

#: The error correction levels segno takes (ISO/IEC 18004 §7.5.1), lower case.
ErrorLevel = Literal["l", "m", "q", "h"]


def symbol(text: str, error: ErrorLevel = "m") -> segno.QRCode:
    """The QR symbol (model 2, never a Micro QR) for ``text`` at exactly the level ``error``: segno's automatic
    raise of the level is off, so the level is the one asked for, in the smallest version that fits.

    Raises ``segno.DataOverflowError`` (a ``ValueError``) when ``text`` does not fit in version 40."""
    return segno.make_qr(text, error=error, boost_error=False)


def svg(qr: segno.QRCode, scale: int) -> bytes:
    """``qr`` as an SVG document: UTF-8 bytes, no XML declaration, an ``<svg>`` root with the SVG namespace and a
    width/height in px of ``scale`` px per module plus the 4-module quiet zone, black on white, one path."""
    out = io.BytesIO()
    qr.save(
        out,
        kind="svg",
        scale=scale,
        border=QUIET_ZONE,
        xmldecl=False,
        svgns=True,
        svgclass=None,
        lineclass=None,
        omitsize=False,
        nl=True,
        dark="#000",
        light="#fff",
    )
    return out.getvalue()


def png(qr: segno.QRCode, scale: int) -> bytes:
    """``qr`` as a PNG (bytes), black on white, ``scale`` pixels per module and the 4-module quiet zone."""
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=QUIET_ZONE, dark="#000", light="#fff")
    return out.getvalue()


def scale_for_width(qr: segno.QRCode, min_pixels: int) -> int:
    """The smallest whole number of pixels per module that makes ``qr`` (with its quiet zone) at least
    ``min_pixels`` wide and high; at least 1."""
    width, _ = qr.symbol_size(scale=1, border=QUIET_ZONE)
    return max(1, math.ceil(min_pixels / width))
