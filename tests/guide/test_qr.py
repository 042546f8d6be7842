"""GET /v1/destinations/{slug}/qr.svg and qr.png: a deep link to the destination, drawn by segno.

No QR decoder is installed, so the images are checked against the symbol ``segno.make`` builds for the link we expect
(its module matrix re-drawn from the returned PNG's pixels, and the SVG's bytes against segno's own rendering): an
image of another link, level or scale would differ."""

import io

import httpx
import segno
from PIL import Image

from src.guide import qr
from src.kernel import qr as kernel_qr

BASE = "https://laocai.travel/d/"


def _matrix_of_png(png: bytes, scale: int) -> list[list[bool]]:
    """Dark modules of a PNG QR (black on white, 4-module quiet zone) read back from its pixels."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == height
    assert width % scale == 0
    modules = width // scale - 2 * kernel_qr.QUIET_ZONE
    offset = kernel_qr.QUIET_ZONE * scale + scale // 2
    return [
        [image.getpixel((offset + x * scale, offset + y * scale)) < 128 for x in range(modules)] for y in range(modules)
    ]


def _matrix_of(code: segno.QRCode) -> list[list[bool]]:
    return [[bool(cell) for cell in row] for row in code.matrix]


async def test_png_encodes_the_deep_link_of_the_slug(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations/fansipan/qr.png", params={"scale": 6})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    expected = segno.make(BASE + "fansipan", error="q", boost_error=False, micro=False)
    assert _matrix_of_png(response.content, 6) == _matrix_of(expected)
    # Another link (another slug, or no slug) is another symbol: the comparison can fail.
    assert _matrix_of_png(response.content, 6) != _matrix_of(segno.make(BASE + "sa-pa", error="q", micro=False))
    assert "max-age=86400" in response.headers["cache-control"]
    assert "immutable" not in response.headers["cache-control"]


async def test_svg_with_level_m_and_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/destinations/fansipan/qr.svg", params={"error": "M", "lang": "fr", "scale": 4})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    link = BASE + "fansipan?lang=fr"
    expected = segno.make(link, error="m", boost_error=False, micro=False)
    assert expected.error == "M"
    out = io.BytesIO()
    expected.save(
        out,
        kind="svg",
        scale=4,
        border=4,
        xmldecl=False,
        svgns=True,
        svgclass=None,
        lineclass=None,
        nl=True,
        dark="#000",
        light="#fff",
    )
    assert response.content == out.getvalue()
    assert response.content.startswith(b"<svg")
    assert b"<script" not in response.content
    # The default (level Q, no language) is another symbol.
    default = await client.get("/v1/destinations/fansipan/qr.svg", params={"scale": 4})
    assert default.content == qr.render(BASE + "fansipan", "svg", 4, "Q") != response.content


async def test_etag_and_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/v1/destinations/fansipan/qr.png")
    etag = first.headers["etag"]
    again = await client.get("/v1/destinations/fansipan/qr.png", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = await client.get("/v1/destinations/fansipan/qr.png", params={"scale": 11}, headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag


async def test_unknown_slug_is_404_and_bad_options_are_422(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/destinations/no-such-place/qr.svg")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "not_found"
    for params in ({"scale": 0}, {"scale": 33}, {"error": "H"}, {"lang": "xx"}):
        bad = await client.get("/v1/destinations/fansipan/qr.png", params=params)
        assert bad.status_code == 422, params
        assert bad.headers["content-type"].startswith("application/problem+json")


def test_deep_link_rule() -> None:
    assert qr.deep_link("https://example.org/app/", "cat-cat") == "https://example.org/app/cat-cat"
    assert (
        qr.deep_link("https://example.org/app/", "cat-cat", "zh-Hans") == "https://example.org/app/cat-cat?lang=zh-Hans"
    )
