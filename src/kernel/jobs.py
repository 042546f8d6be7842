"""Background jobs: declared once, enqueued inside a unit of work, sent only after it commits.

The one interface every domain uses (a domain's ``jobs.py`` exports a ``register(registry)`` function that the
assembly, ``src/app.py``, calls; the kernel imports no domain)::

    REINDEX = Job("search.reindex_place", reindex_place, RetryPolicy(retries=5, backoff_seconds=2))

    async def reindex_place(ctx: JobContext, *, place_id: int) -> None:   # idempotent: may run more than once
        async with unit_of_work(ctx.engine) as session: ...

    def register(registry: JobRegistry) -> None:
        registry.add(REINDEX)
        registry.add_periodic(PeriodicJob("search.reindex_changed", reindex_changed, cron="*/10 * * * *"))

    # in a service, during the request's unit of work (the session the request owns):
    enqueue(session, REINDEX, place_id=place.id)

Delivery
    ``enqueue`` only records the job on ``session.info``. ``unit_of_work`` (``src/kernel/db.py``) runs the session's
    after-commit callbacks once its commit succeeded, and that is when the job is handed to the backend; a rollback
    (or a failed commit) discards it. A job enqueued inside a savepoint that is rolled back is discarded too (an
    instance-level ``after_soft_rollback`` listener, added on the first ``enqueue`` of a session, so a request that
    enqueues nothing pays one ``dict`` lookup). Why not a global ``after_commit`` listener that sends: that hook is
    synchronous and would have to fire and forget; sending from ``unit_of_work`` is awaited, so the job is in the
    queue before the response leaves, and the same holds for CLI commands and jobs that open a unit of work.

    Delivery is at least once: a job may run again after a crash, a timeout or a failure (``RetryPolicy``), so every
    handler must be idempotent (upsert by a natural key, conditional updates, "already done" checks).

Backends
    - ``InProcessRunner`` (embedded default, no ``LAOCAI_REDIS_URL``): an asyncio queue inside ``laocai serve`` with
      bounded concurrency, per-attempt timeout, retries with exponential backoff and a clean shutdown. Its queue
      lives in memory: jobs not yet run when the process dies are lost (pair each one-shot job with a periodic sweep
      that converges, ARCHITECTURE.md rule 4).
    - ``SaqBackend`` (``LAOCAI_REDIS_URL`` set): jobs go to Redis through SAQ; ``laocai worker`` (or ``laocai serve``
      with ``LAOCAI_WORKER_IN_PROCESS``) runs ``litestar_saq.Worker``. SAQ keeps an active job in Redis until it
      finishes; a worker that dies mid-job leaves it "active", and any worker's sweep re-queues it once it is past
      its timeout (``timeout_seconds``) or heartbeat, so the job runs again.

Periodic jobs (cron syntax, UTC, ``croniter``: five fields, or six with seconds last)
    - ``scope="global"``: runs once per period however many processes are up. Every process that runs a worker
      also runs a ``PeriodicScheduler``; at each period start each scheduler tries to claim the period with one
      conditional ``UPDATE periodic_job SET last_period = :p WHERE name = :n AND last_period < :p``: exactly one
      process wins on both SQLite and PostgreSQL, and the winner enqueues the run as an ordinary job (so SAQ's
      retries and sweep apply to it). SAQ's own ``CronJob`` is not used: it deduplicates only while the job is
      incomplete (a scheduler that computed the period just before another worker finished the run re-enqueues
      it), it does not exist on the in-process runner, and it keeps no last-run time to show.
    - ``scope="process"``: work that concerns one process's memory (the response-cache sweep of in-process
      stores) runs in every server process at each period, without a claim and without a queue.

Visibility: ``JobSystem.report()`` gives counts and times only (never payloads) for ``/health/ready``.
"""

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from weakref import WeakKeyDictionary

from croniter import croniter
from sqlalchemy import BigInteger, event, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import Column, Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.db import AFTER_COMMIT, UTCDateTime, unit_of_work, utcnow

logger = logging.getLogger("laocai.jobs")

# --------------------------------------------------------------------------------------------------- declaration


