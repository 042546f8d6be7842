"""Media of the guide (issue 9): the rules of an upload, and the functions other parts use to show media.

**What is accepted** (the type is read from the bytes; the file name is ignored and the declared ``Content-Type``
is only checked against them):

- Images: JPEG, PNG, WebP, opened with Pillow restricted to those formats and checked with ``verify()`` then a full
  decode (a truncated or corrupt file is ``UnreadableMedia``, 422). At most ``MAX_IMAGE_BYTES`` (10 MiB) and
  ``MAX_IMAGE_PIXELS`` (40 megapixels; Pillow's own decompression-bomb guard is turned into the same 413). An
  animated image keeps its first frame.
- Audio: MP3 (MPEG-1/2 Layer III), Ogg Vorbis, Ogg Opus, M4A (AAC in MP4), at most ``MAX_AUDIO_BYTES`` (15 MiB) and
  ``MAX_AUDIO_MS`` (30 minutes), parsed with mutagen, which must find a positive duration. An MP3 must start with
  its first frame (or an ID3v2 tag and then its first frame): mutagen alone would find a frame after arbitrary
  leading bytes. WAV and FLAC are refused (too large for narration fetched over mountain networks).
- **SVG is refused** (like any XML, with or without script): SVG is a document format that can carry scripts, event
  handlers, external references and entity expansion; no sanitiser we would trust is maintained in this stack, and
  a served SVG runs in the app's origin. Rasterise illustrations to PNG/WebP offline and upload those.

**Size limits.** The upload route accepts a request body of at most ``MAX_UPLOAD_BODY_BYTES`` (15 MiB plus 64 KiB
of form fields), enforced by Litestar's per-route ``request_max_body_size`` while the body streams in (a larger
``Content-Length`` is refused before reading anything; a body without one is cut off at the limit): 413
``payload_too_large``. A 20 MB upload is therefore always refused. The file part is spooled by Litestar (memory,
then a temporary file), never more than the limit.

**What is stored.** Images are re-encoded with Pillow: orientation applied (``ImageOps.exif_transpose``), ICC colours
converted to sRGB (dropped when the profile cannot be used), every metadata chunk dropped (EXIF, GPS, XMP, ICC,
comments), then resized to the standard widths (``STANDARD_WIDTHS`` below the upload's width, plus the upload's own
width when under 1280 px: never upscaled) and encoded as **WebP** (quality 80): every current Android and iOS
WebView decodes it, it is smaller than JPEG at the same quality and keeps PNG transparency. The upload itself is not
kept (its metadata may locate the photographer). Audio is stored as uploaded, after the checks. Files go to the
``MediaStorage`` by content hash (``src/guide/storage.py``).

**Identity and idempotency.** A media item's id is the first 32 hex digits (128 bits) of the SHA-256 of the uploaded
bytes. Uploading the same bytes again answers the existing item (200 instead of 201) with its licence, credit and
captions unchanged; nothing is written.

**Nothing half-stored.** Every refusal happens before anything is written. Files are written after the rows are
flushed and before the request commits; if the commit then fails, the files stay as unreferenced objects (harmless:
content-addressed; a sweep of unreferenced files is left for later).
"""

import asyncio
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from mutagen import MutagenError
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from src.guide import repository
from src.guide.errors import MediaTooLarge, MediaTypeMismatch, UnreadableMedia, UnsupportedMediaType
from src.guide.models import MediaKind
from src.guide.schemas import MediaManifestEntry, MediaRef, MediaVariant
from src.guide.storage import MediaStorage, content_hash
from src.kernel.db import Reader, connection_reader, utcnow
from src.kernel.errors import Conflict, InvalidParameter, NotFound
from src.kernel.i18n import map_tag, pick, primary_language
from src.kernel.request_input import strict_json
from src.kernel.text import clean_text

