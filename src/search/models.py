"""Tables of the search domain: the search log the tourism board reads (which queries find nothing, and how often).

No personal data: no IP address, no user id, no raw query text (only its normalised search form, cut to
``MAX_LOGGED_QUERY`` characters), and a query point rounded to 2 decimals (about 1 km).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from src.kernel.db import UTCDateTime

#: Longest normalised query kept, in characters.
MAX_LOGGED_QUERY = 200


class SearchLogEntry(SQLModel, table=True):
    """One ``GET /v1/search`` answered: the normalised query (``src.search.text.normalise``), the response locale,
    the typed filters (JSON: types, kinds, communes, point to 2 decimals, radius_km, sort, facets, offset, limit),
    how many documents matched (``hits``: the engine's ``estimated_total``), the time taken (ms), the engine, and
    when (UTC)."""

    __tablename__ = "search_log"
    __table_args__ = (Index("ix_search_log_hits_created_at", "hits", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    query: str = Field(max_length=MAX_LOGGED_QUERY)
    locale: str = Field(max_length=16)
    filters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    hits: int
    processing_ms: float
    engine: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


__all__ = ["MAX_LOGGED_QUERY", "SearchLogEntry"]
