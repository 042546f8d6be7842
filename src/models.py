"""Imports every domain's tables so that ``metadata`` is complete (Alembic, tests). Assembly only."""

from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationSource,
    DestinationTranslation,
)
from src.kernel.auth.models import RefreshToken, User, UserRole
from src.kernel.jobs import PeriodicJobState
from src.search.models import SearchLogEntry

__all__ = [
    "Commune",
    "CommuneFormerUnit",
    "Destination",
    "DestinationAlias",
    "DestinationSource",
    "DestinationTranslation",
    "PeriodicJobState",
    "RefreshToken",
    "SearchLogEntry",
    "User",
    "UserRole",
]