MiB = 1024 * 1024
#: Largest image upload, bytes.
MAX_IMAGE_BYTES = 10 * MiB
#: Largest audio upload, bytes.
MAX_AUDIO_BYTES = 15 * MiB
#: Largest request body of the upload route: the largest file plus room for the form's other fields.
MAX_UPLOAD_BODY_BYTES = MAX_AUDIO_BYTES + 64 * 1024
#: Largest image accepted, pixels (a 40 MP camera photo; Pillow's own default warns at 89 MP).
MAX_IMAGE_PIXELS = 40_000_000
#: Longest narration, milliseconds.
MAX_AUDIO_MS = 30 * 60 * 1000
#: Widths of the stored image renditions, px.
STANDARD_WIDTHS = (320, 640, 1280)
WEBP_QUALITY = 80
STORED_IMAGE_MIME = "image/webp"
#: Caption/alt text: at most this many characters per locale, and this many locales.
MAX_CAPTION_CHARS = 1000
MAX_CAPTIONS = 20
#: Variant name of stored audio.
ORIGINAL = "original"
#: Path of a stored file's bytes.
FILE_URL = "/v1/media/files/{hash}"

_IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the first bytes of an upload say it is."""

    kind: MediaKind
    mime: str


@dataclass(frozen=True, slots=True)
class Rendition:
    """A re-encoded image or a checked audio file, ready to store."""

    variant: str
    data: bytes
    mime: str
    width: int | None = None
    height: int | None = None

    @property
    def hash(self) -> str:
        return content_hash(self.data)


@dataclass(frozen=True, slots=True)
class Checked:
    """An upload that passed every check: its kind, detected type, renditions (largest last) and duration."""

    kind: MediaKind
    source_mime: str
    renditions: list[Rendition]
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class UploadForm:
    """The fields of an upload besides the file, as sent (cleaned by ``MediaService.upload``)."""

    licence: str
    credit: str
    locale: str | None = None
    caption: str | None = None
    declared_type: str | None = None


# -- detection -----------------------------------------------------------------------------------------------------

_MP3_BITRATE_INDEX_BAD = (0, 15)


def _mpeg_frame_at(data: bytes, offset: int) -> bool:
    """Whether an MPEG audio Layer III frame header starts at ``offset`` (11-bit sync, a defined version, layer
    III, a real bitrate and sampling-rate index)."""
    if len(data) < offset + 4:
        return False
    (header,) = struct.unpack_from(">I", data, offset)
    sync, version, layer = header >> 21, (header >> 19) & 3, (header >> 17) & 3
    bitrate, sampling = (header >> 12) & 15, (header >> 10) & 3
    return sync == 0x7FF and version != 1 and layer == 1 and bitrate not in _MP3_BITRATE_INDEX_BAD and sampling != 3


def _id3v2_end(data: bytes) -> int:
    """Where the audio starts after a leading ID3v2 tag (0 without one); sizes are syncsafe (ID3v2.4 §3.1)."""
    if len(data) < 10 or data[:3] != b"ID3":
        return 0
    size = 0
    for byte in data[6:10]:
        if byte & 0x80:
            return -1
        size = (size << 7) | byte
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def sniff(data: bytes) -> Sniffed:
    """The kind and type of ``data`` from its leading bytes only; ``UnsupportedMediaType`` (415) for anything but
    JPEG, PNG, WebP, MP3, Ogg and M4A (SVG/XML, HTML, PDF, WAV, FLAC, GIF, text... ), naming SVG when it is one."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.IMAGE, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.IMAGE, "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "image/webp")
    if head.startswith(b"OggS"):
        return Sniffed(MediaKind.AUDIO, "audio/ogg")
    if head[4:8] == b"ftyp":
        return Sniffed(MediaKind.AUDIO, "audio/mp4")
    start = _id3v2_end(data)
    if start >= 0 and _mpeg_frame_at(data, start):
        return Sniffed(MediaKind.AUDIO, "audio/mpeg")
    text = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and (b"<svg" in data[:4096].lower() or text.startswith(b"<?xml")):
        raise UnsupportedMediaType(
            "SVG and other XML are refused (they can carry scripts); rasterise to PNG or WebP and upload that"
        )
    raise UnsupportedMediaType(
        "the file is not an accepted type: images JPEG, PNG, WebP; audio MP3, Ogg Vorbis, Opus, M4A (AAC)"
    )


