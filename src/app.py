"""``create_app()``: assembles settings, engines, stores, controllers, dependencies and error handling. No logic."""

from typing import Any, cast

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from src.booking import jobs as booking_jobs
from src.booking.channel_controllers import ChannelCalendarController, IcalExportController, OwnerRoomTypeIcalController
from src.booking.controllers import BookingController, PropertyController
from src.booking.owner_controllers import OwnerController
from src.guide.alert_controllers import AlertController, EditorAlertController
from src.guide.calendar_controllers import EditorEventController, EventController
from src.guide.content_controllers import (
    ArticleController,
    EditorArticleController,
    EditorTourController,
    TourController,
)
from src.guide.controllers import (
    CommuneController,
    DestinationController,
    EditorDestinationController,
    MapController,
    OfflinePackController,
)
from src.guide.media_controllers import EditorMediaController, MediaController
from src.guide.offline import PRUNE_PACK_SNAPSHOTS
from src.guide.storage import FileStorage, media_root
from src.kernel import outbox
from src.kernel.auth.backend import build_jwt_auth, document_public_routes
from src.kernel.auth.controllers import AdminUserController, AuthController
from src.kernel.auth.credentials import default_passwords
from src.kernel.auth.signing_key import resolve_signing_key
from src.kernel.auth.tokens import TokenCodec
from src.kernel.caching import SWEEP_RESPONSE_CACHE, HttpCacheMiddleware, build_stores, response_cache_config
from src.kernel.config import Settings
from src.kernel.db import ReadPath, create_engine, utcnow
from src.kernel.deps import provide_locale, provide_reader, provide_session
from src.kernel.errors import EXCEPTION_HANDLERS, JSONRequest
from src.kernel.health import HealthController
from src.kernel.idempotency import PURGE_EXPIRED_KEYS
from src.kernel.jobs import JobRegistry, JobSystem
from src.kernel.jobs import bind as bind_jobs
from src.kernel.logs import logging_config
from src.kernel.middleware import RequestPipelineMiddleware
from src.kernel.rate_limits import RateLimiter
from src.kernel.security import SecurityHeaders, SecurityMiddleware, TrustedProxies, cors_config
from src.payments import jobs as payments_jobs
from src.payments.controllers import (
    OwnerPaymentController,
    PaymentController,
    PaymentQrController,
    RefundController,
    WebhookController,
)
from src.payments.deps import build_card_provider, payment_config
from src.payments.service import refund_on_cancel
from src.search import jobs as search_jobs
from src.search.cache import ResultCache
from src.search.controllers import BoardSearchController, SearchController
from src.search.engines import build_engine
from src.search.health import readiness_check
from src.search.log import SearchLogWriter

API_VERSION = "0.1.0"


async def _content_language(message: Message, scope: Scope) -> None:
    """Say which locale the response is in (RFC 9110 §8.5) and that it varies with ``Accept-Language``."""
    if message["type"] != "http.response.start":
        return
    locale = (scope.get("state") or {}).get("locale")
    headers = cast("list[tuple[bytes, bytes]]", message.setdefault("headers", []))
    if locale and not any(k.lower() == b"content-language" for k, _ in headers):
        headers.append((b"content-language", str(locale).encode()))
    headers.append((b"vary", b"Accept-Language"))


def job_registry(settings: Settings | None = None) -> JobRegistry:
    """Every job of the application: the kernel's, then each domain's ``jobs.register(registry)``. ``settings``
    give the schedules that are configurable (their defaults without)."""
    registry = JobRegistry()
    registry.add_periodic(SWEEP_RESPONSE_CACHE)
    registry.add_periodic(PURGE_EXPIRED_KEYS)
    registry.add_periodic(PRUNE_PACK_SNAPSHOTS)
    outbox.register(registry)
    payments_jobs.register(registry, reconcile_minutes=settings.reconcile_minutes if settings else 5)
    if settings is None:
        booking_jobs.register(registry)
    else:
        booking_jobs.register(registry, sync_minutes=settings.channel_sync_minutes)
    search_jobs.register(registry)  # also search's reaction to the guide's catalogue_changed event
    return registry


