"""Idempotency keys for writes that create money or inventory effects (API.md; the scheme of Stripe's API and of the
IETF draft "The Idempotency-Key HTTP Header Field").

A stored key remembers the first successful response to ``(scope, key)``. ``scope`` is the caller: a user id when
authenticated, else the anonymous scope; ``fingerprint`` is the SHA-256 of the method, the route and the canonical
request body. The same key and body replays the stored status and body; the same key with another body is 422; a
concurrent duplicate is answered 409 (or, once the first committed, the replay), never done twice. Only successful
answers are kept. Keys expire (``expires_at``) and a periodic job deletes them.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.db import UTCDateTime, dialect_of, unit_of_work, utcnow
from src.kernel.errors import BadRequest, DomainError, InvalidParameter
from src.kernel.i18n import N_
from src.kernel.jobs import JobContext, PeriodicJob


class IdempotencyRecord(SQLModel, table=True):
    """The stored outcome of one idempotent request: ``status_code`` and the JSON ``response`` body."""

    __tablename__ = "idempotency_key"

    scope: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    route: str = Field(max_length=200)
    status_code: int
    response: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


#: How long a key is remembered (Stripe keeps keys 24 hours; the IETF draft leaves it to the server).
KEY_TTL = timedelta(hours=24)
#: Longest key accepted; clients should send a random UUID (RFC 9562) per logical operation.
MAX_KEY_LENGTH = 255
#: Scope of callers without an account: keys are then shared by every anonymous caller, which is safe only because
#: keys are unguessable random values (a UUIDv4 has 122 random bits); the replayed body is what that key's first
#: caller received.
ANONYMOUS_SCOPE = "anonymous"
#: Header a replayed response carries (as Stripe's API does), so a client can tell a replay from a first answer.
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_records = IdempotencyRecord.__table__  # type: ignore[attr-defined]


class IdempotencyKeyReused(DomainError):
    """The key was used before with another request body (422, as the IETF draft says)."""

    status = 422
    code = "idempotency_key_reused"
    title = N_("Idempotency key already used for another request")


class IdempotencyKeyInProgress(DomainError):
    """A request with this key is still being processed (409): retry later to get its response."""

    status = 409
    code = "idempotency_key_in_progress"
    title = N_("A request with this idempotency key is in progress")


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored first response to replay: its status code and JSON body."""

    status_code: int
    body: dict[str, Any]


def scope_of(user_id: UUID | None) -> str:
    """The scope of a caller's keys: ``user:<uuid>`` for an account, ``ANONYMOUS_SCOPE`` otherwise."""
    return f"user:{user_id}" if user_id is not None else ANONYMOUS_SCOPE


def check_key(value: str | None) -> str:
    """The ``Idempotency-Key`` header value; ``BadRequest`` (400) when missing, ``InvalidParameter`` (422) when
    longer than ``MAX_KEY_LENGTH`` or holding characters outside visible ASCII."""
    if value is None or value == "":
        raise BadRequest(
            "this request needs an Idempotency-Key header (a random UUID per operation)",
            errors=[{"field": "Idempotency-Key", "source": "header", "message": "required"}],
        )
    if not _KEY.match(value):
        message = f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters"
        raise InvalidParameter(
            f"Idempotency-Key {message}", errors=[{"field": "Idempotency-Key", "source": "header", "message": message}]
        )
    return value