def check_declared(declared: str | None, sniffed: Sniffed) -> None:
    """``MediaTypeMismatch`` (415) when the part's declared ``Content-Type`` names an image or audio type of the
    other kind than the bytes are (a PNG sent as ``audio/mpeg``). A generic or absent type is not checked."""
    if not declared:
        return
    major = declared.split(";", 1)[0].strip().lower().split("/", 1)[0]
    if major in ("image", "audio") and major != sniffed.kind.value:
        raise MediaTypeMismatch(f"the file was sent as {declared!r} but its bytes are {sniffed.mime}")


# -- images --------------------------------------------------------------------------------------------------------


def _target_widths(width: int) -> list[int]:
    """The rendition widths of an image ``width`` px wide: standard widths below it, and its own up to 1280."""
    largest = STANDARD_WIDTHS[-1]
    return sorted({w for w in STANDARD_WIDTHS if w < width} | {min(width, largest)})


def _to_srgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB (or RGBA when it has transparency) in sRGB, its ICC profile applied when usable."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    target = "RGBA" if has_alpha else "RGB"
    icc = image.info.get("icc_profile")
    converted: Image.Image | None = None
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=target)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # an unusable profile is dropped: the pixels are taken as sRGB
    if converted is None:
        converted = image.convert(target) if image.mode != target else image.copy()
    converted.info = {}
    return converted


def _encode_webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, exif=b"", icc_profile=None)
    return out.getvalue()


