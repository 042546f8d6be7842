"""Errors of payments, each with its HTTP meaning (ARCHITECTURE.md example 7)."""

from src.kernel.errors import DomainError
from src.kernel.i18n import N_


class PaymentMethodUnavailable(DomainError):
    """The method cannot be used here: no Stripe keys are configured (``card``), or the property has set no
    receiving bank account (``vietqr``) (409)."""

    status = 409
    code = "payment_method_unavailable"
    title = N_("Payment method unavailable")


class AmountTooLarge(DomainError):
    """The amount due is more than one charge of this method may carry (422); ``extra["max_amount"]``."""

    status = 422
    code = "amount_too_large"
    title = N_("Amount too large for this payment method")


class AlreadyPaid(DomainError):
    """The reservation is paid already (409)."""

    status = 409
    code = "already_paid"
    title = N_("Reservation already paid")


class NotPayable(DomainError):
    """The reservation cannot be paid in its state: cancelled, checked in, no-show (409)."""

    status = 409
    code = "not_payable"
    title = N_("Reservation cannot be paid")


class PaymentNotFound(DomainError):
    """No payment with this id that the caller may see (404)."""

    status = 404
    code = "payment_not_found"
    title = N_("Payment not found")


class RefundExceedsCapture(DomainError):
    """The refund asked for is more than what is left to refund of the captured money (409);
    ``extra["refundable"]`` is what is left, in minor units."""

    status = 409
    code = "refund_exceeds_capture"
    title = N_("Refund exceeds what was paid")


class TransferNotFound(DomainError):
    """No bank transfer with this id at the owner's properties (404)."""

    status = 404
    code = "transfer_not_found"
    title = N_("Bank transfer not found")


class TransferResolved(DomainError):
    """The bank transfer is not parked any more: it was confirmed, attached or refunded already (409)."""

    status = 409
    code = "transfer_not_parked"
    title = N_("Bank transfer already resolved")


class PayoutNotFound(DomainError):
    """No pending bank payout with this id at the owner's properties (404)."""

    status = 404
    code = "payout_not_found"
    title = N_("Payout not found")


class InvalidWebhookSignature(DomainError):
    """A webhook body without a valid signature: missing, malformed, stale (older than the tolerance), made with
    another secret, or over another body (400)."""

    status = 400
    code = "invalid_signature"
    title = N_("Invalid webhook signature")


class ProviderDown(DomainError):
    """The payment provider could not be reached or failed; nothing was charged twice, try again (424 Failed
    Dependency, RFC 4918 §11.4, with ``Retry-After``)."""

    status = 424
    code = "payment_provider_unavailable"
    title = N_("Payment provider unavailable")
    headers = {"Retry-After": "5"}


class ProviderRejected(DomainError):
    """The payment provider refused the request (422); ``extra["provider_code"]`` is its code."""

    status = 422
    code = "payment_provider_refused"
    title = N_("Payment provider refused the request")
