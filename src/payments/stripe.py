"""Cards through Stripe PaymentIntents: ``StripeProvider``, the ``CardProvider`` of ``src/payments/provider.py``.

This is the only module of the project that imports ``stripe`` (stripe-python 16, its ``StripeClient`` and the async
methods of ``client.v1``). Everything it returns is a plain value of ``provider.py``; every SDK error becomes
``ProviderUnavailable`` (retry with the same idempotency key) or ``ProviderRefused`` (do not retry unchanged).

Money is an integer in the currency's minor unit, as Stripe wants it (https://docs.stripe.com/currencies#zero-decimal):
VND is zero-decimal, so 1,850,000 ₫ is ``amount=1850000``; 12.34 USD would be ``1234``. We speak upper-case ISO 4217
(``VND``); Stripe wants lower case (``vnd``), so the conversion happens here in both directions.

API references: PaymentIntents https://docs.stripe.com/api/payment_intents, Refunds https://docs.stripe.com/api/refunds,
idempotent requests https://docs.stripe.com/api/idempotent_requests, webhook signatures
https://docs.stripe.com/webhooks#verify-events.
"""

from collections.abc import Mapping
from typing import Any, Final

import msgspec
import stripe

from src.payments.provider import (
    IntentState,
    InvalidSignature,
    ProviderEvent,
    ProviderRefused,
    ProviderUnavailable,
    RefundState,
)

#: The largest amount of one charge, in minor units, for every currency without an override below. Stripe's API
#: reference for ``amount`` (https://docs.stripe.com/api/payment_intents/create#create_payment_intent-amount, the same
#: text is in stripe-python's ``PaymentIntentCreateParams.amount``): "The amount value supports up to eight digits
#: (e.g., a value of 99999999 for a USD charge of $999,999.99)"; the per-currency limits are on
#: https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts. The digit limit counts minor units, so for
#: zero-decimal VND it is 99,999,999 ₫ (about 3,800 USD): a larger stay is more than one charge.
DEFAULT_MAX_AMOUNT: Final = 99_999_999

#: Per-currency maxima (upper-case ISO 4217 -> minor units) where Stripe documents a limit other than eight digits.
#: None is known to us for the currencies we charge in (VND, USD, EUR...): VND has no documented exception.
MAX_AMOUNT_OVERRIDES: Final[Mapping[str, int]] = {}

#: How old a webhook's signed timestamp may be, seconds (Stripe's own default tolerance).
WEBHOOK_TOLERANCE_SECONDS: Final = 300


class _EventData(msgspec.Struct):
    object: dict[str, Any]


class _Event(msgspec.Struct):
    """The part of a Stripe event (https://docs.stripe.com/api/events/object) we read; other fields are skipped."""

    id: str
    type: str
    created: int
    data: _EventData