def create_jobs(settings: Settings, engine: AsyncEngine, *, in_server: bool, resources: dict[str, Any]) -> JobSystem:
    """The job system of a process: ``in_server`` for ``laocai serve`` (a worker only when
    ``settings.runs_worker_in_process``; per-process periodic jobs), else for ``laocai worker``. ``resources``
    reach handlers as ``ctx.resources``: ``"stores"`` (server processes) and ``"search"`` (the search engine,
    needed by search's jobs wherever a worker runs); ``"channel_sync"`` (booking's feed import settings) and
    ``"outbox"`` (the mailer and sender of outbox email) are added here."""
    channel_sync = booking_jobs.ChannelSyncConfig(allow_private_hosts=settings.channel_allow_private_hosts)
    mail = outbox.config_from_settings(settings)
    return JobSystem(
        job_registry(settings),
        engine,
        redis_url=settings.redis_url,
        queue_name=settings.jobs_queue,
        run_worker=settings.runs_worker_in_process if in_server else True,
        process_periodic=in_server,
        concurrency=settings.jobs_concurrency,
        sweep_seconds=settings.jobs_sweep_seconds,
        shutdown_seconds=settings.jobs_shutdown_seconds,
        resources={
            booking_jobs.RESOURCE: channel_sync,
            outbox.RESOURCE: mail,
            payments_jobs.RESOURCE: payments_jobs.PaymentsResources(card=build_card_provider(settings)),
            **resources,  # a server process passes its own card provider (one HTTP pool per process)
        },
    )


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the ASGI application. Engines and the Redis client are created here but connect on first use.

    Raises ``WeakSigningKey`` when ``LAOCAI_ENV=production`` lacks a fit ``LAOCAI_JWT_SECRET``.
    """
    settings = settings or Settings()
    settings.ensure_data_dir()
    signing_key = resolve_signing_key(settings)
    jwt_auth = build_jwt_auth(signing_key, settings.access_token_seconds)
    url = settings.effective_database_url
    engine = create_engine(url)
    read_engine = create_engine(url, read_only=True) if settings.is_sqlite else engine
    # one-statement writes (the webhook log): autocommitted on PostgreSQL; SQLite's one writer engine otherwise
    log_engine = engine if settings.is_sqlite else create_engine(url, autocommit=True)
    read_path = ReadPath(url)
    redis: Redis | None = Redis.from_url(settings.redis_url) if settings.redis_url else None
    limiter = RateLimiter.from_settings(settings)
    proxies = TrustedProxies(settings.trusted_proxy_networks)

    stores = build_stores(redis)
    search_engine = build_engine(settings)
    search_log = SearchLogWriter(engine, enabled=settings.search_log)
    card = build_card_provider(settings)
    jobs = create_jobs(
        settings,
        engine,
        in_server=True,
        resources={
            "stores": stores,
            search_jobs.RESOURCE: search_engine,
            payments_jobs.RESOURCE: payments_jobs.PaymentsResources(card=card),
        },
    )

    async def start_jobs(_app: Litestar) -> None:
        await jobs.start()
        if read_engine is not engine:  # a job enqueued in a read request goes to the same backend
            bind_jobs(read_engine, jobs.backend)
        await search_log.start()

    async def dispose(_app: Litestar) -> None:
        bind_jobs(read_engine, None)
        await jobs.stop()
        await search_log.stop()  # writes what is buffered, before the engine goes
        await search_engine.close()
        await engine.dispose()
        if read_engine is not engine:
            await read_engine.dispose()
        if log_engine is not engine:
            await log_engine.dispose()
        closing = getattr(card, "aclose", None)
        if closing is not None:
            await closing()
        await read_path.dispose()
        if redis is not None:
            await redis.aclose()
        await limiter.close()

    state: dict[str, Any] = {
        "settings": settings,
        "clock": utcnow,
        "engine": engine,
        "read_engine": read_engine,
        "log_engine": log_engine,
        "read_path": read_path,
        "redis": redis,
        "rate_limiter": limiter,
        "jobs": jobs,
        "token_codec": TokenCodec(
            signing_key, access_seconds=settings.access_token_seconds, refresh_seconds=settings.refresh_token_seconds
        ),
        "passwords": default_passwords(),
        "card_provider": card,
        "payment_config": payment_config(settings),
        "cancellation_refunder": refund_on_cancel,
        "search_engine": search_engine,
        "search_log": search_log,
        "search_cache": ResultCache[Any](settings.search_cache_seconds),
        "readiness_checks": [readiness_check(search_engine, search_log)],
        "media_storage": FileStorage(media_root(settings.data_dir)),
    }
    app = Litestar(
        route_handlers=[
            HealthController,
            DestinationController,
            MapController,
            CommuneController,
            EditorDestinationController,
            OfflinePackController,
            ArticleController,
            TourController,
            EditorArticleController,
            EditorTourController,
            AlertController,
            EditorAlertController,
            EventController,
            EditorEventController,
            EditorMediaController,
            MediaController,
            SearchController,
            BoardSearchController,
            PropertyController,
            BookingController,
            OwnerController,
            AuthController,
            AdminUserController,
            IcalExportController,
            OwnerRoomTypeIcalController,
            ChannelCalendarController,
            PaymentController,
            PaymentQrController,
            WebhookController,
            RefundController,
            OwnerPaymentController,
        ],
        # Not named "locale": Litestar takes an invalid body field named like a dependency for a failed dependency
        # and answers 500 (register and the editors' translations have a "locale" field).
        dependencies={
            "session": Provide(provide_session),
            "reader": Provide(provide_reader),
            "response_locale": Provide(provide_locale),
        },
        middleware=[
            SecurityMiddleware(limiter, proxies),
            # Input guard, then locale, then ETag/gzip of GETs under /v1/, in one layer.
            RequestPipelineMiddleware(HttpCacheMiddleware(max_age=settings.cache_max_age)),
        ],
        response_cache_config=response_cache_config(settings.response_cache_seconds),
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=JSONRequest,
        before_send=[SecurityHeaders(proxies, docs_path="/schema"), _content_language],
        cors_config=cors_config(settings.cors_origin_list),
        request_max_body_size=settings.max_body_bytes,
        stores=stores,
        state=State(state),
        on_startup=[start_jobs],
        on_shutdown=[dispose],
        on_app_init=[jwt_auth.on_app_init],
        openapi_config=OpenAPIConfig(
            title="Lào Cai Travel API",
            version=API_VERSION,
            description="Digital map catalogue, bookings, payments and multilingual guide of Lào Cai province.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        logging_config=logging_config(log_exceptions="debug", disable_stack_trace={404, 422, 400}),
        debug=settings.debug,
    )
    document_public_routes(app)
    if settings.response_cache_seconds <= 0:
        _uncache_routes(app)
    return app


def _uncache_routes(app: Litestar) -> None:
    """With the response cache off, no route asks the store for a cached copy (Litestar looks one up for every
    ``cache=True`` route even when nothing can have been stored)."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                handler.cache = False
