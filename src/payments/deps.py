"""How payments' services are provided to controllers, and the process-wide card provider."""

from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.auth.guards import current_identity
from src.kernel.config import Settings
from src.kernel.deps import clock
from src.kernel.errors import request_locale
from src.payments.provider import CardProvider
from src.payments.service import OwnerPaymentService, PaymentConfig, PaymentService, RefundService


def build_card_provider(settings: Settings) -> CardProvider | None:
    """The Stripe provider when both API keys are set (``LAOCAI_STRIPE_*``), else ``None`` (cards unavailable)."""
    secret = settings.stripe_secret_key.get_secret_value()
    if not secret or not settings.stripe_publishable_key:
        return None
    from src.payments.stripe import StripeProvider

    return StripeProvider(
        secret,
        settings.stripe_publishable_key,
        settings.stripe_webhook_secret.get_secret_value(),
        api_base=settings.stripe_api_base or None,
    )


def payment_config(settings: Settings) -> PaymentConfig:
    """The settlement times of each method, from settings."""
    return PaymentConfig(
        card_settlement=timedelta(minutes=settings.card_settlement_minutes),
        vietqr_settlement=timedelta(minutes=settings.vietqr_settlement_minutes),
    )


def card_provider(state: State) -> CardProvider | None:
    """The process's card provider (``None`` without Stripe keys)."""
    provider: CardProvider | None = state.get("card_provider")
    return provider


async def provide_payment_service(request: Request[Any, Any, Any]) -> PaymentService:
    """A ``PaymentService``: it opens its own units of work (a card payment commits its claim before Stripe is
    called)."""
    state = request.app.state
    return PaymentService(
        state.engine,
        card=card_provider(state),
        config=state.payment_config,
        locale=request_locale(request),
        now=clock(state),
        base_url=str(request.base_url).rstrip("/"),
    )


async def provide_refund_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> RefundService:
    """A ``RefundService`` for the authenticated owner or admin on the request's unit of work."""
    return RefundService(session, current_identity(request), request_locale(request), clock(request.app.state))


async def provide_owner_payment_service(
    request: Request[Any, Any, Any], session: NamedDependency[AsyncSession]
) -> OwnerPaymentService:
    """An ``OwnerPaymentService`` for the authenticated owner on the request's unit of work."""
    return OwnerPaymentService(session, current_identity(request), request_locale(request), clock(request.app.state))