@dataclass(frozen=True)
class RetryPolicy:
    """How a job is retried.

    Attributes:
        retries: attempts in total (1 = never retried), ≥ 1.
        backoff_seconds: delay before the first retry; each later retry waits twice as long (exponential backoff
            with full jitter: a random delay between 0 and the computed one), capped by ``max_backoff_seconds``.
        max_backoff_seconds: upper bound of one retry delay, seconds.
        timeout_seconds: one attempt may run this long (seconds, ≥ 1) before it is cancelled and counted as a
            failure. On SAQ it is also how long an attempt of a dead worker stays "active" before a sweep re-queues
            it: keep it above the job's real duration.
    """

    retries: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    timeout_seconds: int = 60

    def __post_init__(self) -> None:
        if self.retries < 1 or self.timeout_seconds < 1 or self.backoff_seconds < 0:
            raise ValueError(f"invalid retry policy: {self}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` (1-based) failed."""
        return random.uniform(0, min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(attempt - 1, 0)))


@dataclass(frozen=True)
class JobContext:
    """What a handler receives besides its keyword arguments.

    Attributes:
        engine: the process's write engine; a handler opens its own ``unit_of_work(ctx.engine)``.
        name: the job's name; attempt: 1 for the first attempt, 2 for the first retry...
        resources: process resources the assembly shares with handlers (``"stores"``: the app's store registry,
            in server processes only).
        period: for a global periodic run, the start of its period (epoch seconds, UTC); otherwise ``None``.
    """

    engine: AsyncEngine
    name: str
    attempt: int
    resources: Mapping[str, Any]
    period: int | None = None


#: A handler: ``async def handler(ctx: JobContext, **kwargs) -> None``; kwargs are JSON values (SAQ stores them).
Handler = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class Job:
    """A job declaration: a unique dotted ``name`` (``domain.verb_object``), its handler and retry policy."""

    name: str
    handler: Handler
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class PeriodicJob:
    """A job run on a cron schedule (UTC). ``scope``: ``"global"`` once per period across every process,
    ``"process"`` in every server process (see the module docstring). Raises ``ValueError`` for a bad cron."""

    name: str
    handler: Handler
    cron: str
    scope: Literal["global", "process"] = "global"
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(retries=1))

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.cron):
            raise ValueError(f"invalid cron expression for {self.name}: {self.cron!r}")

    @property
    def job(self) -> Job:
        return Job(self.name, self.handler, self.retry)

    def period_after(self, moment: float) -> int:
        """The first period start strictly after ``moment`` (epoch seconds), as integer epoch seconds."""
        return int(croniter(self.cron, datetime.fromtimestamp(moment, UTC)).get_next(float))


