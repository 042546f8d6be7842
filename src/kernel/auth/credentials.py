"""Email addresses and passwords: how they are normalised, compared, checked and hashed.

Email (``email-validator``, RFC 5321/6531 syntax, no DNS lookup): the address is NFC-normalised and its domain
case-folded and IDNA-encoded by ``validate_email``; that *display* form is stored as typed. Accounts are compared on
``email_key``: the display form's local part width-mapped and compatibility-normalised (NFKC: full-width ``ｆｕｌｌ``
is ``full``, as RFC 8265's width-mapping rule asks of usernames), case-folded (Unicode ``str.casefold``), then NFC,
``@``, the lower-case domain. RFC 5321 lets a server treat local parts case-sensitively, but no mainstream
provider does; folding the case makes ``Anna@x.vn``, ``anna@X.VN`` and NFD ``Ánna`` one account instead of look-alike
twins.

Passwords: Argon2id with argon2-cffi's default parameters (RFC 9106 "second recommended option": t=3, 64 MiB, p=4).
At least 10 characters; at most 1,024 UTF-8 bytes, so one request cannot make the server hash megabytes. Hashes
made with older parameters are re-hashed at the next successful login (``check_needs_rehash``).
"""

import re
import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email

from src.kernel.errors import InvalidParameter

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_BYTES = 1024
MAX_EMAIL_CHARS = 320
MAX_DISPLAY_NAME_CHARS = 100
#: A display name: no control character (C0, DEL, C1: PostgreSQL cannot store NUL, and terminals and logs would act
#: on escapes), at least one visible character. The schemas publish it; ``clean_display_name`` applies it to every
#: caller (``laocai create-user`` too).
DISPLAY_NAME_PATTERN = r"^(?=.*\S)[^\x00-\x1f\x7f-\x9f]+$"
_DISPLAY_NAME = re.compile(DISPLAY_NAME_PATTERN)


def _field_error(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "source": "body", "message": message}]


def normalise_email(address: str) -> tuple[str, str]:
    """``(display form, comparison key)`` of an email address; ``InvalidParameter`` (422) when it is not one.

    ``"Anna@Example.VN"`` -> ``("Anna@example.vn", "anna@example.vn")``.
    """
    try:
        valid = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidParameter(f"email: {exc}", errors=_field_error("email", "not an email address")) from exc
    local = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", valid.local_part).casefold())
    return valid.normalized, f"{local}@{valid.domain.lower()}"


def email_key(address: str) -> str | None:
    """The comparison key of ``address``, or ``None`` when it is not a valid address (login looks up with it)."""
    try:
        return normalise_email(address)[1]
    except InvalidParameter:
        return None


def clean_display_name(name: str) -> str:
    """``name`` without surrounding spaces; ``InvalidParameter`` (422) when it holds a control character or nothing
    visible, or is longer than 100 characters."""
    stripped = name.strip()
    # ``fullmatch`` on the name as sent: ``$`` alone would let one trailing newline through.
    if not _DISPLAY_NAME.fullmatch(name) or len(stripped) > MAX_DISPLAY_NAME_CHARS:
        raise InvalidParameter(
            "display_name: 1 to 100 characters, no control characters",
            errors=_field_error("display_name", "1 to 100 characters, no control characters"),
        )
    return stripped


def check_password_policy(password: str) -> None:
    """Refuse (422) a password shorter than 10 characters or longer than 1,024 UTF-8 bytes."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidParameter(
            f"password: at least {MIN_PASSWORD_CHARS} characters",
            errors=_field_error("password", f"at least {MIN_PASSWORD_CHARS} characters"),
        )
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise InvalidParameter(
            f"password: at most {MAX_PASSWORD_BYTES} bytes in UTF-8",
            errors=_field_error("password", f"at most {MAX_PASSWORD_BYTES} bytes"),
        )


class Passwords:
    """Argon2id hashing and verification with one parameter set, plus a dummy hash for unknown accounts."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("dummy password for unknown accounts")

    def hash(self, password: str) -> str:
        """The PHC string (``$argon2id$v=19$m=...``) of ``password``."""
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored_hash``. With ``None`` (no such account) a dummy hash is verified
        instead, so an unknown email costs the same time as a wrong password, and the answer is False."""
        if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            password = ""  # never hash an oversized input; still spend the time of one verification
        try:
            matched = self.hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than the current ones."""
        return self.hasher.check_needs_rehash(stored_hash)


@cache
def default_passwords() -> Passwords:
    """The process-wide ``Passwords`` with argon2-cffi's default (RFC 9106) parameters."""
    return Passwords()
