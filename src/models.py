"""Imports every domain's tables so that ``metadata`` is complete (Alembic, tests). Assembly only."""

from src.booking.models import ChannelCalendar, ExternalBlock, InventoryNight, Property, Reservation, RoomType
from src.guide.models import (
    Commune,
    CommuneFormerUnit,
    Destination,
    DestinationAlias,
    DestinationSource,
    DestinationTranslation,
    Media,
    MediaFile,
)
from src.kernel.auth.models import RefreshToken, User, UserRole
from src.kernel.idempotency import IdempotencyRecord
from src.kernel.jobs import PeriodicJobState
from src.kernel.outbox import OutboxMessage
from src.payments.models import BankAccount, BankTransfer, Payment, Refund, WebhookEvent
from src.search.models import SearchLogEntry

__all__ = [
    "BankAccount",
    "BankTransfer",
    "ChannelCalendar",
    "Commune",
    "CommuneFormerUnit",
    "Destination",
    "DestinationAlias",
    "DestinationSource",
    "DestinationTranslation",
    "ExternalBlock",
    "IdempotencyRecord",
    "InventoryNight",
    "Media",
    "MediaFile",
    "OutboxMessage",
    "Payment",
    "PeriodicJobState",
    "Property",
    "RefreshToken",
    "Refund",
    "Reservation",
    "RoomType",
    "SearchLogEntry",
    "User",
    "UserRole",
    "WebhookEvent",
]
