"""The ``laocai`` command: ``serve``, ``worker``, ``db upgrade``, ``import-catalogue``, ``load-samples``, ``reindex``,
``create-user``.

Settings come from ``LAOCAI_*`` environment variables (see ``src/kernel/config.py``); with none set, everything runs
embedded under ``./var`` (SQLite) and ``serve`` listens on 127.0.0.1:8000.
"""

import asyncio
import logging
import signal
import sys
import time

import click
import uvicorn
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import make_url

from src.app import create_jobs
from src.booking.samples import load_samples
from src.guide.importer import ImportReport, apply_catalogue, destination_count, load_catalogue
from src.guide.samples import load_guide_samples
from src.kernel.auth.credentials import default_passwords
from src.kernel.auth.models import ROLE_VALUES
from src.kernel.auth.service import AuthService
from src.kernel.auth.signing_key import WeakSigningKey, resolve_signing_key
from src.kernel.auth.tokens import TokenCodec
from src.kernel.caching import clear_response_cache
from src.kernel.config import Settings
from src.kernel.db import create_engine, maintenance_lock, unit_of_work, utcnow
from src.kernel.errors import DomainError
from src.kernel.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES
from src.kernel.logs import uvicorn_log_config
from src.migrations import upgrade
from src.payments.samples import ensure_sample_accounts
from src.search import indexing
from src.search import jobs as search_jobs
from src.search.engines import build_engine
from src.search.port import EngineUnavailable
from src.search.port import Progress as IndexProgress

console = Console(stderr=True)

_IMPORT_STEPS = ("communes", "former units", "destinations", "names", "aliases", "sources")


async def _import(settings: Settings, *, only_if_empty: bool) -> ImportReport | None:
    """Import the shipped catalogue in one transaction, with a progress bar; ``None`` when skipped."""
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(engine) as session:
            if only_if_empty and await destination_count(session) > 0:
                return None
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as progress:
                task = progress.add_task("reading catalogue files", total=len(_IMPORT_STEPS) + 1)
                catalogue = await asyncio.to_thread(load_catalogue, settings.catalogue_dir)
                progress.update(task, advance=1, description=f"{len(catalogue.destinations)} destinations read")

                def step(label: str, count: int) -> None:
                    progress.update(task, advance=1, description=f"{label}: {count}")

                report = await apply_catalogue(session, catalogue, step)
    finally:
        await engine.dispose()
    if report.changed and not await clear_response_cache(settings.redis_url):
        console.print(
            f"[yellow]the shared response cache could not be cleared; cached pages expire within "
            f"{settings.response_cache_seconds} s"
        )
    return report


async def _load_samples(settings: Settings) -> None:
    """Load the fictional sample properties in one transaction (``src/booking/samples.py``) and print what changed.

    No job backend exists in a CLI process, so nothing is announced: ``serve`` builds the search index right after,
    and running servers converge through their periodic index check."""
    started = time.perf_counter()
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(engine) as session:
            report = await load_samples(session, utcnow(), announce=False)
            accounts = await ensure_sample_accounts(session)
            guide = await load_guide_samples(session)
    finally:
        await engine.dispose()
    console.print(
        f"sample properties (fictional, is_sample): {report.summary()}, {accounts} fictional bank account(s), "
        f"{guide} sample guide item(s) in {time.perf_counter() - started:.2f} s"
    )


async def _prepare(settings: Settings, *, only_if_empty: bool, samples: bool = False) -> None:
    """Migrate, import the catalogue, then (``samples``) load the sample properties, under the maintenance lock (one
    process at a time); prints what each step did."""
    url = settings.effective_database_url
    async with maintenance_lock(url):
        await asyncio.to_thread(upgrade, url)
        report = await _import(settings, only_if_empty=only_if_empty)
        if report is not None:
            _print_report(report)
        if samples:
            await _load_samples(settings)


def _print_report(report: ImportReport) -> None:
    console.print(f"catalogue import: {report.summary()}")
    if report.unresolved_aliases:
        console.print(
            f"[yellow]{len(report.unresolved_aliases)} aliases name no destination in the data: "
            + "; ".join(report.unresolved_aliases)
        )
    if report.orphaned:
        console.print(
            f"[yellow]{len(report.orphaned)} destinations are no longer in the files (kept): "
            + ", ".join(report.orphaned[:20])
        )


