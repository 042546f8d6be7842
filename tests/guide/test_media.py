"""Media: POST /v1/editor/media (limits, types from the bytes, SVG refused, re-encoding), GET /v1/media/{id} and
/v1/media/files/{hash} (caching), and the functions other parts call.

Test files are built in memory: images with Pillow; the MP3 by hand (no encoder on this machine): silent MPEG-1
Layer III frames (header ``FF FB 90 00``: 128 kbit/s, 44.1 kHz, 417 bytes each, zero side info and main data),
which mutagen parses like any constant-bitrate MP3.
"""

import io
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from PIL import ExifTags, Image
from sqlalchemy import func
from sqlmodel import select

from src.guide.errors import MediaTooLarge
from src.guide.media import existing_media_ids, media_manifest, media_refs, process_image
from src.guide.models import Media
from src.kernel.db import unit_of_work
from tests.kernel.auth_support import bearer, login, make_user

LICENCE = {"licence": "CC BY 4.0", "credit": "Sở Văn hóa, Thể thao và Du lịch Lào Cai (test)"}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def editor(app: Litestar, client: httpx.AsyncClient) -> dict[str, str]:
    _id, email = await make_user(app, "editor")
    return bearer((await login(client, email))["access_token"])


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int, height: int) -> bytes:
    """A JPEG whose EXIF holds a GPS position near Sa Pa and orientation 6 (display rotated 90° clockwise)."""
    image = Image.new("RGB", (width, height))
    image.paste((20, 120, 40), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (22.0, 20.0, 11.0)}
    )
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with no image data (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def mp3(frames: int = 100) -> bytes:
    return (b"\xff\xfb\x90\x00" + bytes(413)) * frames


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes, ctype: str, **fields: str
) -> httpx.Response:
    return await client.post(
        "/v1/editor/media", headers=headers, files={"file": (name, data, ctype)}, data={**LICENCE, **fields}
    )


async def stored(app: Litestar) -> tuple[int, int]:
    """(media rows, files under the media storage folder)."""
    async with unit_of_work(app.state.engine) as session:
        rows = (await session.exec(select(func.count()).select_from(Media))).one()
    return rows, count_files(app.state.media_storage.root)


