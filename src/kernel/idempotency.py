"""Idempotency keys for writes that create money or inventory effects (API.md; the scheme of Stripe's API and of the
IETF draft "The Idempotency-Key HTTP Header Field").

A stored key remembers the first successful response to ``(scope, key)``. ``scope`` is the caller: a user id when
authenticated, else the anonymous scope; ``fingerprint`` is the SHA-256 of the method, the route and the canonical
request body. The same key and body replays the stored status and body; the same key with another body is 422; a
concurrent duplicate waits for the first and replays it, or is answered 409. Keys expire (``expires_at``) and a
periodic job deletes them.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from src.kernel.db import UTCDateTime, utcnow


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
