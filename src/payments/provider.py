"""The provider interface of payments: what the rest of payments needs from a way of taking money.

Two implementations: ``src/payments/stripe.py`` (cards through Stripe PaymentIntents; the only module that imports
``stripe``) and ``src/payments/vietqr.py`` (VietQR bank transfers, EMVCo merchant-presented QR over NAPAS, where the
money goes straight to the property's own account and a bank feed tells us it arrived).

Money is an integer in the minor unit of an ISO 4217 currency (VND has none: 1,850,000 ₫ is ``1850000``).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class PaymentMethod(StrEnum):
    """How a guest pays: a card through Stripe, or a VietQR bank transfer."""

    CARD = "card"
    VIETQR = "vietqr"


class IntentStatus(StrEnum):
    """A Stripe PaymentIntent's status (https://docs.stripe.com/payments/paymentintents/lifecycle)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True, slots=True)
class IntentState:
    """What the card provider says of one PaymentIntent now.

    ``amount`` and ``amount_received`` in minor units of ``currency`` (upper-case ISO 4217); ``metadata`` is what we
    set at creation (``reservation_code``, ``payment_id``); ``client_secret`` is for the app's mobile SDK only."""

    id: str
    status: str
    amount: int
    amount_received: int
    currency: str
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    latest_charge: str | None = None


@dataclass(frozen=True, slots=True)
class RefundState:
    """One refund as the provider sees it: ``status`` is Stripe's (``pending``, ``requires_action``, ``succeeded``,
    ``failed``, ``canceled``); ``metadata`` carries our ``refund_id``."""

    id: str
    payment_intent: str | None
    charge: str | None
    amount: int
    currency: str
    status: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified webhook event: ``id`` (``evt_...``), ``type`` (``payment_intent.succeeded``), ``created`` (unix
    seconds) and ``object`` (``data.object`` as plain JSON values)."""

    id: str
    type: str
    created: int
    object: dict[str, Any]


class InvalidSignature(Exception):
    """A webhook body whose signature header is missing, malformed, stale or made with another secret."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a server error; the call may be retried (with the
    same idempotency key)."""


class ProviderRefused(Exception):
    """The provider refused the request itself (a 4xx from Stripe): retrying it unchanged will not help."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class CardProvider(Protocol):
    """Cards (Stripe). Every call that creates something takes our own ``idempotency_key``, derived from the
    reservation and attempt (or refund), so that a retry after a timeout never creates a second object."""

    publishable_key: str

    def max_amount(self, currency: str) -> int:
        """The largest amount one charge may carry in ``currency`` (ISO 4217), in minor units."""
        ...

    async def create_intent(
        self, *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> IntentState:
        """A new PaymentIntent of ``amount`` minor units of ``currency`` (the same one again for the same key).
        ``ProviderUnavailable`` (retry with the key) or ``ProviderRefused``."""
        ...

    async def retrieve_intent(self, intent_id: str) -> IntentState:
        """The PaymentIntent ``intent_id`` as the provider has it now; ``ProviderRefused`` when there is none."""
        ...

    async def cancel_intent(self, intent_id: str) -> IntentState:
        """Cancel an intent that can still be paid; ``ProviderRefused`` when it no longer can (it succeeded)."""
        ...

    async def create_refund(
        self, *, payment_intent: str, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> RefundState:
        """Refund ``amount`` minor units of a succeeded intent (the same refund again for the same key)."""
        ...

    def verify_event(self, payload: bytes, signature_header: str | None) -> ProviderEvent:
        """The event a webhook body signs, checked on its raw bytes; ``InvalidSignature`` otherwise."""
        ...
