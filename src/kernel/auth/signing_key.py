"""Where the JWT signing key comes from, and when the service refuses to start without a good one.

- ``LAOCAI_ENV=production``: ``LAOCAI_JWT_SECRET`` must be set, at least 32 bytes (RFC 7518 §3.2: an HS256 key is
  at least as long as the hash output) and not a known placeholder; otherwise ``WeakSigningKey`` is raised and
  ``laocai serve`` exits non-zero with the reason.
- development (the default): ``LAOCAI_JWT_SECRET`` is used when set; otherwise a random key is generated once per
  data dir in ``<data_dir>/jwt-secret`` (mode 0600) and reused by every later process, which logs that it did.
  The file is written to a temporary name and hard-linked into place (the link fails if the file exists, as
  ``O_EXCL`` does), so several processes starting together agree on one key and none reads a half-written file.
"""

import logging
import os
import re
import secrets
from pathlib import Path

from src.kernel.config import Settings

logger = logging.getLogger("laocai.auth")

MIN_SECRET_BYTES = 32
KEY_FILE_NAME = "jwt-secret"

#: Fragments of the secrets that documentation, examples and generators put in place of a real one (compared
#: lower-case with everything but letters and digits removed).
PLACEHOLDER_FRAGMENTS = (
    "changeme",
    "changethis",
    "replaceme",
    "placeholder",
    "example",
    "yoursecret",
    "supersecret",
    "secretkey",
    "jwtsecret",
    "insecure",
    "notasecret",
    "dontuse",
    "donotuse",
    "password",
    "laocai",
)
_FOLD = re.compile(r"[^a-z0-9]")


class WeakSigningKey(RuntimeError):
    """The configured JWT secret may not be used in this environment; the message says why and what to do."""


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is unfit to sign tokens in production, or ``None`` when it is fit."""
    if not secret:
        return "LAOCAI_JWT_SECRET is not set"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"LAOCAI_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes"
    folded = _FOLD.sub("", secret.lower())
    if folded in {"secret", "changeme", "test", "dev", "development"} or any(
        fragment in folded for fragment in PLACEHOLDER_FRAGMENTS
    ):
        return "LAOCAI_JWT_SECRET is a placeholder value"
    if len(set(secret)) < 8:
        return "LAOCAI_JWT_SECRET repeats too few characters to be random"
    return None


def _read_key_file(path: Path) -> str:
    key = path.read_text(encoding="utf-8").strip()
    if len(key.encode()) < MIN_SECRET_BYTES:
        raise WeakSigningKey(f"{path} holds a key shorter than {MIN_SECRET_BYTES} bytes; delete it to regenerate")
    return key


def development_key(data_dir: Path) -> str:
    """The key in ``<data_dir>/jwt-secret``, generated (mode 0600) when the file does not exist yet."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return _read_key_file(path)
    temporary = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_key_file(path)  # another process created it first: use theirs
    finally:
        temporary.unlink(missing_ok=True)
    logger.warning(
        "generated a development JWT signing key in %s (LAOCAI_JWT_SECRET is not set); "
        "production (LAOCAI_ENV=production) requires LAOCAI_JWT_SECRET",
        path,
    )
    return _read_key_file(path)


def resolve_signing_key(settings: Settings) -> str:
    """The JWT signing key for ``settings``; ``WeakSigningKey`` when production is configured without a fit one."""
    secret = settings.jwt_secret.get_secret_value()
    if settings.env == "production":
        if (problem := secret_problem(secret)) is not None:
            raise WeakSigningKey(
                f"refusing to start with LAOCAI_ENV=production: {problem}. Set LAOCAI_JWT_SECRET to a random value "
                f"of at least {MIN_SECRET_BYTES} bytes, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        return secret
    if secret:
        return secret
    return development_key(settings.data_dir)
