"""Settings for the whole service, read from ``LAOCAI_*`` environment variables.

Every setting has an embedded default, so ``laocai serve`` on a fresh clone needs no server at all: SQLite and
an in-process store under ``LAOCAI_DATA_DIR`` (default ``./var``). ``LAOCAI_DATABASE_URL`` switches to
PostgreSQL (``postgresql+asyncpg://...``) and ``LAOCAI_REDIS_URL`` to Redis for the shared stores.
"""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root: ``data/``, ``locales/`` and ``alembic.ini`` live here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Process-wide settings; one instance is built per process (or per test).

    Attributes:
        data_dir: folder for all embedded state (the SQLite database now, the search index and media later).
        database_url: SQLAlchemy async URL; empty means SQLite at ``<data_dir>/laocai.sqlite3``.
        redis_url: ``redis://host:port/db`` for the shared stores; empty means an in-process store.
        catalogue_dir: folder holding the shipped catalogue files (``data/`` of the repository).
        host, port: where ``laocai serve`` listens (loopback by default).
        debug: Litestar debug mode (tracebacks in logs; never shown to clients).
        cache_max_age: seconds clients and proxies may reuse a catalogue response (``Cache-Control``).
        response_cache_seconds: seconds the server keeps a rendered catalogue response in the shared
            ``response_cache`` store (Redis when configured); 0 turns server-side caching off.
        env: ``development`` (the default) or ``production``; production refuses to start without a strong
            ``jwt_secret`` (see ``src/kernel/auth/secrets.py``).
        jwt_secret: the HMAC key (HS256) that signs access and refresh tokens, at least 32 bytes; empty in
            development means one generated once per data dir (``<data_dir>/jwt-secret``).
        access_token_seconds: lifetime of an access token (default 15 minutes).
        refresh_token_seconds: lifetime of a refresh token (default 30 days); each use rotates it.
    """

    model_config = SettingsConfigDict(env_prefix="LAOCAI_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    catalogue_dir: Path = PROJECT_ROOT / "data"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    debug: bool = False
    cache_max_age: int = Field(default=300, ge=0)
    response_cache_seconds: int = Field(default=60, ge=0)
    env: Literal["development", "production"] = "development"
    jwt_secret: SecretStr = SecretStr("")
    access_token_seconds: int = Field(default=15 * 60, ge=10, le=24 * 3600)
    refresh_token_seconds: int = Field(default=30 * 24 * 3600, ge=60, le=366 * 24 * 3600)

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL in use: ``database_url`` or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'laocai.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> None:
        """Create ``data_dir`` when the embedded SQLite database will live there."""
        if self.is_sqlite:
            self.data_dir.mkdir(parents=True, exist_ok=True)
