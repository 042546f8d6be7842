"""Rate limits per client with the ``limits`` library: a moving window of hits, counted atomically in Redis (one
Lua script per hit, shared by every server process) when ``LAOCAI_REDIS_URL`` is set, in process memory otherwise.

Two limits exist: ``public`` (``LAOCAI_RATE_LIMIT_PUBLIC``) on every route under ``/v1/``, and ``auth``
(``LAOCAI_RATE_LIMIT_AUTH``) on the handlers that opt in with ``opt=AUTH_RATE_LIMIT`` (login, register, refresh):

    @post("/login", opt=AUTH_RATE_LIMIT, responses=problem_responses(401, 413))

A handler with ``opt={"rate_limit": None}`` is never limited. Each limit may be ``off``; a limit that is off costs
nothing per request (no storage call). A refused request is answered ``429`` problem+json (code
``too_many_requests``) with ``Retry-After`` in seconds (RFC 9110 §10.2.3, RFC 6585 §4).

If Redis fails (down, timeout), the limiter fails open to a per-process memory window and logs a warning (at most
every ``WARN_EVERY_SECONDS``): a Redis outage must not turn into an API outage (the response cache fails open the
same way, and ``/health/ready`` reports Redis down), while each process still refuses a flood on its own.
"""

import logging
import math
import time
from typing import Final, Literal

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from src.kernel.config import Settings

logger = logging.getLogger("laocai.rate_limits")

LimitKind = Literal["public", "auth"]

#: ``opt`` of the handlers under the strict limit (login, register, refresh): ``@post(..., opt=AUTH_RATE_LIMIT)``.
AUTH_RATE_LIMIT: Final[dict[str, str]] = {"rate_limit": "auth"}
#: ``opt`` of a handler that no limit applies to.
NO_RATE_LIMIT: Final[dict[str, None]] = {"rate_limit": None}

#: Prefix of every counter in Redis.
KEY_PREFIX = "laocai:limits"
#: Seconds a Redis call of the limiter may take before it fails open.
REDIS_TIMEOUT_SECONDS = 0.5
WARN_EVERY_SECONDS = 10.0


_BASE_SWEEP = "_MemoryStorage__schedule_expiry"


class SweptMemoryStorage(MemoryStorage):
    """``limits``' in-process storage with its expiry sweep started at most once per ``SWEEP_EVERY_SECONDS``.

    The stock storage starts a sweep task after every hit once the previous sweep ended, and the sweep hops to a
    thread once per key: about 70 µs of CPU per request on this machine, more than the whole bare framework.
    Expired hits are also ignored by the moving window itself, so sweeping once a second changes no answer; it only
    bounds the memory held by clients that went quiet.
    """

    SWEEP_EVERY_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802  (the base class's name-mangled hook)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY_SECONDS
            await getattr(MemoryStorage, _BASE_SWEEP)(self)


class RateLimiter:
    """Counts hits per ``(kind, client)`` and says how long a refused client must wait.

    ``limits`` maps ``public`` and ``auth`` to their items (several per kind allowed, e.g. ``10/second; 600/minute``);
    an empty list means off.
    """

    def __init__(self, limits: dict[str, list[RateLimitItem]], redis_url: str = "") -> None:
        self.limits = {kind: items for kind, items in limits.items() if items}
        self.redis: Redis | None = None
        storage: Storage
        if redis_url:
            self.redis = Redis.from_url(
                redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",  # redis-py >= 5.2 (we run 8); no coredis needed
                wrap_exceptions=True,
                key_prefix=KEY_PREFIX,
                connection_pool=self.redis.connection_pool,  # type: ignore[arg-type]  # passed on to redis-py
            )
        else:
            storage = SweptMemoryStorage()
        self.window = MovingWindowRateLimiter(storage)
        self.fallback = MovingWindowRateLimiter(SweptMemoryStorage()) if redis_url else None
        self._warned_at = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        return cls({"public": settings.public_rate_limits, "auth": settings.auth_rate_limits}, settings.redis_url)

    def applies(self, kind: str | None) -> bool:
        """True when ``kind`` names a limit that is on."""
        return kind is not None and kind in self.limits

    async def hit(self, kind: str, client: str) -> int | None:
        """Count one hit of ``client`` under ``kind``; ``None`` when allowed, else the seconds until a retry may
        succeed (at least 1). ``kind`` must be a limit that is on (``applies``)."""
        for item in self.limits[kind]:
            window = self.window
            try:
                allowed = await window.hit(item, kind, client)
            except (StorageError, RedisError, OSError) as exc:
                self._warn(exc)
                window = self.fallback or window
                allowed = await window.hit(item, kind, client)
            if not allowed:
                return await self._retry_after(window, item, kind, client)
        return None

    async def _retry_after(self, window: MovingWindowRateLimiter, item: RateLimitItem, kind: str, client: str) -> int:
        try:
            reset_time = (await window.get_window_stats(item, kind, client)).reset_time
        except (StorageError, RedisError, OSError):
            return item.get_expiry()
        return max(1, math.ceil(reset_time - time.time()))

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("rate limit storage failed, counting in this process only: %s: %s", type(exc).__name__, exc)

    async def clear(self, kind: str, client: str) -> None:
        """Forget the hits of ``client`` under ``kind`` (tests, administrators)."""
        for item in self.limits.get(kind, []):
            await self.window.clear(item, kind, client)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
