"""Where media bytes live: a small content-addressed storage interface and its filesystem implementation.

Every stored object is named by the SHA-256 of its bytes (64 lower-case hex digits), so a ``put`` of the same bytes
is idempotent and an object never changes once written (it is served with ``Cache-Control: immutable``).
``FileStorage`` keeps objects under ``<LAOCAI_DATA_DIR>/media/<first two hex digits>/<hash>``; an S3-compatible
object store (MinIO, R2, S3) can come later as another ``MediaStorage`` with the same names as object keys, chosen
in ``src/app.py`` from settings, without touching the upload or serving rules.

A name that is not 64 hex digits is refused (``ValueError``) before any path is built, so no path traversal is
possible through a hash.
"""

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

#: A content hash as stored and served: SHA-256 in lower-case hex.
HASH_PATTERN = r"^[0-9a-f]{64}$"
_HASH = re.compile(HASH_PATTERN)

#: Bytes per chunk when an object is streamed to a client.
CHUNK_BYTES = 64 * 1024


def content_hash(data: bytes) -> str:
    """The name of ``data`` in a ``MediaStorage``: its SHA-256 in lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def check_hash(name: str) -> str:
    """``name`` when it is 64 lower-case hex digits; ``ValueError`` otherwise."""
    if not _HASH.fullmatch(name):
        raise ValueError(f"not a SHA-256 hex digest: {name[:80]!r}")
    return name


class MediaStorage(Protocol):
    """Content-addressed storage of media bytes. Implementations are safe to call from several tasks at once."""

    async def put(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256 and return that hash; storing bytes already present does nothing."""
        ...

    async def exists(self, name: str) -> bool:
        """Whether an object named ``name`` (a SHA-256 hex digest) is stored."""
        ...

    async def read(self, name: str) -> bytes:
        """The bytes of ``name``; ``FileNotFoundError`` when absent."""
        ...

    def stream(self, name: str, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        """The bytes of ``name`` in chunks of at most ``chunk_bytes`` (never the whole object in memory);
        ``FileNotFoundError`` on the first iteration when absent."""
        ...

    async def delete(self, name: str) -> None:
        """Remove ``name``; removing an absent object does nothing."""
        ...


class FileStorage:
    """``MediaStorage`` on a local folder: ``<root>/<aa>/<hash>`` where ``aa`` are the hash's first two digits (256
    subfolders keep directories small). Writes go to a temporary file in the same subfolder, are flushed to disk
    and renamed into place (``os.replace`` is atomic on POSIX), so a reader never sees a partial object and a crash
    leaves at most a stray ``.tmp`` file. File work runs in a worker thread, off the event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, name: str) -> Path:
        """Where ``name`` is (or would be) stored; ``ValueError`` for a name that is not a SHA-256 hex digest."""
        check_hash(name)
        return self.root / name[:2] / name

    async def put(self, data: bytes) -> str:
        name = content_hash(data)
        await asyncio.to_thread(self._write, name, data)
        return name

    def _write(self, name: str, data: bytes) -> None:
        target = self.path_of(name)
        if target.exists():
            return
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread(self.path_of(name).is_file)

    async def read(self, name: str) -> bytes:
        return await asyncio.to_thread(self.path_of(name).read_bytes)

    async def stream(self, name: str, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        path = self.path_of(name)
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_bytes):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self.path_of(name).unlink, missing_ok=True)


def media_root(data_dir: Path) -> Path:
    """The folder of the embedded media storage: ``<LAOCAI_DATA_DIR>/media``."""
    return data_dir / "media"
