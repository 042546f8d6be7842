"""Errors of the guide with their HTTP meaning (rendered as problem+json by ``src/kernel/errors.py``)."""

from src.kernel.errors import DomainError
from src.kernel.i18n import N_


class UnsupportedMediaType(DomainError):
    """The uploaded bytes are not an accepted media type (415): JPEG, PNG, WebP images; MP3, Ogg Vorbis, Opus and
    M4A (AAC) audio. SVG and any other XML are refused (see ``src/guide/media.py``)."""

    status = 415
    code = "unsupported_media_type"
    title = N_("Unsupported media type")


class MediaTypeMismatch(DomainError):
    """The part's declared ``Content-Type`` names another kind than its bytes are (415): a PNG sent as
    ``audio/mpeg``. The bytes decide what a file is; a contradiction is refused rather than guessed at."""

    status = 415
    code = "media_type_mismatch"
    title = N_("Unsupported media type")


class MediaTooLarge(DomainError):
    """The upload is over its kind's size limit, or an image over the pixel limit (413)."""

    status = 413
    code = "payload_too_large"
    title = N_("Request too large")


class UnreadableMedia(DomainError):
    """The bytes start like an accepted type but cannot be decoded: truncated, corrupt, no duration (422)."""

    status = 422
    code = "unreadable_media"
    title = N_("Unreadable media file")


class WorkflowConflict(DomainError):
    """The editorial step does not apply to the item as it is (409): publishing a draft that was never submitted,
    submitting without the Vietnamese texts, a slug already taken."""

    status = 409
    code = "workflow_conflict"
    title = N_("Conflict")


class ReviewerIsAuthor(DomainError):
    """The editor who wrote the working copy tries to publish it (403): a reviewer other than the author publishes
    (the four-eyes rule of the board's editorial workflow)."""

    status = 403
    code = "reviewer_is_author"
    title = N_("Forbidden")