def process_image(data: bytes) -> Checked:
    """Check and re-encode an image upload (CPU-bound; run it in a worker thread).

    Raises ``MediaTooLarge`` (413) over ``MAX_IMAGE_BYTES`` or ``MAX_IMAGE_PIXELS`` (or for Pillow's decompression
    bomb guard), ``UnsupportedMediaType`` (415) when Pillow sees no JPEG/PNG/WebP, ``UnreadableMedia`` (422) when it
    cannot decode it (truncated, corrupt).
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise MediaTooLarge(f"images are at most {MAX_IMAGE_BYTES} bytes ({MAX_IMAGE_BYTES // MiB} MiB)")
    formats = tuple(_IMAGE_FORMATS)
    try:
        # The pixel count is checked from the header, before any pixel is decoded. Pillow itself refuses over
        # twice its MAX_IMAGE_PIXELS (DecompressionBombError) and warns above it (an error where warnings are).
        with Image.open(io.BytesIO(data), formats=formats) as probe:
            width, height = probe.size
            if width * height > MAX_IMAGE_PIXELS:
                raise MediaTooLarge(f"images are at most {MAX_IMAGE_PIXELS} pixels; this one has {width * height}")
            probe.verify()
        with Image.open(io.BytesIO(data), formats=formats) as image:
            source_mime = _IMAGE_FORMATS[str(image.format)]
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _to_srgb(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"images are at most {MAX_IMAGE_PIXELS} pixels") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaType("the file is not a JPEG, PNG or WebP image Pillow can identify") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError) as exc:
        raise UnreadableMedia(f"the image cannot be decoded ({type(exc).__name__}: {str(exc)[:120]})") from exc
    renditions: list[Rendition] = []
    for target in _target_widths(rgb.width):
        scaled_height = max(1, round(rgb.height * target / rgb.width))
        scaled = rgb if target == rgb.width else rgb.resize((target, scaled_height), Image.Resampling.LANCZOS)
        renditions.append(Rendition(f"w{target}", _encode_webp(scaled), STORED_IMAGE_MIME, target, scaled.height))
    return Checked(MediaKind.IMAGE, source_mime, renditions)


# -- audio ---------------------------------------------------------------------------------------------------------


def process_audio(data: bytes, sniffed: Sniffed) -> Checked:
    """Check an audio upload with mutagen and read its duration (run it in a worker thread).

    Raises ``MediaTooLarge`` (413) over ``MAX_AUDIO_BYTES``, ``UnsupportedMediaType`` (415) for an Ogg or MP4
    container of another codec (Ogg FLAC, Speex, Theora video, ALAC...), ``UnreadableMedia`` (422) when mutagen
    cannot parse it or finds no duration, ``InvalidParameter`` (422) over ``MAX_AUDIO_MS``.
    """
    if len(data) > MAX_AUDIO_BYTES:
        raise MediaTooLarge(f"audio files are at most {MAX_AUDIO_BYTES} bytes ({MAX_AUDIO_BYTES // MiB} MiB)")
    length: float | None = None
    mime = sniffed.mime
    try:
        if mime == "audio/mpeg":
            length = _length(MP3(io.BytesIO(data)))  # type: ignore[no-untyped-call]
        elif mime == "audio/ogg":
            length = _ogg_length(data)
        else:
            mp4 = MP4(io.BytesIO(data))  # type: ignore[no-untyped-call]
            if not str(getattr(mp4.info, "codec", "")).startswith("mp4a"):
                raise UnsupportedMediaType("an MP4 audio file must hold AAC (mp4a); other codecs are refused")
            length = _length(mp4)
    except (MutagenError, struct.error, ValueError, EOFError, IndexError) as exc:
        raise UnreadableMedia(f"the audio cannot be parsed ({type(exc).__name__}: {str(exc)[:120]})") from exc
    if not length or length <= 0:
        raise UnreadableMedia("the audio has no duration")
    duration_ms = round(length * 1000)
    if duration_ms > MAX_AUDIO_MS:
        raise InvalidParameter.of_field("file", f"narration is at most {MAX_AUDIO_MS // 60000} minutes long")
    return Checked(MediaKind.AUDIO, mime, [Rendition(ORIGINAL, data, mime)], max(1, duration_ms))


def _length(parsed: Any) -> float | None:
    """The duration mutagen read, seconds (``None`` when it has none)."""
    length = getattr(getattr(parsed, "info", None), "length", None)
    return float(length) if isinstance(length, int | float) else None


def _ogg_length(data: bytes) -> float:
    """The length in seconds of Ogg Vorbis or Ogg Opus ``data``; ``UnsupportedMediaType`` for other Ogg codecs."""
    for kind in (OggVorbis, OggOpus):
        try:
            return _length(kind(io.BytesIO(data))) or 0.0
        except MutagenError:
            continue
    raise UnsupportedMediaType("an Ogg file must hold Vorbis or Opus audio")


def check_upload(data: bytes, declared_type: str | None) -> Checked:
    """Every check of an uploaded file, and its renditions (CPU-bound: ``MediaService`` runs it in a thread)."""
    if not data:
        raise InvalidParameter.of_field("file", "the file is empty")
    if len(data) > MAX_AUDIO_BYTES:
        raise MediaTooLarge(f"uploads are at most {MAX_AUDIO_BYTES} bytes")
    sniffed = sniff(data)
    check_declared(declared_type, sniffed)
    if sniffed.kind is MediaKind.IMAGE:
        return process_image(data)
    return process_audio(data, sniffed)


# -- form fields ---------------------------------------------------------------------------------------------------


def normalise_tag(tag: str, field: str) -> str:
    """A BCP 47 tag as stored: a served locale when it maps to one (``en-US`` -> ``en``, ``zh-CN`` -> ``zh-Hans``),
    else the well-formed tag lower-cased (``hmn``, a Hmong narration); ``InvalidParameter`` (422) when malformed."""
    tag = tag.strip()
    if len(tag) > 35 or primary_language(tag) is None:
        raise InvalidParameter.of_field(field, "must be a BCP 47 language tag such as vi, en, zh-Hans or hmn")
    return map_tag(tag) or tag.replace("_", "-").lower()


def parse_captions(raw: str | None) -> dict[str, str]:
    """The ``caption`` form field: a JSON object of BCP 47 locale -> caption/alt text (at most ``MAX_CAPTIONS``
    locales, ``MAX_CAPTION_CHARS`` characters each); ``{}`` when absent. 400 for bad JSON, 422 for bad values."""
    if raw is None or not raw.strip():
        return {}
    values = strict_json(raw.encode(), dict[str, str])
    if len(values) > MAX_CAPTIONS:
        raise InvalidParameter.of_field("caption", f"at most {MAX_CAPTIONS} locales")
    captions: dict[str, str] = {}
    for tag, text in values.items():
        locale = normalise_tag(tag, f"caption.{tag[:35]}")
        cleaned = clean_text(text, f"caption.{locale}", multiline=True)
        if len(cleaned) > MAX_CAPTION_CHARS:
            raise InvalidParameter.of_field(f"caption.{locale}", f"at most {MAX_CAPTION_CHARS} characters")
        captions[locale] = cleaned
    return captions


def _bounded(value: str, field: str, longest: int) -> str:
    cleaned = clean_text(value, field)
    if len(cleaned) > longest:
        raise InvalidParameter.of_field(field, f"at most {longest} characters")
    return cleaned


# -- service -------------------------------------------------------------------------------------------------------


class MediaService:
    """Uploads (editors) on the request's unit of work. Never commits (the request owns the transaction)."""

    def __init__(self, session: AsyncSession, storage: MediaStorage, locale: str) -> None:
        self.session = session
        self.storage = storage
        self.locale = locale

    async def upload(self, data: bytes, form: UploadForm, uploader: UUID | None) -> tuple[MediaRef, bool]:
        """Check, re-encode and store an upload by ``uploader``; ``(the media item, True)`` when it was created,
        ``(the existing item, False)`` when the same bytes were uploaded before (nothing changed).

        Raises (nothing stored in every case): ``MediaTooLarge`` (413), ``UnsupportedMediaType`` and
        ``MediaTypeMismatch`` (415), ``UnreadableMedia`` (422), ``InvalidParameter`` (422: empty or too long
        ``licence``/``credit``, a malformed ``locale`` or ``caption``, audio without ``locale``, narration over
        30 minutes), ``BadRequest`` (400: ``caption`` not JSON), ``Conflict`` (409: another upload's id prefix,
        never seen in practice).
        """
        licence = _bounded(form.licence, "licence", 200)
        credit = _bounded(form.credit, "credit", 300)
        locale = normalise_tag(form.locale, "locale") if form.locale and form.locale.strip() else None
        captions = parse_captions(form.caption)
        source_hash = content_hash(data)
        media_id = source_hash[:32]
        # Checked and re-encoded before the unit of work touches the database: on SQLite the first statement takes
        # the write lock, which must not be held while Pillow works. A re-upload is thus checked again too.
        checked = await asyncio.to_thread(check_upload, data, form.declared_type)
        if checked.kind is MediaKind.AUDIO and locale is None:
            raise InvalidParameter.of_field("locale", "an audio narration needs the locale it is spoken in")
        connection = await self.session.connection()
        reader = connection_reader(connection)
        known = await repository.source_hash_of(reader, media_id)
        if known is not None:
            if known != source_hash:
                raise Conflict(f"media id {media_id} is taken by another upload")
            return (await self._refs(reader, [media_id]))[0], False
        main = checked.renditions[-1]
        row: dict[str, Any] = {
            "id": media_id,
            "source_hash": source_hash,
            "kind": checked.kind.value,
            "locale": locale,
            "content_hash": main.hash,
            "size_bytes": len(main.data),
            "mime_type": main.mime,
            "source_mime": checked.source_mime,
            "width": main.width,
            "height": main.height,
            "duration_ms": checked.duration_ms,
            "licence": licence,
            "credit": credit,
            "captions": captions,
            "uploaded_by": uploader,
            "created_at": utcnow(),
        }
        files = [
            {
                "media_id": media_id,
                "variant": r.variant,
                "hash": r.hash,
                "size_bytes": len(r.data),
                "mime_type": r.mime,
                "width": r.width,
                "height": r.height,
            }
            for r in checked.renditions
        ]
        created = await repository.insert_media(connection, row, files)
        if created:
            for rendition in checked.renditions:
                await self.storage.put(rendition.data)
        return (await self._refs(reader, [media_id]))[0], created

    async def _refs(self, reader: Reader, ids: Sequence[str]) -> list[MediaRef]:
        return await media_refs(reader, ids, self.locale)