@click.group()
def main() -> None:
    """Lào Cai Travel: the digital map catalogue, bookings, payments and guide API."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default LAOCAI_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default LAOCAI_PORT or 8000).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Apply migrations, import the shipped catalogue into an empty database, load the fictional sample properties
    (on the embedded SQLite database, or as LAOCAI_LOAD_SAMPLES says), build the search index when it is missing or
    stale, and serve the API.

    Each server process also runs background jobs without Redis (or with LAOCAI_WORKER_IN_PROCESS=true).
    """
    settings = Settings()
    settings.ensure_data_dir()
    _check_signing_key(settings)
    console.print(f"database: {_safe_url(settings.effective_database_url)}")
    asyncio.run(_prepare(settings, only_if_empty=True, samples=settings.loads_samples_at_start))
    asyncio.run(_index_at_start(settings))
    uvicorn.run(
        "src.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # Forwarding headers are read by src/kernel/security.py from LAOCAI_TRUSTED_PROXIES only: uvicorn's own
        # handling trusts 127.0.0.1 by default and would let any local caller reset its rate limit with a forged
        # X-Forwarded-For.
        proxy_headers=False,
        log_config=uvicorn_log_config(),
        log_level="info",
    )


@main.command()
@click.option(
    "--concurrency", default=None, type=click.IntRange(1, 256), help="Jobs at once (LAOCAI_JOBS_CONCURRENCY)."
)
def worker(concurrency: int | None) -> None:
    """Run background jobs from the Redis queue (needs LAOCAI_REDIS_URL), and the global periodic jobs.

    Stops on SIGTERM or SIGINT: running jobs get LAOCAI_JOBS_SHUTDOWN_SECONDS to finish, then are cancelled and
    retried by another worker. Without Redis, jobs run inside ``laocai serve`` and this command refuses to start.
    """
    settings = Settings()
    if not settings.redis_url:
        raise click.UsageError("laocai worker needs LAOCAI_REDIS_URL; without Redis, jobs run inside laocai serve")
    if concurrency is not None:
        settings = settings.model_copy(update={"jobs_concurrency": concurrency})
    console.print(f"worker: queue {settings.jobs_queue!r}, database {_safe_url(settings.effective_database_url)}")
    asyncio.run(_check_redis(settings.redis_url))
    asyncio.run(_work(settings))


async def _check_redis(url: str) -> None:
    """Exit 1 with the reason when Redis does not answer: otherwise SAQ's worker would start anyway and log a
    traceback every second, forever, without serving a job (a supervisor restarts the process instead)."""
    client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    except RedisError as exc:
        raise click.ClickException(f"cannot reach Redis at {_safe_url(url)}: {exc}") from exc
    finally:
        await client.aclose()


async def _work(settings: Settings) -> None:
    engine = create_engine(settings.effective_database_url)
    search_engine = build_engine(settings)
    jobs = create_jobs(settings, engine, in_server=False, resources={search_jobs.RESOURCE: search_engine})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await jobs.start()
        console.print(f"worker ready: {len(jobs.registry.jobs)} job(s), {len(jobs.registry.periodic)} periodic")
        await stop.wait()
    finally:
        await jobs.stop()
        await search_engine.close()
        await engine.dispose()


def _check_signing_key(settings: Settings) -> None:
    """Refuse to go on (exit status 1, the reason on stderr) without a JWT signing key fit for ``LAOCAI_ENV``."""
    try:
        resolve_signing_key(settings)
    except WeakSigningKey as exc:
        raise click.ClickException(str(exc)) from exc


def _safe_url(url: str) -> str:
    """The database URL with its password masked, for logs."""
    return make_url(url).render_as_string(hide_password=True)


