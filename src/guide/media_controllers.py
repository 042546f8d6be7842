"""HTTP endpoints of guide media: editors' uploads, public metadata and the stored files' bytes.

Rules (types, limits, re-encoding, identity) are in ``src/guide/media.py``; storage in ``src/guide/storage.py``.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, MultipartBody, Parameter
from litestar.response import Stream

from src.guide.deps import provide_media_reader, provide_media_service
from src.guide.media import MAX_UPLOAD_BODY_BYTES, MediaReader, MediaService, UploadForm
from src.guide.schemas import MediaRef
from src.guide.storage import HASH_PATTERN
from src.kernel.auth.guards import current_identity, requires_role
from src.kernel.caching import none_match
from src.kernel.errors import problem_responses

#: Stored files are content-addressed: the bytes at a URL never change, so clients and proxies keep them a year
#: without revalidating (RFC 8246 ``immutable``). This also makes the kernel's HTTP cache middleware pass the
#: response through untouched (no buffering, no gzip of already compressed images and audio).
IMMUTABLE = "public, max-age=31536000, immutable"
#: Editor responses are the editor's own view: never stored by a cache (RFC 9111 §5.2.2.5).
_NO_STORE = "no-store"
MEDIA_ID = r"^[0-9a-f]{32}$"


@dataclass
class MediaUploadForm:
    """``multipart/form-data`` of an upload.

    Attributes:
        file: the image (JPEG, PNG, WebP; at most 10 MiB, 40 MP) or audio narration (MP3, Ogg Vorbis, Opus, M4A
            AAC; at most 15 MiB, 30 minutes). Its type is read from the bytes; a declared part type of the other
            kind (``audio/mpeg`` on a PNG) is refused. SVG is refused.
        licence: the licence it is published under (``CC BY-SA 4.0``, ``© Sở VHTTDL Lào Cai, used with
            permission``), required, at most 200 characters.
        credit: who made it, shown with it, required, at most 300 characters.
        locale: BCP 47 tag of the narration (required for audio) or of text in the image.
        caption: JSON object of BCP 47 locale -> caption/alt text (``{"vi": "...", "en": "..."}``).
    """

    file: UploadFile
    licence: str
    credit: str
    locale: str | None = None
    caption: str | None = None


class EditorMediaController(Controller):
    """Uploads by the tourism board's editors (role ``editor``)."""

    path = "/v1/editor/media"
    tags = ["editor"]
    guards = [requires_role("editor")]
    dependencies = {"service": Provide(provide_media_service)}

    @post(
        "/",
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BODY_BYTES,
        responses={
            **problem_responses(401, 403, 409, 413, 415),
            200: ResponseSpec(MediaRef, description="The same bytes were uploaded before: the existing item"),
        },
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[MediaService],
        data: MultipartBody[MediaUploadForm],
    ) -> Response[MediaRef]:
        """Upload an image or an audio narration (`multipart/form-data`: `file`, `licence`, `credit`, optional
        `locale` and `caption`). 201 with the new item (`Location: /v1/media/{id}`); 200 with the existing one when
        the same bytes were uploaded before. 413 over the size limits (the request body may be at most 15 MiB +
        64 KiB), 415 for another type (SVG included) or a declared type of the other kind, 422 for a file that
        cannot be decoded or bad form values. Nothing is stored when the upload is refused."""
        try:
            content = await data.file.read()
        finally:
            await data.file.close()
        form = UploadForm(
            licence=data.licence,
            credit=data.credit,
            locale=data.locale,
            caption=data.caption,
            declared_type=data.file.content_type,
        )
        ref, created = await service.upload(content, form, current_identity(request).id)
        return Response(
            ref,
            status_code=201 if created else 200,
            headers={"Location": f"/v1/media/{ref.id}", "Cache-Control": _NO_STORE},
        )


class MediaController(Controller):
    """Media for the app: public, long-cached."""

    path = "/v1/media"
    tags = ["media"]
    dependencies = {"media": Provide(provide_media_reader)}

    @get("/{media_id:str}", responses=problem_responses(404), security=[], cache=True)
    async def get_media(
        self,
        media: NamedDependency[MediaReader],
        media_id: Annotated[str, Parameter(pattern=MEDIA_ID, description="32 hex digits.")],
    ) -> MediaRef:
        """One media item: kind, narration locale, main file (`url`, `hash`, `size_bytes`, `mime_type`), width and
        height (px) or duration (ms), licence, credit, caption in the response locale (`caption_locale` says
        which), and every stored rendition."""
        return await media.get(media_id)

    @get(
        "/files/{file_hash:str}",
        media_type="application/octet-stream",
        responses={
            **problem_responses(404),
            304: ResponseSpec(None, description="Not modified (If-None-Match named this file's hash)"),
        },
        security=[],
    )
    async def get_file(
        self,
        media: NamedDependency[MediaReader],
        file_hash: Annotated[str, Parameter(pattern=HASH_PATTERN, description="SHA-256 of the file, 64 hex.")],
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", max_length=2000, description="RFC 9110 §13.1.2.")
        ] = None,
    ) -> Stream:
        """The bytes of a stored file (an image rendition or an audio narration), streamed, with its own
        `Content-Type` and `Content-Length`, `ETag` = `"<hash>"` and `Cache-Control: public, max-age=31536000,
        immutable`; 304 when `If-None-Match` names it."""
        row = await media.file(file_hash)
        etag = f'"{row.hash}"'
        # Lower-case names: Litestar only fills in a ``content-type`` the response does not have (the route's
        # declared type would otherwise win over the file's own).
        headers = {"etag": etag, "cache-control": IMMUTABLE}
        if if_none_match and none_match(if_none_match, etag):
            return Stream([b""], status_code=304, headers=headers)
        headers |= {"content-type": row.mime_type, "content-length": str(row.size_bytes)}
        return Stream(media.storage.stream(row.hash), headers=headers)