_decode_event = msgspec.json.Decoder(_Event).decode


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the form-encoded body as ``content=``: the SDK passes it as ``data=<str>``,
    which httpx 0.28 deprecates (a ``DeprecationWarning`` on every POST, an error under ``-W error``)."""

    def _get_request_args_kwargs(self, method: str, url: str, headers: Mapping[str, str], post_data: Any) -> list[Any]:
        args: list[Any] = super()._get_request_args_kwargs(method, url, headers, post_data)
        kwargs: dict[str, Any] = args[1]
        if isinstance(kwargs.get("data"), str | bytes):
            kwargs["content"] = kwargs.pop("data")
        return args


class StripeProvider:
    """Cards through Stripe: PaymentIntents, refunds and signed webhook events.

    Args:
        secret_key: the secret API key (``sk_live_...``/``sk_test_...``); never put in a message or log.
        publishable_key: the publishable key (``pk_...``) the app's mobile SDK needs beside a client secret.
        webhook_secret: the endpoint's signing secret (``whsec_...``) for ``verify_event``.
        api_base: another API address (``http://127.0.0.1:8420`` for localstripe in tests); ``None``: Stripe's own.
        timeout_seconds: the HTTP timeout of one attempt.
        max_retries: the SDK's own retries of one call on connection errors, 409 and 5xx (each with the same
            idempotency key, so a retried create never makes a second object).
    """

    def __init__(
        self,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        timeout_seconds: float = 10,
        max_retries: int = 2,
    ) -> None:
        self.publishable_key = publishable_key
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._http = _HTTPXClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=max_retries,
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool (at application shutdown)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    def max_amount(self, currency: str) -> int:
        """The largest amount one charge may carry in ``currency`` (ISO 4217, any case), in minor units: 99,999,999
        unless ``MAX_AMOUNT_OVERRIDES`` says otherwise (see ``DEFAULT_MAX_AMOUNT`` for Stripe's documentation)."""
        return MAX_AMOUNT_OVERRIDES.get(currency.upper(), DEFAULT_MAX_AMOUNT)

    async def create_intent(
        self, *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> IntentState:
        """Create a PaymentIntent for ``amount`` minor units of ``currency`` (``VND``, 1850000 for 1,850,000 ₫).

        ``metadata`` (our ``reservation_code``, ``payment_id``) comes back on the intent and on its events. The
        answer's ``client_secret`` goes to the app's mobile SDK, which collects and confirms the card.

        Raises:
            ProviderRefused: Stripe refused it (amount out of range, unknown currency, idempotency key reused with
                other parameters...).
            ProviderUnavailable: Stripe could not be reached or failed; retry with the same ``idempotency_key``.
        """
        try:
            intent = await self._client.v1.payment_intents.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    # Cards only, named explicitly (Alipay and WeChat Pay are added to this list later). Since API
                    # version 2026-09-30.endive (stripe-python 16 pins 2026-10-28.endive) the writable parameter is
                    # `allowed_payment_method_types`: `payment_method_types` is answered with a 400
                    # `payment_method_types_no_longer_supported` (https://docs.stripe.com/changelog/endive/2026-09-30/
                    # removes-the-payment-method-types-parameter-from-payment-intents-and-setup-intents). Not
                    # `automatic_payment_methods`: the Dashboard would decide, and localstripe rejects it.
                    "allowed_payment_method_types": ["card"],
                    "metadata": metadata,
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise self._translate(error) from error
        return _intent_state(intent.to_dict())

    async def retrieve_intent(self, intent_id: str) -> IntentState:
        """The PaymentIntent ``intent_id`` (``pi_...``) as Stripe has it now.

        Raises:
            ProviderRefused: no such intent (``code`` ``resource_missing`` on Stripe).
            ProviderUnavailable: Stripe could not be reached or failed.
        """
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as error:
            raise self._translate(error) from error
        return _intent_state(intent.to_dict())

    async def cancel_intent(self, intent_id: str) -> IntentState:
        """Cancel the PaymentIntent ``intent_id`` so that it can no longer be paid
        (https://docs.stripe.com/api/payment_intents/cancel); cancelling is idempotent at Stripe for an intent
        already cancelled.

        Raises:
            ProviderRefused: it cannot be cancelled (it succeeded or is processing), or there is no such intent.
            ProviderUnavailable: Stripe could not be reached or failed.
        """
        try:
            intent = await self._client.v1.payment_intents.cancel_async(intent_id)
        except stripe.StripeError as error:
            raise self._translate(error) from error
        return _intent_state(intent.to_dict())

    async def create_refund(
        self, *, payment_intent: str, amount: int, metadata: dict[str, str], idempotency_key: str
    ) -> RefundState:
        """Refund ``amount`` minor units (all or part) of the succeeded PaymentIntent ``payment_intent``.

        ``metadata`` carries our ``refund_id``. A refund may stay ``pending`` and end later in ``succeeded`` or
        ``failed`` (the ``refund.updated`` event says which).

        Raises:
            ProviderRefused: Stripe refused it (more than is left to refund, intent not paid...).
            ProviderUnavailable: Stripe could not be reached or failed; retry with the same ``idempotency_key``.
        """
        try:
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": payment_intent, "amount": amount, "metadata": metadata},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise self._translate(error) from error
        data = refund.to_dict()
        return RefundState(
            id=data["id"],
            payment_intent=_id_of(data.get("payment_intent")),
            charge=_id_of(data.get("charge")),
            amount=int(data["amount"]),
            currency=str(data["currency"]).upper(),
            status=str(data["status"]),
            metadata=_metadata(data.get("metadata")),
        )

    def verify_event(self, payload: bytes, signature_header: str | None) -> ProviderEvent:
        """Check a webhook's ``Stripe-Signature`` over the raw request body and decode the event it signs.

        ``payload`` must be the body exactly as received: the HMAC covers its bytes, so a body parsed and serialised
        again fails. A signed timestamp more than ``WEBHOOK_TOLERANCE_SECONDS`` old fails (a replay). The JSON is
        decoded straight into plain values (no SDK objects): this runs for every delivered event.

        Raises:
            InvalidSignature: the header is missing or malformed, made with another secret, stale, or the body is not
                the one signed, or the signed body is not an event (not JSON, no ``id``/``type``/``created``/
                ``data.object``).
        """
        verify_signature(payload, signature_header, self._webhook_secret)
        try:
            event = _decode_event(payload)
        except msgspec.DecodeError as error:
            raise InvalidSignature(f"the signed body is not a Stripe event: {error}") from None
        return ProviderEvent(id=event.id, type=event.type, created=event.created, object=event.data.object)

    def _translate(self, error: stripe.StripeError) -> ProviderUnavailable | ProviderRefused:
        """The provider error for an SDK error; the message never holds the secret key."""
        message = (error.user_message or type(error).__name__).replace(self._secret_key, "sk_***")
        status = error.http_status
        if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
            return ProviderUnavailable(f"Stripe unavailable: {message}")
        if status is None or status >= 500 or status == 409:
            # 409: another request with the same idempotency key is still running; the SDK retries it too.
            return ProviderUnavailable(f"Stripe failed (HTTP {status}): {message}")
        code = error.code or ("idempotency_error" if isinstance(error, stripe.IdempotencyError) else None)
        return ProviderRefused(message, code=code)


def verify_signature(
    payload: bytes, header: str | None, secret: str, tolerance: int = WEBHOOK_TOLERANCE_SECONDS
) -> None:
    """Check a ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`` signature header with the SDK's own
    verifier (https://docs.stripe.com/webhooks#verify-manually): Stripe's webhooks, and the bank feed's notices,
    which API.md signs the same way. Several ``v1`` values are accepted (secret rotation); a timestamp older than
    ``tolerance`` seconds is refused (a replay). ``InvalidSignature`` for a missing, malformed, stale or wrong
    signature, or a body that is not UTF-8."""
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as error:
        raise InvalidSignature(error.user_message or "invalid signature") from None
    except UnicodeDecodeError:
        raise InvalidSignature("the body is not UTF-8") from None


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header (``t=<unix seconds>,v1=<hex HMAC-SHA256>``) for ``payload`` made with
    ``secret`` at ``timestamp`` (default: now), as Stripe makes it: for tests, benches and events localstripe does
    not send (refunds, disputes, cancellations), and the bank feed's notices (the same scheme)."""
    # a body that is not UTF-8 cannot verify (the verifier decodes it): sign what it would read, never fail here
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8", errors="replace"), secret, timestamp=timestamp
    )
    return header


def _intent_state(data: dict[str, Any]) -> IntentState:
    return IntentState(
        id=data["id"],
        status=str(data["status"]),
        amount=int(data["amount"]),
        amount_received=_amount_received(data),
        currency=str(data["currency"]).upper(),
        client_secret=data.get("client_secret"),
        metadata=_metadata(data.get("metadata")),
        latest_charge=_id_of(data.get("latest_charge")),
    )


def _amount_received(intent: dict[str, Any]) -> int:
    """``amount_received`` of the intent. localstripe leaves the field out: there it is the amount of the intent's
    latest charge once that charge succeeded and is captured (which is what Stripe reports too)."""
    if intent.get("amount_received") is not None:
        return int(intent["amount_received"])
    charge = intent.get("latest_charge")
    if isinstance(charge, dict) and charge.get("status") == "succeeded" and charge.get("captured"):
        captured = charge.get("amount_captured")
        return int(charge["amount"] if captured is None else captured)
    return 0


def _id_of(value: object) -> str | None:
    """The id of an expandable field: Stripe sends ``"ch_..."``, or the whole object when expanded (localstripe
    always expands ``latest_charge``)."""
    if isinstance(value, dict):
        return str(value["id"])
    return None if value is None else str(value)


def _metadata(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
