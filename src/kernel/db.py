"""Database engine and unit-of-work setup, shared by every domain.

One mechanism works on both engines (see STACK-NOTES.md): on SQLite the connection runs in WAL mode with a
``busy_timeout``, pysqlite's own transaction handling is switched off and every transaction starts with
``BEGIN IMMEDIATE`` (a deferred ``BEGIN`` fails at once with "database is locked" under concurrent writers).
Table and constraint names follow one naming convention so Alembic migrations are deterministic.
"""

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import DateTime, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect, Engine, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
logger = logging.getLogger("laocai.db")

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (timestamps are stored and served in UTC)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on every engine: SQLite keeps no offset, so values are stored in UTC and read back
    with ``tzinfo=UTC``; naive input is refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite so that our BEGIN IMMEDIATE is the only BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def create_engine(url: str, *, echo: bool = False, read_only: bool = False, autocommit: bool = False) -> AsyncEngine:
    """Build the async engine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

    On SQLite, ``read_only=True`` starts transactions with a deferred ``BEGIN`` so that concurrent readers do not
    queue for the write lock (WAL readers see a consistent snapshot); writers must use the default engine.
    ``autocommit=True`` (PostgreSQL only; SQLite ignores it) gives an engine for writes of one statement each, atomic
    by themselves, whose caller is retried by its sender when a write fails (the webhook log: Stripe and the bank
    feed deliver again until they get a 2xx): no ``BEGIN``/``COMMIT``, no rollback when a connection goes back to
    the pool, and no pre-ping (each round trip costs ~0.2 ms of CPU here; a connection broken by a database
    restart fails one write, which is redelivered, and SQLAlchemy then replaces the pool's connections). Its pool
    does not overflow (a caller holds a connection for one statement, so waiting for one is safe, and connections
    are not opened and closed under load). Creating the engine does no I/O; the first connection is opened on
    first use.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            json_serializer=_json_text,
            json_deserializer=msgspec.json.decode,
        )
        sync_engine: Engine = engine.sync_engine
        event.listen(sync_engine, "connect", _sqlite_on_connect)
        event.listen(sync_engine, "begin", _sqlite_begin_deferred if read_only else _sqlite_begin_immediate)
        return engine
    if autocommit:
        return create_async_engine(
            url,
            echo=echo,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            pool_reset_on_return=None,
            pool_size=10,
            max_overflow=0,
            json_serializer=_json_text,
            json_deserializer=msgspec.json.decode,
        )
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        json_serializer=_json_text,
        json_deserializer=msgspec.json.decode,
    )


def _json_text(value: Any) -> str:
    """JSON columns written with ``msgspec`` (several times faster than ``json.dumps`` on the snapshots and
    stored answers a booking writes); the same JSON text, non-ASCII kept as UTF-8."""
    return msgspec.json.encode(value).decode()


class Reader(ABC):
    """Runs the SELECTs of one read request (SQLAlchemy Core statements, not ORM entities)."""

    __slots__ = ()

    @abstractmethod
    async def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]:
        """The buffered result of ``statement`` with its bind ``parameters``."""


class _SyncReader(Reader):
    """A ``Reader`` over a synchronous SQLite connection, run in the calling (event-loop) thread."""

    __slots__ = ("connection",)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]:
        return self.connection.execute(statement, parameters)


class _AsyncReader(Reader):
    """A ``Reader`` over an ``AsyncConnection``."""

    __slots__ = ("connection",)

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]:
        return await self.connection.execute(statement, parameters)


def connection_reader(connection: AsyncConnection) -> Reader:
    """A ``Reader`` over ``connection`` (e.g. a unit of work's ``await session.connection()``), so a write can render
    its result with the read path's statements inside its own transaction, seeing its own uncommitted changes."""
    return _AsyncReader(connection)


class ReadPath:
    """The data path of read-only requests (GETs of the catalogue): Core statements on a plain connection, no ORM
    session, no unit of work (issue 5 §6: the session, the greenlet bridge and the driver's thread hand-offs cost
    far more than the indexed reads themselves).

    - SQLite: a synchronous ``pysqlite`` engine on the same file whose statements run in the event-loop thread.
      An indexed read of a WAL database takes microseconds, less than one hand-off to aiosqlite's thread; WAL
      readers never wait for writers, so the loop is not blocked by the write lock. Each request reads inside one
      deferred ``BEGIN`` (one snapshot across its statements), rolled back at the end.
    - PostgreSQL: an ``AsyncConnection`` of a dedicated ``AUTOCOMMIT`` engine without pre-ping: no ``BEGIN``,
      ``ROLLBACK`` or ping round trips. At READ COMMITTED every statement takes its own snapshot anyway, so a
      transaction would add no consistency; a connection broken by a server restart fails one request and the
      pool is invalidated.

    JSON columns are decoded with ``msgspec`` (several times faster than ``json.loads`` on the small lists read here).

    Never write through a reader: the PostgreSQL one commits each statement.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.sync_engine: Engine | None = None
        self.async_engine: AsyncEngine | None = None
        if url.startswith("sqlite"):
            sync_url = url.replace("sqlite+aiosqlite:", "sqlite+pysqlite:", 1)
            engine = create_sync_engine(
                sync_url,
                echo=echo,
                json_deserializer=msgspec.json.decode,
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            self.sync_engine = engine
        else:
            self.async_engine = create_async_engine(
                url,
                echo=echo,
                isolation_level="AUTOCOMMIT",
                json_deserializer=msgspec.json.decode,
                pool_size=10,
                max_overflow=10,
            )

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Reader]:
        """A reader for one request; its connection goes back to the pool when the block ends."""
        if self.sync_engine is not None:
            with self.sync_engine.connect() as connection:
                # The snapshot is opened and ended on the driver connection itself: pysqlite's own transaction
                # handling is off (isolation_level None), so SQLAlchemy's autobegin emits nothing.
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute("BEGIN")
                try:
                    yield _SyncReader(connection)
                finally:
                    driver.execute("ROLLBACK")
            return
        assert self.async_engine is not None
        async with self.async_engine.connect() as async_connection:
            yield _AsyncReader(async_connection)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self.sync_engine is not None:
            self.sync_engine.dispose()
        if self.async_engine is not None:
            await self.async_engine.dispose()


@asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One unit of work: yields a session, commits when the block ends, rolls back on any error.

    A failed commit propagates as an exception, so a request whose write did not persist never answers 2xx.
    After a successful commit the callbacks registered on ``session.info["after_commit"]`` (async callables of no
    argument, e.g. ``src.kernel.jobs.enqueue``'s sender) are awaited in order; after a rollback they are dropped.
    A session that registered none pays one dictionary lookup.
    """
    async with AsyncSession(engine, expire_on_commit=False) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            await session.rollback()
            raise
        callbacks = session.info.pop(AFTER_COMMIT, None)
        if callbacks:
            await _run_after_commit(callbacks)


#: Key of ``session.info`` holding the async callables to await once the unit of work has committed.
AFTER_COMMIT = "after_commit"


async def _run_after_commit(callbacks: list[Callable[[], Awaitable[None]]]) -> None:
    """Await each callback; the transaction is already committed, so a failure is logged, never raised (the
    caller's work persisted and must not answer as failed)."""
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            logger.exception("after-commit callback %r failed", callback)


#: PostgreSQL SQLSTATEs of a lock that could not be had: ``lock_not_available`` (``lock_timeout`` expired) and
#: ``deadlock_detected``; both roll the transaction back and leave nothing changed.
_LOCK_SQLSTATES = frozenset({"55P03", "40P01"})


def is_lock_contention(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy ``DBAPIError``) means the statement gave up waiting for a lock: PostgreSQL's
    ``lock_timeout`` or a deadlock, or SQLite's "database is locked" after ``busy_timeout``."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate in _LOCK_SQLSTATES:
        return True
    return "database is locked" in str(original).lower()


async def set_lock_timeout(session: AsyncSession, milliseconds: int) -> None:
    """Bound how long this transaction's statements wait for a row lock (PostgreSQL ``SET LOCAL lock_timeout``;
    the setting ends with the transaction). On SQLite the write lock is taken at ``BEGIN IMMEDIATE`` and bounded
    by ``busy_timeout``; nothing is sent."""
    if is_postgresql(session):
        statement = _LOCK_TIMEOUTS.get(milliseconds)
        if statement is None:
            statement = _LOCK_TIMEOUTS[milliseconds] = text(f"SET LOCAL lock_timeout = {int(milliseconds)}")
        await (await session.connection()).execute(statement)


#: ``SET LOCAL lock_timeout`` statements by milliseconds, built once (a reused statement is not re-keyed).
_LOCK_TIMEOUTS: dict[int, Any] = {}


def dialect_of(session: AsyncSession) -> str:
    """``"postgresql"`` or ``"sqlite"``: the engine ``session`` is bound to (the only two this service runs on)."""
    return "postgresql" if session.bind is not None and session.bind.dialect.name == "postgresql" else "sqlite"


def is_postgresql(session: AsyncSession) -> bool:
    """Whether ``session`` is bound to PostgreSQL (else SQLite)."""
    return dialect_of(session) == "postgresql"


def upsert_insert(session: AsyncSession) -> Callable[..., Any]:
    """The ``insert`` of the session's dialect, which has ``on_conflict_do_nothing``/``on_conflict_do_update``
    (``INSERT ... ON CONFLICT``, PostgreSQL and SQLite ≥ 3.24 alike)."""
    return postgresql_insert if is_postgresql(session) else sqlite_insert


#: Key of the PostgreSQL advisory lock held while migrating or importing (any constant unique to this service).
MAINTENANCE_LOCK_KEY = 0x1A0CA1


@asynccontextmanager
async def maintenance_lock(url: str) -> AsyncIterator[None]:
    """Serialise schema migrations and catalogue imports across processes sharing the database at ``url``.

    On PostgreSQL a session-level advisory lock (``pg_advisory_lock``) is held for the block, so two servers
    starting at once on an empty database migrate and import one after the other instead of colliding. On SQLite
    every writer already starts with ``BEGIN IMMEDIATE``, which serialises them; nothing more is taken.
    """
    if url.startswith("sqlite"):
        yield
        return
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MAINTENANCE_LOCK_KEY})
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MAINTENANCE_LOCK_KEY})
    finally:
        await engine.dispose()


async def driver_fetchrow(engine: AsyncEngine, sql: str, *arguments: Any) -> Any:
    """Run one statement of PostgreSQL SQL (``$1``-style parameters) straight on the asyncpg connection of a pooled
    connection of ``engine`` (best an ``autocommit=True`` engine; asyncpg outside a transaction commits the
    statement by itself on any engine) and return its first row or ``None``. For the hottest one-statement writes
    only: SQLAlchemy's execution path costs ~0.3 ms of CPU per statement here (issue 8 profile of the webhook log),
    the driver's ~0.2 ms; values go to asyncpg as they are (aware datetimes, str, int)."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return await raw.driver_connection.fetchrow(sql, *arguments)  # type: ignore[union-attr]