class MediaReader:
    """Public reads of media: metadata and the stored files' bytes."""

    def __init__(self, reader: Reader, storage: MediaStorage, locale: str) -> None:
        self.reader = reader
        self.storage = storage
        self.locale = locale

    async def get(self, media_id: str) -> MediaRef:
        """One media item in the reader's locale; ``NotFound`` (404)."""
        refs = await media_refs(self.reader, [media_id], self.locale)
        if not refs:
            raise NotFound(f"No media item has the id {media_id!r}.")
        return refs[0]

    async def file(self, file_hash: str) -> repository.MediaFileRow:
        """The stored file with this content hash (type, size); ``NotFound`` (404) when no media item holds it or
        its bytes are missing from storage."""
        row = await repository.media_file_by_hash(self.reader, file_hash)
        if row is None or not await self.storage.exists(file_hash):
            raise NotFound(f"No media file has the hash {file_hash!r}.")
        return row


# -- for other parts of the guide ----------------------------------------------------------------------------------


def _as_reader(connection: Reader | AsyncConnection) -> Reader:
    return connection_reader(connection) if isinstance(connection, AsyncConnection) else connection


def _variant(row: repository.MediaFileRow) -> MediaVariant:
    return MediaVariant(
        variant=row.variant,
        url=FILE_URL.format(hash=row.hash),
        hash=row.hash,
        size_bytes=row.size_bytes,
        mime_type=row.mime_type,
        width=row.width,
        height=row.height,
    )