async def _upgrade(url: str, revision: str) -> None:
    async with maintenance_lock(url):
        await asyncio.to_thread(upgrade, url, revision)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION (default: head)."""
    settings = Settings()
    settings.ensure_data_dir()
    asyncio.run(_upgrade(settings.effective_database_url, revision))
    console.print(f"database at {revision}: {_safe_url(settings.effective_database_url)}")


@main.command("import-catalogue")
def import_catalogue() -> None:
    """Import (or update) the shipped catalogue; running it twice changes nothing. Running servers' search index
    catches up within 5 minutes (``search.converge_index``); ``laocai reindex`` does it at once."""
    settings = Settings()
    settings.ensure_data_dir()
    asyncio.run(_prepare(settings, only_if_empty=False))


@main.command("load-samples")
def load_samples_command() -> None:
    """Load (or refresh) the fictional sample properties: an owner account that cannot log in
    (samples@laocai.travel), about twenty properties flagged is_sample, their room types, and a year of open
    nights from today. Imports the catalogue first when the database is empty. Running it again adds only the
    nights that are missing; existing nights, with their bookings, are never changed."""
    settings = Settings()
    settings.ensure_data_dir()
    asyncio.run(_prepare(settings, only_if_empty=True, samples=True))


def _index_progress(progress: Progress) -> IndexProgress:
    task = progress.add_task("indexing", total=None)

    def step(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, description=f"indexed {done} of {total}")

    return step


def _progress_bar(*, transient: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )


async def _index_at_start(settings: Settings) -> None:
    """Build the search index when it is missing or stale (the catalogue is a few thousand documents: seconds).

    An engine that cannot be reached (Meilisearch down) does not stop the server: search answers 503 until it is
    back, and the periodic convergence job (``search.converge_index``) builds the index then.
    """
    engine = create_engine(settings.effective_database_url)
    search_engine = build_engine(settings)
    try:
        with _progress_bar(transient=True) as progress:
            report = await indexing.ensure_fresh(engine, search_engine, _index_progress(progress))
    except EngineUnavailable as exc:
        console.print(f"[yellow]search index not checked ({search_engine.name} unavailable: {exc}); search answers 503")
        return
    finally:
        await search_engine.close()
        await engine.dispose()
    if report is None:
        console.print(f"search index ({search_engine.name}) is up to date")
    else:
        console.print(
            f"search index ({search_engine.name}) built: {report.documents} documents "
            f"({report.destinations} destinations, {report.communes} communes, {report.properties} properties) "
            f"in {report.seconds:.2f} s"
        )


async def _reindex(settings: Settings) -> indexing.RebuildReport:
    url = settings.effective_database_url
    async with maintenance_lock(url):
        await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    search_engine = build_engine(settings)
    try:
        with _progress_bar() as progress:
            return await indexing.rebuild(engine, search_engine, _index_progress(progress))
    finally:
        await search_engine.close()
        await engine.dispose()


@main.command()
def reindex() -> None:
    """Rebuild the whole search index from the database (built aside, swapped in at the end) and store its
    fingerprint. Servers keep answering from the old index until the swap."""
    settings = Settings()
    settings.ensure_data_dir()
    started = time.perf_counter()
    engine_name = "meilisearch" if settings.meili_url else "tantivy"
    try:
        report = asyncio.run(_reindex(settings))
    except EngineUnavailable as exc:
        raise click.ClickException(f"the {engine_name} search engine is unavailable: {exc}") from exc
    console.print(
        f"reindexed ({engine_name}): {report.documents} documents ({report.destinations} destinations, "
        f"{report.communes} communes, {report.properties} properties) in {time.perf_counter() - started:.2f} s; "
        f"fingerprint {report.fingerprint[:12]}"
    )


async def _create_user(
    settings: Settings, *, email: str, password: str, display_name: str, locale: str, roles: list[str]
) -> str:
    url = settings.effective_database_url
    async with maintenance_lock(url):
        await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        async with unit_of_work(engine) as session:
            # The codec is unused here (no token is issued); the service needs one.
            codec = TokenCodec("", access_seconds=settings.access_token_seconds, refresh_seconds=60)
            user = await AuthService(session, codec, default_passwords()).create_user(
                email=email, password=password, display_name=display_name, locale=locale, roles=roles
            )
    finally:
        await engine.dispose()
    return f"created user {user.id} <{user.email}> with roles {', '.join(user.roles)}"


@main.command("create-user")
@click.option("--email", required=True, help="The account's email address.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLE_VALUES),
    help="A role to grant; repeat for several.",
)
@click.option("--display-name", default=None, help="Name shown in the apps (default: the email's local part).")
@click.option("--locale", default=DEFAULT_LOCALE, show_default=True, type=click.Choice(SUPPORTED_LOCALES))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (required).")
def create_user(
    email: str, roles: tuple[str, ...], display_name: str | None, locale: str, password_stdin: bool
) -> None:
    """Create an account with the given roles, for admins, editors, owners and scripts.

    The password is read from standard input, never from the command line (which other users can read in the
    process list), e.g. `printf %s "$PASSWORD" | laocai create-user --email a@b.vn --role admin --password-stdin`.
    An email that already has an account (in any spelling) is an error and changes nothing.
    """
    if not password_stdin:
        raise click.UsageError("the password is read from standard input only: pass --password-stdin")
    if sys.stdin.isatty():
        raise click.UsageError("--password-stdin: standard input is a terminal; pipe the password in")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("--password-stdin: standard input held no password")
    settings = Settings()
    settings.ensure_data_dir()
    try:
        message = asyncio.run(
            _create_user(
                settings,
                email=email,
                password=password,
                display_name=display_name or email.partition("@")[0] or email,
                locale=locale,
                roles=list(roles),
            )
        )
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(message)  # stdout, unwrapped: scripts read the new id from it


if __name__ == "__main__":
    main()