class JobRegistry:
    """Every job of the application, assembled by ``src/app.py`` from each domain's ``register`` function."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.periodic: dict[str, PeriodicJob] = {}

    def add(self, job: Job) -> Job:
        """Declare ``job``; ``ValueError`` if another job already has its name."""
        if job.name in self.jobs and self.jobs[job.name] != job:
            raise ValueError(f"job {job.name!r} is declared twice")
        self.jobs[job.name] = job
        return job

    def add_periodic(self, periodic: PeriodicJob) -> PeriodicJob:
        """Declare a periodic job (its handler is also an ordinary job of the same name)."""
        if periodic.scope == "global":
            self.add(periodic.job)
        self.periodic[periodic.name] = periodic
        return periodic

    def get(self, name: str) -> Job:
        try:
            return self.jobs[name]
        except KeyError:
            raise LookupError(f"unknown job {name!r}: declare it in the registry") from None


# ------------------------------------------------------------------------------------------------------- storage


class PeriodicJobState(SQLModel, table=True):
    """One row per global periodic job: the last claimed period and how its last run went (shown in health)."""

    __tablename__ = "periodic_job"

    name: str = Field(primary_key=True, max_length=120)
    last_period: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))  # epoch seconds
    last_started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_status: str | None = Field(default=None, max_length=16)  # running, ok or failed
    failures: int = Field(default=0)  # failed runs since the row was created


async def claim_period(engine: AsyncEngine, name: str, period: int) -> bool:
    """Claim ``period`` (epoch seconds) of the periodic job ``name``: ``True`` for exactly one caller per period.

    The row is created on first use (an insert that loses the race is ignored); the claim itself is one conditional
    ``UPDATE ... WHERE last_period < :p``, which the database serialises on both engines.
    """
    async with unit_of_work(engine) as session:
        connection = await session.connection()
        claimed = await connection.execute(
            update(PeriodicJobState)
            .where(PeriodicJobState.name == name, PeriodicJobState.last_period < period)  # type: ignore[arg-type]
            .values(last_period=period, last_started_at=utcnow(), last_status="running")
        )
        if claimed.rowcount == 1:
            return True
        exists = await connection.scalar(select(PeriodicJobState.name).where(PeriodicJobState.name == name))
        if exists is not None:
            return False
    with contextlib.suppress(IntegrityError):  # another process inserted it first: it holds the claim
        async with unit_of_work(engine) as session:
            session.add(
                PeriodicJobState(name=name, last_period=period, last_started_at=utcnow(), last_status="running")
            )
            return True
    return False


async def record_run(engine: AsyncEngine, name: str, *, ok: bool) -> None:
    """Store the outcome of a global periodic run (``last_finished_at``, ``last_status``, ``failures``)."""
    values: dict[str, Any] = {"last_finished_at": utcnow(), "last_status": "ok" if ok else "failed"}
    if not ok:
        values["failures"] = PeriodicJobState.failures + 1
    async with unit_of_work(engine) as session:
        connection = await session.connection()
        await connection.execute(update(PeriodicJobState).where(PeriodicJobState.name == name).values(**values))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ enqueue after commit


@dataclass(frozen=True)
class PendingJob:
    """A job waiting for its unit of work to commit. ``key``: a deduplication key (SAQ keeps one incomplete job per
    key; the in-process runner ignores it)."""

    name: str
    kwargs: dict[str, Any]
    key: str | None
    transaction: SessionTransaction | None
    period: int | None = None


class Backend(Protocol):
    """Where committed jobs go: ``InProcessRunner`` or ``SaqBackend``."""

    registry: "JobRegistry"

    async def send(self, jobs: Iterable[PendingJob]) -> None: ...


_BACKENDS: "WeakKeyDictionary[Engine, Backend]" = WeakKeyDictionary()
_PENDING = "laocai.jobs.pending"


def bind(engine: AsyncEngine, backend: Backend | None) -> None:
    """Send jobs enqueued in sessions of ``engine`` to ``backend`` (``None`` unbinds). Called by the assembly."""
    if backend is None:
        _BACKENDS.pop(engine.sync_engine, None)
    else:
        _BACKENDS[engine.sync_engine] = backend


def enqueue(session: AsyncSession, job: Job | str, *, dedup_key: str | None = None, **kwargs: Any) -> None:
    """Queue ``job`` with ``kwargs`` (JSON values) to be sent once ``session``'s unit of work commits.

    Nothing is sent if the unit of work rolls back, or if the savepoint open at this call is rolled back
    (services never commit: the unit of work's one commit is what sends). Should the backend refuse the job after
    the commit (Redis down), the error is logged and the job is lost; the periodic sweep paired with every one-shot
    job (ARCHITECTURE.md rule 4) converges instead.
    ``dedup_key``: on Redis, a job whose key is already queued or running is not queued again (e.g.
    ``f"reindex:{place_id}"``); the in-process runner ignores it.

    Raises:
        RuntimeError: no backend is bound to the session's engine (a configuration error, never silent).
        LookupError: ``job`` is not in the registry. TypeError: a keyword argument is not JSON-serialisable.
        Both are raised here, inside the unit of work, rather than after its commit when nothing can be undone.
    """
    name = job if isinstance(job, str) else job.name
    sync_session = session.sync_session
    bound = sync_session.get_bind()
    engine = bound if isinstance(bound, Engine) else bound.engine
    backend = _BACKENDS.get(engine)
    if backend is None:
        raise RuntimeError(f"job {name!r} enqueued on an engine with no job backend bound (jobs.bind)")
    backend.registry.get(name)
    arguments = json.loads(json.dumps(kwargs))  # what a handler receives is JSON on every backend (tuples -> lists)
    pending: list[PendingJob] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(sync_session, "after_soft_rollback", _discard_rolled_back)

        async def send() -> None:
            jobs = session.info.pop(_PENDING, [])
            if jobs:
                await backend.send(jobs)

        session.info.setdefault(AFTER_COMMIT, []).append(send)
    transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
    pending.append(PendingJob(name, arguments, dedup_key, transaction))


async def dispatch(engine: AsyncEngine, job: Job | str, *, dedup_key: str | None = None, **kwargs: Any) -> None:
    """Send ``job`` now, for an effect already committed outside a session's unit of work (one autocommitted
    statement on a connection, as the webhook log's insert is). ``RuntimeError``/``LookupError``/``TypeError`` as
    ``enqueue``; should the backend refuse the job, the error is logged, not raised (the effect persisted: the sweep
    paired with the job converges)."""
    name = job if isinstance(job, str) else job.name
    backend = _BACKENDS.get(engine.sync_engine)
    if backend is None:
        raise RuntimeError(f"job {name!r} dispatched on an engine with no job backend bound (jobs.bind)")
    backend.registry.get(name)
    arguments = json.loads(json.dumps(kwargs))
    try:
        await backend.send([PendingJob(name, arguments, dedup_key, None)])
    except Exception:
        logger.exception("job %s could not be sent after its effect committed", name)


def _discard_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Drop the jobs enqueued inside ``previous_transaction`` (or a savepoint nested in it), just rolled back."""
    pending: list[PendingJob] | None = session.info.get(_PENDING)
    if not pending:
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    pending[:] = [job for job in pending if not inside(job.transaction)]


# ---------------------------------------------------------------------------------------------- in-process runner


async def run_handler(
    job: Job,
    engine: AsyncEngine,
    attempt: int,
    resources: Mapping[str, Any],
    period: int | None = None,
    **kwargs: Any,
) -> None:
    """Run one attempt of ``job`` (within its timeout); raises what the handler raised or ``TimeoutError``."""
    context = JobContext(engine=engine, name=job.name, attempt=attempt, resources=resources, period=period)
    await asyncio.wait_for(job.handler(context, **kwargs), timeout=job.retry.timeout_seconds)


class InProcessRunner:
    """The embedded backend: runs committed jobs in this process's event loop.

    ``concurrency`` attempts run at once at most; a failed attempt (exception or timeout) is retried after its
    backoff delay until ``retry.retries`` attempts were made, then counted in ``failed`` and logged. ``stop``
    refuses new jobs, lets running attempts finish for ``grace_seconds`` and cancels the rest.
    """

    def __init__(
        self,
        registry: JobRegistry,
        engine: AsyncEngine,
        *,
        concurrency: int = 4,
        resources: Mapping[str, Any] | None = None,
        on_finished: Callable[[str, bool], Awaitable[None]] | None = None,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.resources: Mapping[str, Any] = resources or {}
        self.on_finished = on_finished
        self._queue: asyncio.Queue[tuple[PendingJob, int]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._delayed: set[asyncio.TimerHandle] = set()
        self.concurrency = concurrency
        self.active = 0
        self.completed = 0
        self.failed = 0
        self.retried = 0
        self._stopping = False

    @property
    def queued(self) -> int:
        """Jobs waiting to run, retries waiting for their delay included."""
        return self._queue.qsize() + len(self._delayed)

    async def start(self) -> None:
        self._stopping = False
        self._workers = [asyncio.create_task(self._work(), name=f"job-runner-{i}") for i in range(self.concurrency)]

    async def send(self, jobs: Iterable[PendingJob]) -> None:
        """Queue committed jobs (``LookupError`` for a name not in the registry, before anything is queued)."""
        batch = list(jobs)
        for job in batch:
            self.registry.get(job.name)
        if self._stopping:
            logger.warning("job runner stopping: %d job(s) dropped", len(batch))
            return
        for job in batch:
            self._queue.put_nowait((job, 1))

    async def _work(self) -> None:
        while True:
            pending, attempt = await self._queue.get()
            job = self.registry.get(pending.name)
            self.active += 1
            try:
                await run_handler(job, self.engine, attempt, self.resources, pending.period, **pending.kwargs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt < job.retry.retries and not self._stopping:
                    delay = job.retry.delay(attempt)
                    logger.warning("job %s attempt %d failed (%r); retry in %.1f s", job.name, attempt, exc, delay)
                    self.retried += 1
                    self._later(delay, pending, attempt + 1)
                else:
                    self.failed += 1
                    logger.error("job %s failed after %d attempt(s)", job.name, attempt, exc_info=exc)
                    await self._finished(job.name, ok=False)
            else:
                self.completed += 1
                await self._finished(job.name, ok=True)
            finally:
                self.active -= 1
                self._queue.task_done()

    async def _finished(self, name: str, *, ok: bool) -> None:
        if self.on_finished is not None:
            try:
                await self.on_finished(name, ok)
            except Exception:
                logger.exception("could not record the outcome of job %s", name)

    def _later(self, delay: float, pending: PendingJob, attempt: int) -> None:
        loop = asyncio.get_running_loop()

        def put() -> None:
            self._delayed.discard(handle)
            if not self._stopping:
                self._queue.put_nowait((pending, attempt))

        handle = loop.call_later(delay, put)
        self._delayed.add(handle)

    async def drain(self, seconds: float) -> None:
        """Wait until no job is queued or running (tests, and a graceful stop); ``TimeoutError`` after ``seconds``."""
        deadline = time.monotonic() + seconds
        while self._queue.qsize() or self.active or self._delayed:
            if time.monotonic() > deadline:
                raise TimeoutError("jobs still running")
            await asyncio.sleep(0.02)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        self._stopping = True
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()
        with contextlib.suppress(TimeoutError):
            await self.drain(grace_seconds)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []


# ---------------------------------------------------------------------------------------------------------- SAQ


class SaqBackend:
    """Sends committed jobs to a SAQ queue on Redis (``saq.Queue.from_url``), with each job's retry policy."""

    def __init__(self, registry: JobRegistry, redis_url: str, queue_name: str) -> None:
        from saq import Queue

        self.registry = registry
        self.queue = Queue.from_url(redis_url, name=queue_name)

    async def connect(self) -> None:
        await self.queue.connect()

    async def disconnect(self) -> None:
        await self.queue.disconnect()

    async def send(self, jobs: Iterable[PendingJob]) -> None:
        for pending in jobs:
            job = self.registry.get(pending.name)
            policy = job.retry
            options: dict[str, Any] = {
                "timeout": policy.timeout_seconds,
                "retries": policy.retries,
                "retry_delay": policy.backoff_seconds,
                "retry_backoff": policy.max_backoff_seconds,
            }
            if pending.key is not None:
                options["key"] = pending.key
            # SAQ puts unknown keyword arguments into the job's kwargs and known ones into its options: pass the
            # handler's kwargs as one dict so that an argument named like an option (``timeout``) stays an argument.
            from saq import Job as SaqJob

            meta = {"period": pending.period} if pending.period is not None else {}
            saq_job = SaqJob(function=job.name, kwargs=dict(pending.kwargs), meta=meta, **options)
            await self.queue.enqueue(saq_job)

    def worker(
        self,
        engine: AsyncEngine,
        *,
        concurrency: int,
        sweep_seconds: int,
        resources: Mapping[str, Any] | None = None,
        on_finished: Callable[[str, bool], Awaitable[None]] | None = None,
        separate_process: bool = True,
    ) -> Any:
        """A ``litestar_saq.Worker`` running every registered job. ``sweep_seconds``: how often it looks for jobs
        abandoned by dead workers (an abandoned attempt is re-queued once past its timeout)."""
        from litestar_saq import Worker

        shared: Mapping[str, Any] = resources or {}

        def wrap(job: Job) -> tuple[str, Callable[..., Awaitable[None]]]:
            async def function(ctx: Any, **kwargs: Any) -> None:
                saq_job = ctx["job"]
                period = saq_job.meta.get("period")
                context = JobContext(
                    engine=engine, name=job.name, attempt=int(saq_job.attempts), resources=shared, period=period
                )
                try:
                    await job.handler(context, **kwargs)
                except Exception:
                    if on_finished is not None and not saq_job.retryable:
                        await on_finished(job.name, False)
                    raise
                if on_finished is not None:
                    await on_finished(job.name, True)

            function.__qualname__ = job.name
            return job.name, function

        return Worker(
            self.queue,
            [wrap(job) for job in self.registry.jobs.values()],
            concurrency=concurrency,
            timers={"sweep": sweep_seconds, "schedule": 1, "abort": 1, "worker_info": 10},
            separate_process=separate_process,
            enable_heartbeat_manager=False,
        )

    async def counts(self) -> dict[str, int]:
        info = await self.queue.info()
        workers: dict[str, Any] = dict(info["workers"])
        failed = sum(int((worker.get("stats") or {}).get("failed", 0)) for worker in workers.values())
        return {
            "queued": int(info["queued"]),
            "active": int(info["active"]),
            "scheduled": int(info["scheduled"]),
            "failed": failed,
            "workers": len(workers),
        }


# ------------------------------------------------------------------------------------------------------ schedule


class PeriodicScheduler:
    """Fires the registry's periodic jobs of the given ``scope`` at each period start (UTC).

    ``scope="global"``: claims the period in ``periodic_job`` and, when it wins, hands the run to ``dispatch`` (the
    backend). ``scope="process"``: runs the handler here, in every process, with no claim.
    """

    def __init__(
        self,
        registry: JobRegistry,
        engine: AsyncEngine,
        scope: Literal["global", "process"],
        dispatch: Backend | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.jobs = [p for p in registry.periodic.values() if p.scope == scope]
        self.engine = engine
        self.scope = scope
        self.dispatch = dispatch
        self.resources: Mapping[str, Any] = resources or {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        #: process scope: name -> (epoch seconds of the last run's end, whether it succeeded); failure counts.
        self.last_run: dict[str, tuple[float, bool]] = {}
        self.failures: dict[str, int] = {}

    def start(self) -> None:
        if self.jobs and self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name=f"periodic-{self.scope}")

    async def stop(self) -> None:
        """Stop after the run in progress, if any (it is not cancelled: a cancelled claim or connection attempt
        would leak its connection)."""
        if self._task is not None:
            self._stopping.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        upcoming = {p.name: p.period_after(time.time()) for p in self.jobs}
        by_name = {p.name: p for p in self.jobs}
        while not self._stopping.is_set():
            name = min(upcoming, key=upcoming.__getitem__)
            period = upcoming[name]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, period - time.time()))
            if self._stopping.is_set():
                return
            upcoming[name] = by_name[name].period_after(max(time.time(), period))
            try:
                await self._fire(by_name[name], period)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("periodic job %s: period %d not fired", name, period)

    async def _fire(self, periodic: PeriodicJob, period: int) -> None:
        if self.scope == "process":
            ok = True
            try:
                await run_handler(periodic.job, self.engine, 1, self.resources)
            except Exception:
                ok = False
                self.failures[periodic.name] = self.failures.get(periodic.name, 0) + 1
                logger.exception("periodic job %s failed", periodic.name)
            self.last_run[periodic.name] = (time.time(), ok)
            return
        if self.dispatch is None or not await claim_period(self.engine, periodic.name, period):
            return
        await self.dispatch.send([PendingJob(periodic.name, {}, f"{periodic.name}@{period}", None, period)])


# ------------------------------------------------------------------------------------------------- the assembly


class JobSystem:
    """The jobs of one process: the backend sessions are bound to, the runner or SAQ worker, the schedulers.

    Args:
        registry: every job; engine: the write engine handlers get; redis_url: empty for the in-process runner.
        run_worker: run jobs in this process (always true without Redis: nothing else would run them).
        process_periodic: run ``scope="process"`` periodic jobs here (server processes).
    """

    def __init__(
        self,
        registry: JobRegistry,
        engine: AsyncEngine,
        *,
        redis_url: str = "",
        queue_name: str = "laocai",
        run_worker: bool = True,
        process_periodic: bool = True,
        concurrency: int = 4,
        sweep_seconds: int = 60,
        shutdown_seconds: float = 10.0,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.resources: Mapping[str, Any] = resources or {}
        self.shutdown_seconds = shutdown_seconds
        self.run_worker = run_worker or not redis_url
        self.saq: SaqBackend | None = None
        self.runner: InProcessRunner | None = None
        self._worker: Any = None
        self._worker_task: asyncio.Task[None] | None = None
        if redis_url:
            self.saq = SaqBackend(registry, redis_url, queue_name)
            self.backend: Backend = self.saq
        else:
            self.runner = InProcessRunner(
                registry, engine, concurrency=concurrency, resources=self.resources, on_finished=self._record
            )
            self.backend = self.runner
        self.global_scheduler = PeriodicScheduler(registry, engine, "global", dispatch=self.backend)
        self.process_scheduler = (
            PeriodicScheduler(registry, engine, "process", resources=self.resources) if process_periodic else None
        )
        self._concurrency = concurrency
        self._sweep_seconds = sweep_seconds
        self._connected = False

    async def _record(self, name: str, ok: bool) -> None:
        periodic = self.registry.periodic.get(name)
        if periodic is not None and periodic.scope == "global":
            await record_run(self.engine, name, ok=ok)

    async def start(self) -> None:
        """Bind the backend to the engine, start the runner or SAQ worker and the schedulers of this process."""
        bind(self.engine, self.backend)
        if self.saq is not None:
            await self.saq.connect()
            self._connected = True
            if self.run_worker:
                self._worker = self.saq.worker(
                    self.engine,
                    concurrency=self._concurrency,
                    sweep_seconds=self._sweep_seconds,
                    resources=self.resources,
                    on_finished=self._record,
                )
                self._worker.SIGNALS = []  # the host process (uvicorn, the CLI) owns the signals
                self._worker_task = asyncio.create_task(self._worker.start(), name="saq-worker")
        elif self.runner is not None:
            await self.runner.start()
        if self.run_worker:
            self.global_scheduler.start()
        if self.process_scheduler is not None:
            self.process_scheduler.start()

    async def wait(self) -> None:
        """Block until the SAQ worker stops (``laocai worker``); returns at once without one."""
        if self._worker_task is not None:
            await self._worker_task

    async def stop(self) -> None:
        """Stop schedulers, let running jobs finish for ``shutdown_seconds``, then cancel them and disconnect."""
        await self.global_scheduler.stop()
        if self.process_scheduler is not None:
            await self.process_scheduler.stop()
        if self.runner is not None:
            await self.runner.stop(self.shutdown_seconds)
        if self._worker is not None:
            # SAQ's own grace period also waits for its idle loops (a blocking dequeue, the sweep timer), so an
            # idle worker would always take the whole grace: wait for the running jobs only, then stop at once
            # (SAQ re-queues a job it cancels: another worker retries it).
            deadline = time.monotonic() + self.shutdown_seconds
            while self._worker.job_task_contexts and time.monotonic() < deadline:  # noqa: ASYNC110  (SAQ offers no event for it)
                await asyncio.sleep(0.05)
            self._worker._shutdown_grace_period_s = None
            await self._worker.stop()
            if self._worker_task is not None:
                await asyncio.gather(self._worker_task, return_exceptions=True)
        if self.saq is not None:
            try:
                await self.saq.disconnect()
            except Exception as exc:  # Redis down at shutdown: nothing is left to release
                if self._connected:
                    logger.warning("job queue disconnect failed: %s: %s", type(exc).__name__, exc)
            self._connected = False
        bind(self.engine, None)

    async def report(self) -> dict[str, Any]:
        """Counts and times for ``/health/ready`` (no payloads): backend, queue depth, failures, periodic runs.

        ``failed`` counts failed jobs since start: of this process on the in-process runner, of the live workers
        on SAQ. Raises what the queue or the database raised.
        """
        if self.runner is not None:
            counts = {
                "queued": self.runner.queued,
                "active": self.runner.active,
                "failed": self.runner.failed,
                "workers": 1,
            }
            backend = "in-process"
        else:
            assert self.saq is not None
            counts = await self.saq.counts()
            backend = "redis"
        periodic: dict[str, dict[str, Any]] = {}
        global_names = [p.name for p in self.registry.periodic.values() if p.scope == "global"]
        if global_names:
            async with AsyncSession(self.engine) as session:
                rows = (await session.exec(select(PeriodicJobState))).all()
            stored = {row.name: row for row in rows}
            for name in global_names:
                row = stored.get(name)
                periodic[name] = {
                    "scope": "global",
                    "last_run_at": row.last_finished_at if row else None,
                    "last_status": row.last_status if row else None,
                    "failures": row.failures if row else 0,
                }
        if self.process_scheduler is not None:
            for p in self.process_scheduler.jobs:
                ran = self.process_scheduler.last_run.get(p.name)
                failures = self.process_scheduler.failures.get(p.name, 0)
                periodic[p.name] = {
                    "scope": "process",
                    "last_run_at": datetime.fromtimestamp(ran[0], UTC) if ran else None,
                    "last_status": ("ok" if ran[1] else "failed") if ran else None,
                    "failures": failures,
                }
        return {"backend": backend, **counts, "periodic": periodic}