async def media_refs(connection: Reader | AsyncConnection, ids: Sequence[str], locale: str) -> list[MediaRef]:
    """The media items ``ids`` (a ``Reader`` or a unit of work's ``AsyncConnection``) as shown in ``locale``, in
    the order of ``ids``; unknown ids are skipped (articles and tours keep ``media_ids`` without a foreign key).
    Two statements whatever the number of ids."""
    wanted = list(dict.fromkeys(ids))
    rows, files = await repository.media_by_ids(_as_reader(connection), wanted)
    variants: dict[str, list[MediaVariant]] = {}
    for file_row in files:
        variants.setdefault(file_row.media_id, []).append(_variant(file_row))
    by_id = {row.id: row for row in rows}
    refs: list[MediaRef] = []
    for media_id in wanted:
        if (row := by_id.get(media_id)) is None:
            continue
        caption = pick(row.captions, locale)
        refs.append(
            MediaRef(
                id=row.id,
                kind=row.kind,
                locale=row.locale,
                url=FILE_URL.format(hash=row.content_hash),
                hash=row.content_hash,
                size_bytes=row.size_bytes,
                mime_type=row.mime_type,
                width=row.width,
                height=row.height,
                duration_ms=row.duration_ms,
                licence=row.licence,
                credit=row.credit,
                caption=caption[0] if caption else None,
                caption_locale=caption[1] if caption else None,
                variants=variants.get(row.id, []),
                created_at=row.created_at,
            )
        )
    return refs


async def existing_media_ids(connection: Reader | AsyncConnection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` name a stored media item (to refuse an article or tour naming an unknown one)."""
    return await repository.existing_media_ids(_as_reader(connection), list(dict.fromkeys(ids)))


def manifest_entries(refs: Sequence[MediaRef], max_width: int = 640) -> list[MediaManifestEntry]:
    """One manifest entry per media item of ``refs``, sorted by key (reproducible): for an image its widest
    rendition no wider than ``max_width`` px (its narrowest when all are wider), for audio its file."""
    entries: list[MediaManifestEntry] = []
    for ref in refs:
        chosen = MediaVariant("main", ref.url, ref.hash, ref.size_bytes, ref.mime_type, ref.width, ref.height)
        if ref.kind == MediaKind.IMAGE.value and ref.variants:
            fitting = [v for v in ref.variants if (v.width or 0) <= max_width]
            chosen = fitting[-1] if fitting else ref.variants[0]
        entries.append(
            MediaManifestEntry(f"media:{ref.id}", chosen.url, chosen.hash, chosen.size_bytes, chosen.mime_type)
        )
    return sorted(entries, key=lambda entry: entry.key)


async def media_manifest(
    connection: Reader | AsyncConnection, ids: Sequence[str], max_width: int = 640
) -> list[MediaManifestEntry]:
    """``manifest_entries`` of the media items ``ids`` (unknown ids skipped): key, URL, SHA-256, size and type of
    the file an offline pack's app fetches separately for each."""
    return manifest_entries(await media_refs(connection, ids, "en"), max_width)