def count_files(root: Path) -> int:
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
JPEG = jpeg_with_gps(300, 200)
TRUNCATED = JPEG[: len(JPEG) // 2]
#: (file name, bytes, declared type, extra fields, expected status, expected code)
REFUSED: list[tuple[str, bytes, str, dict[str, str], int, str]] = [
    # 20 MB: over the route's body limit, refused from Content-Length before the body is read.
    ("big.png", png()[:64] + bytes(20_000_000), "image/png", {}, 413, "payload_too_large"),
    # 11 MiB starting like a JPEG: under the body limit, over the image limit.
    ("a.jpg", b"\xff\xd8\xff" + bytes(11 << 20), "image/jpeg", {}, 413, "payload_too_large"),
    ("song.mp3", png(), "audio/mpeg", {"locale": "vi"}, 415, "media_type_mismatch"),
    ("map.svg", SVG, "image/svg+xml", {}, 415, "unsupported_media_type"),
    ("map.png", SVG[21:], "image/png", {}, 415, "unsupported_media_type"),
    ("cut.jpg", TRUNCATED, "image/jpeg", {}, 422, "unreadable_media"),
    # An ID3 tag followed by no MPEG frame.
    ("x.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(900), "audio/mpeg", {"locale": "vi"}, 415,
     "unsupported_media_type"),
    ("n.mp3", mp3(), "audio/mpeg", {}, 422, "invalid_parameter"),  # a narration needs its locale
    ("c.png", png(), "image/png", {"caption": '{"en": "a\\u202eb"}'}, 422, "invalid_parameter"),
]  # fmt: skip


async def test_refused_uploads_store_nothing(app: Litestar, client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    before = await stored(app)
    for name, data, declared, fields, status, code in REFUSED:
        response = await upload(client, editor, name, data, declared, **fields)
        assert_problem(response, status, code)
    missing = await client.post("/v1/editor/media", headers=editor, files={"file": ("a.png", png(), "image/png")})
    assert_problem(missing, 422, "invalid_parameter")  # as a JSON body missing a required field
    assert "licence" in missing.text
    assert await stored(app) == before


async def test_only_editors_upload(app: Litestar, client: httpx.AsyncClient) -> None:
    files = {"file": ("a.png", png(), "image/png")}
    assert_problem(await client.post("/v1/editor/media", files=files, data=LICENCE), 401, "unauthorized")
    for role in ("tourist", "owner"):
        _id, email = await make_user(app, role)
        headers = bearer((await login(client, email))["access_token"])
        response = await client.post("/v1/editor/media", headers=headers, files=files, data=LICENCE)
        assert_problem(response, 403, "forbidden")


async def test_photo_is_reencoded_without_metadata(
    app: Litestar, client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    source = jpeg_with_gps(2400, 1600)
    with Image.open(io.BytesIO(source)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the upload does carry a position
    caption = '{"vi": "Ruộng bậc thang", "en": "Rice terraces"}'
    created = await upload(client, editor, "IMG_0001.JPG", source, "image/jpeg", caption=caption)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/v1/media/{body['id']}"
    assert (body["kind"], body["mime_type"], body["locale"]) == ("image", "image/webp", None)
    # Orientation 6 applied: 2400x1600 stored upright as 1600x2400, then scaled to the standard widths.
    assert [v["variant"] for v in body["variants"]] == ["w320", "w640", "w1280"]
    assert (body["width"], body["height"]) == (1280, 1920)
    for variant in body["variants"]:
        served = await client.get(variant["url"])
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/webp"
        assert len(served.content) == variant["size_bytes"] == int(served.headers["content-length"])
        with Image.open(io.BytesIO(served.content)) as image:
            assert image.format == "WEBP"
            assert image.size == (variant["width"], variant["height"])
            assert variant["width"] <= int(variant["variant"][1:])
            assert not image.getexif()
            assert not {"exif", "icc_profile", "xmp"} & set(image.info)
    # Same bytes again: the same item, nothing new stored.
    before = await stored(app)
    again = await upload(client, editor, "other-name.jpg", source, "application/octet-stream")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert await stored(app) == before
    async with app.state.read_path.connect() as reader:  # an offline pack lists the 640 px rendition
        assert [e.url for e in await media_manifest(reader, [body["id"]])] == [body["variants"][1]["url"]]
    shown = await client.get(f"/v1/media/{body['id']}", params={"lang": "zh-Hans"})
    assert shown.status_code == 200
    assert (shown.json()["caption"], shown.json()["caption_locale"]) == ("Rice terraces", "en")


async def test_small_image_is_never_upscaled(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    # The name and a generic declared type say nothing: the bytes are a PNG.
    response = await upload(client, editor, "voice.mp3", png(500, 100), "application/octet-stream")
    assert response.status_code == 201, response.text
    assert [(v["variant"], v["width"], v["height"]) for v in response.json()["variants"]] == [
        ("w320", 320, 64),
        ("w500", 500, 100),
    ]


async def test_narration_and_file_caching(app: Litestar, client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    audio = mp3()
    created = await upload(client, editor, "narration.bin", audio, "application/octet-stream", locale="vi-VN")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["locale"], body["mime_type"], body["size_bytes"]) == (
        "audio",
        "vi",
        "audio/mpeg",
        len(audio),
    )
    assert abs(body["duration_ms"] - 2606) <= 30
    url = body["url"]
    served = await client.get(url, headers={"Accept-Encoding": "gzip"})
    assert served.status_code == 200
    assert served.content == audio
    assert served.headers["content-type"] == "audio/mpeg"
    assert served.headers["content-length"] == str(len(audio))
    assert served.headers["etag"] == f'"{body["hash"]}"'
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in served.headers
    not_modified = await client.get(url, headers={"If-None-Match": served.headers["etag"]})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == served.headers["etag"]
    assert_problem(await client.get(f"/v1/media/files/{'0' * 64}"), 404, "not_found")
    assert (await client.get("/v1/media/files/..%2F..%2Fetc%2Fpasswd")).status_code in (404, 422)
    assert_problem(await client.get(f"/v1/media/{'0' * 32}"), 404, "not_found")
    # What other parts of the guide call.
    async with app.state.read_path.connect() as reader:
        refs = await media_refs(reader, [body["id"], "f" * 32], "en")
        assert [(r.id, r.duration_ms, r.licence) for r in refs] == [
            (body["id"], body["duration_ms"], LICENCE["licence"])
        ]
        assert await existing_media_ids(reader, [body["id"], "f" * 32]) == {body["id"]}
        manifest = await media_manifest(reader, [body["id"]])
        assert [(m.key, m.url, m.sha256, m.size) for m in manifest] == [
            (f"media:{body['id']}", url, body["hash"], len(audio))
        ]


@pytest.mark.parametrize("side", [7_000, 20_000])
def test_pixel_bombs_are_refused_from_the_header(side: int) -> None:
    # 49 MP: over the service's 40 MP; 400 MP: over Pillow's own guard as well. Neither is decoded.
    with pytest.raises(MediaTooLarge):
        process_image(png_header_only(side, side))
