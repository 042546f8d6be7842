"""Imports every domain's tables so that ``metadata`` is complete (Alembic, tests). Assembly only."""

from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationSource,
    DestinationTranslation,
)

__all__ = [
    "Commune",
    "CommuneFormerUnit",
    "Destination",
    "DestinationAlias",
    "DestinationSource",
    "DestinationTranslation",
]