def fingerprint(route: str, body: Any) -> str:
    """SHA-256 (hex) of ``route`` and the request body as canonical JSON (keys sorted), so the same content sent
    with its keys in another order or other spacing is the same request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


_RECORD_COLUMNS = ("scope", "key", "fingerprint", "route", "status_code", "response", "created_at", "expires_at")


# How an operation uses a key. Its every effect is in this database transaction (a booking hold), so the key need
# not be claimed first: the stored answer is looked up with the operation's first read (``lookup_columns``, folded
# into it), and the key is written once, with its answer, by the operation's last statement (``record``). A
# concurrent duplicate that read no answer does the work too, then meets the first one's key at ``record``: it gets
# 409 and its transaction rolls back, taking its effects with it. (An operation with effects outside the database,
# such as a payment provider's API, must instead hold the key before the outside call: that effect cannot be
# rolled back. Payments, issue 8, add that form when they need it.)

#: Bind parameters the lookup columns use.
LOOKUP_SCOPE = "idem_scope"
LOOKUP_KEY = "idem_key"


def _lookup(column: Any, label: str) -> Any:
    return (
        select(column)
        .where(_records.c.scope == bindparam(LOOKUP_SCOPE), _records.c.key == bindparam(LOOKUP_KEY))
        .scalar_subquery()
        .label(label)
    )


def lookup_columns() -> tuple[Any, ...]:
    """Scalar subqueries (labelled ``idem_fingerprint``, ``idem_route``, ``idem_status``, ``idem_response``,
    ``idem_expires``) reading the stored answer of ``(:idem_scope, :idem_key)``, to add to the operation's first
    SELECT; all ``NULL`` when the key is new."""
    return (
        _lookup(_records.c.fingerprint, "idem_fingerprint"),
        _lookup(_records.c.route, "idem_route"),
        _lookup(_records.c.status_code, "idem_status"),
        _lookup(_records.c.response, "idem_response"),
        _lookup(_records.c.expires_at, "idem_expires"),
    )


async def stored_answer(session: AsyncSession, *, scope: str, key: str) -> Any:
    """The lookup columns read on their own (when the operation's first read found no row to carry them)."""
    connection = await session.connection()
    return (await connection.execute(select(*lookup_columns()), {LOOKUP_SCOPE: scope, LOOKUP_KEY: key})).first()


def replay_of(found: Any, *, route: str, fingerprint: str, now: datetime) -> Replay | None:
    """The answer to replay from the lookup columns of ``found`` (a row), ``None`` when the key is new or expired;
    ``IdempotencyKeyReused`` (422) when it came with another body or route."""
    if found is None or found.idem_fingerprint is None:
        return None
    expires = found.idem_expires
    if isinstance(expires, datetime) and expires.tzinfo is None:  # SQLite keeps no offset: stored in UTC
        expires = expires.replace(tzinfo=UTC)
    if expires is not None and expires <= now:
        return None
    if found.idem_fingerprint != fingerprint or found.idem_route != route:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with another request body; use a new key for a new request"
        )
    response = found.idem_response
    if isinstance(response, str | bytes):  # a scalar subquery of a JSON column comes back undecoded on SQLite
        response = json.loads(response)
    return Replay(status_code=int(found.idem_status), body=dict(response))


_RECORDS = {
    name: insert(_records)
    .values({column: bindparam(f"{column}_v") for column in _RECORD_COLUMNS})
    .on_conflict_do_update(
        index_elements=["scope", "key"],
        set_={column: bindparam(f"{column}_v") for column in _RECORD_COLUMNS if column not in ("scope", "key")},
        where=_records.c.expires_at <= bindparam("now_v"),
    )
    .returning(_records.c.key)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


async def record(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    route: str,
    fingerprint: str,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Write ``(scope, key)`` with its answer as the operation's last statement (an expired key is overwritten).
    ``IdempotencyKeyInProgress`` (409) when a concurrent request with the same key got there first: the caller's
    transaction then rolls back, so the work is done once."""
    values = {
        "scope_v": scope,
        "key_v": key,
        "fingerprint_v": fingerprint,
        "route_v": route,
        "status_code_v": status_code,
        "response_v": body,
        "created_at_v": now,
        "expires_at_v": now + KEY_TTL,
        "now_v": now,
    }
    connection = await session.connection()
    if (await connection.execute(_RECORDS[dialect_of(session)], values)).first() is None:
        raise IdempotencyKeyInProgress("another request with this Idempotency-Key was processed meanwhile; retry")


async def purge_expired(session: AsyncSession, now: datetime, limit: int = 10_000) -> int:
    """Delete up to ``limit`` keys that expired before ``now``; how many were deleted."""
    expired = select(_records.c.scope, _records.c.key).where(_records.c.expires_at <= now).limit(limit)
    rows = (await session.exec(expired)).all()  # type: ignore[call-overload]
    for scope, key in rows:
        await session.exec(delete(_records).where(_records.c.scope == scope, _records.c.key == key))
    return len(rows)


async def _purge_job(ctx: JobContext) -> None:
    async with unit_of_work(ctx.engine) as session:
        await purge_expired(session, utcnow())


#: Periodic job deleting expired keys (hourly, once across every process).
PURGE_EXPIRED_KEYS = PeriodicJob("kernel.purge_idempotency_keys", _purge_job, cron="17 * * * *")
