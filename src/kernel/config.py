"""Settings for the whole service, read from ``LAOCAI_*`` environment variables.

Every setting has an embedded default, so ``laocai serve`` on a fresh clone needs no server at all: SQLite and
an in-process store under ``LAOCAI_DATA_DIR`` (default ``./var``). ``LAOCAI_DATABASE_URL`` switches to
PostgreSQL (``postgresql+asyncpg://...``) and ``LAOCAI_REDIS_URL`` to Redis for the shared stores.
"""

from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from limits import RateLimitItem, parse
from pydantic import Field, SecretStr, field_validator
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
        rate_limit_public: general limit per client on ``/v1/`` (``limits`` notation such as ``600/minute`` or
            ``10/second; 600/minute``), or ``off``.
        rate_limit_auth: strict limit per client on handlers that opt in with ``opt={"rate_limit": "auth"}``
            (login, register, refresh), or ``off``.
        trusted_proxies: comma-separated IP addresses or CIDR networks of reverse proxies whose
            ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed; empty: the socket peer is the client.
        cors_origins: comma-separated origins (``https://app.example.org``) allowed by CORS; empty: no CORS headers.
        max_body_bytes: largest request body accepted, in bytes; larger bodies get 413.
        worker_in_process: ``laocai serve`` also runs a job worker in each server process. Unset: yes without
            Redis (the in-process runner is then the only place jobs run), no with Redis (run ``laocai worker``).
        jobs_concurrency: job attempts one worker (in-process runner or SAQ worker) runs at once.
        jobs_queue: name of the SAQ queue on Redis (keys ``saq:<name>:*``).
        jobs_sweep_seconds: how often a SAQ worker looks for jobs abandoned by a dead worker; such a job is
            re-queued once past its timeout.
        jobs_shutdown_seconds: on shutdown, running jobs get this long to finish before they are cancelled (a
            cancelled attempt on SAQ is retried by another worker).
        env: ``development`` (the default) or ``production``; production refuses to start without a strong
            ``jwt_secret`` (see ``src/kernel/auth/secrets.py``).
        jwt_secret: the HMAC key (HS256) that signs access and refresh tokens, at least 32 bytes; empty in
            development means one generated once per data dir (``<data_dir>/jwt-secret``).
        access_token_seconds: lifetime of an access token (default 15 minutes).
        refresh_token_seconds: lifetime of a refresh token (default 30 days); each use rotates it.
        meili_url: a Meilisearch server (``http://127.0.0.1:7700``) selects the Meilisearch engine; empty: the
            embedded tantivy index under ``<data_dir>/search``.
        meili_key: the Meilisearch API key (a key with search, documents, indexes, tasks and settings rights).
        meili_index: the Meilisearch index uid (full rebuilds go into ``<uid>_<timestamp>`` and are swapped in).
        meili_timeout_seconds: HTTP timeout of one Meilisearch call and the longest wait for one task.
        search_reload_seconds: how often an embedded-index reader checks whether another process committed.
        search_cache_seconds: how long a rendered search page may be answered again from memory (0: never); the
            embedded index's results are also dropped as soon as its reader sees a commit.
        search_log: record each search (normalised query, locale, filters, hit count, time; no personal data).
        hold_minutes: how long a new reservation holds its rooms unpaid before they go back on sale (minutes).
        load_samples: ``laocai serve`` loads the fictional sample properties (``data/booking/``) at start, before the
            search index is built. Unset: yes on the embedded SQLite database, no on any other (a real deployment
            lists real properties; ``laocai load-samples`` loads them there on purpose).
        channel_sync_minutes: how often every imported channel calendar (iCal feed) is fetched again, minutes
            (5..1440; below 60 it should divide 60, above 60 be whole hours, for an even cron schedule).
        channel_allow_private_hosts: let channel feed URLs name or resolve to private, loopback or link-local
            addresses (tests and closed networks only: off, the importer cannot be pointed at internal services).
        stripe_secret_key, stripe_publishable_key: the Stripe API keys (``sk_...``/``pk_...``); without both the
            card method is unavailable (``POST /v1/bookings/{code}/payments`` answers 409) and VietQR still works.
        stripe_webhook_secret: the signing secret of the Stripe webhook endpoint (``whsec_...``); without it
            ``POST /v1/webhooks/stripe`` refuses every event.
        stripe_api_base: another Stripe API address (tests point it at localstripe on loopback); empty: Stripe's.
        card_settlement_minutes, vietqr_settlement_minutes: how far starting a payment extends the hold, per method
            (minutes): the time a card confirmation or a bank transfer and its feed notice usually take.
        bank_feed_tolerance_seconds: oldest signature timestamp a bank-feed notice may carry (replay window).
        reconcile_minutes: how often stuck payments, unprocessed webhook events and unsent refunds are re-read.
        smtp_host: the SMTP server outbox email is sent through; empty: no SMTP, each message is written to
            ``<data_dir>/outbox/<id>.eml`` instead (see ``src/kernel/outbox.py``).
        smtp_port: its port (587 for STARTTLS, 465 with ``smtp_ssl``).
        smtp_username, smtp_password: credentials for SMTP ``AUTH``; no login when the username is empty.
        smtp_starttls: upgrade the connection with STARTTLS (refused if the server does not offer it).
        smtp_ssl: implicit TLS from the first byte (port 465) instead of STARTTLS.
        smtp_timeout_seconds: timeout of each SMTP socket operation, seconds.
        mail_from: the ``From`` of every message (its domain also names the ``Message-ID``s).
        deep_link_base: where a QR code at a site sends a phone: the app's (or website's) deep-link prefix, an
            absolute ``https://`` or ``http://`` URL ending in ``/``; a destination's link is this base followed by
            its slug (``https://laocai.travel/d/sa-pa``), plus ``?lang=`` when the QR was asked for in a language.
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
    rate_limit_public: str = "600/minute"
    rate_limit_auth: str = "10/minute"
    trusted_proxies: str = ""
    cors_origins: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    deep_link_base: str = Field(default="https://laocai.travel/d/", max_length=200, pattern=r"^https?://[^\s?#]+/$")

    @field_validator("rate_limit_public", "rate_limit_auth")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value.lower() != "off":
            parse_rate_limits(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def public_rate_limits(self) -> list[RateLimitItem]:
        """The general limits, ``[]`` when ``off``."""
        return parse_rate_limits(self.rate_limit_public)

    @property
    def auth_rate_limits(self) -> list[RateLimitItem]:
        """The strict limits of login, register and refresh, ``[]`` when ``off``."""
        return parse_rate_limits(self.rate_limit_auth)

    @property
    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return parse_networks(self.trusted_proxies)

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    worker_in_process: bool | None = None
    jobs_concurrency: int = Field(default=4, ge=1, le=256)
    jobs_queue: str = Field(default="laocai", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    jobs_sweep_seconds: int = Field(default=60, ge=1)
    jobs_shutdown_seconds: float = Field(default=10.0, ge=0)
    env: Literal["development", "production"] = "development"
    jwt_secret: SecretStr = SecretStr("")
    access_token_seconds: int = Field(default=15 * 60, ge=10, le=24 * 3600)
    refresh_token_seconds: int = Field(default=30 * 24 * 3600, ge=60, le=366 * 24 * 3600)
    meili_url: str = ""
    meili_key: SecretStr = SecretStr("")
    meili_index: str = Field(default="laocai", min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    meili_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    search_reload_seconds: float = Field(default=1.0, ge=0.05, le=60)
    search_log: bool = True
    hold_minutes: int = Field(default=15, ge=1, le=1440)
    search_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    load_samples: bool | None = None
    channel_sync_minutes: int = Field(default=30, ge=5, le=1440)
    channel_allow_private_hosts: bool = False
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_publishable_key: str = ""
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_api_base: str = ""
    card_settlement_minutes: int = Field(default=15, ge=1, le=1440)
    vietqr_settlement_minutes: int = Field(default=30, ge=1, le=1440)
    bank_feed_tolerance_seconds: int = Field(default=300, ge=30, le=3600)
    reconcile_minutes: int = Field(default=5, ge=1, le=60)

    # outbox email (src/kernel/outbox.py)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    mail_from: str = "Lào Cai Travel <no-reply@laocai.travel>"

    @property
    def outbox_dir(self) -> Path:
        """Where outbox email is written without SMTP: ``<data_dir>/outbox``."""
        return self.data_dir / "outbox"

    @property
    def search_dir(self) -> Path:
        """Where the embedded (tantivy) index lives: ``<data_dir>/search``."""
        return self.data_dir / "search"

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL in use: ``database_url`` or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'laocai.sqlite3').resolve()}"

    @property
    def runs_worker_in_process(self) -> bool:
        """Whether ``laocai serve`` runs jobs itself (always without Redis; see ``worker_in_process``)."""
        if not self.redis_url:
            return True
        return bool(self.worker_in_process)

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def loads_samples_at_start(self) -> bool:
        """Whether ``laocai serve`` loads the sample properties (see ``load_samples``)."""
        return self.is_sqlite if self.load_samples is None else self.load_samples

    def ensure_data_dir(self) -> None:
        """Create ``data_dir`` (mode 0700: it holds the database with accounts and the development JWT key) when the
        embedded SQLite database will live there. An existing folder keeps its mode."""
        if self.is_sqlite:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def parse_rate_limits(value: str) -> list[RateLimitItem]:
    """``600/minute`` or ``10/second; 600/minute`` as ``limits`` items; ``off`` (any case) is ``[]``.

    Raises:
        ValueError: the string is not in ``limits`` notation.
    """
    value = value.strip()
    if value.lower() == "off":
        return []
    return [parse(part) for part in value.split(";") if part.strip()]


def parse_networks(value: str) -> list[IPv4Network | IPv6Network]:
    """A comma-separated list of addresses or CIDR networks (``10.0.0.0/8, ::1``).

    Raises:
        ValueError: an entry is neither.
    """
    return [ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
