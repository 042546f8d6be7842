"""HTTP endpoints of payments: paying a booking (app), the "I paid" call, VietQR images, the Stripe and bank-feed
webhooks (no login: their signature is their credential), and the owner's and admin's refunds, receiving accounts,
parked transfers and payouts."""

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter, QueryParameter

from src.booking.controllers import BookingToken, IdempotencyKey
from src.booking.schemas import RefundOut
from src.kernel.auth.backend import OPTIONAL_AUTH
from src.kernel.auth.guards import optional_identity, requires_role
from src.kernel.db import unit_of_work
from src.kernel.deps import clock
from src.kernel.errors import problem_responses
from src.kernel.idempotency import REPLAYED_HEADER
from src.kernel.request_input import strict_json
from src.payments import transfers, vietqr, webhooks
from src.payments.deps import (
    card_provider,
    provide_owner_payment_service,
    provide_payment_service,
    provide_refund_service,
)
from src.payments.schemas import (
    BankAccountOut,
    BankAccountWrite,
    BankNoticeAck,
    PaymentConfirmation,
    PaymentCreate,
    PaymentStarted,
    PayoutList,
    PayoutOut,
    RefundCreate,
    RefundList,
    TransferAttach,
    TransferList,
    TransferResolution,
    WebhookAck,
)
from src.payments.service import OwnerPaymentService, PaymentService, RefundService

_PRIVATE = "private, no-store"
Code = Annotated[str, Parameter(max_length=40)]
StripeSignature = Annotated[str | None, HeaderParameter(name="Stripe-Signature", max_length=2000)]
FeedSignature = Annotated[str | None, HeaderParameter(name="X-Bank-Feed-Signature", max_length=2000)]


class PaymentController(Controller):
    """Paying a booking (the tourist app)."""

    path = "/v1/bookings"
    tags = ["payments"]
    dependencies = {"service": Provide(provide_payment_service)}

    @post(
        "/{code:str}/payments",
        status_code=201,
        security=OPTIONAL_AUTH,
        responses=problem_responses(400, 401, 404, 409, 410, 422, 424),
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[PaymentService],
        code: Code,
        data: JSONBody[PaymentCreate],
        idempotency_key: IdempotencyKey = None,
        x_booking_token: BookingToken = None,
    ) -> Response[PaymentStarted]:
        """Start paying a held reservation: `method=card` creates (once per attempt) a Stripe PaymentIntent and
        returns its `client_secret` with the `publishable_key` for Stripe's mobile SDK; `method=vietqr` returns the
        EMVCo payload, QR images, the transfer memo (the reservation code) and the property's receiving account.
        The hold is extended by the method's settlement time. Requires `Idempotency-Key`. 409
        `payment_method_unavailable` without Stripe keys (card) or a receiving account (vietqr), 409
        `already_paid`, 410 `hold_expired`, 422 `amount_too_large`."""
        status, body, replayed = await service.start(
            code, data.method, idempotency_key, x_booking_token, optional_identity(request)
        )
        headers = {"Cache-Control": _PRIVATE}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(body, status_code=status, headers=headers)  # type: ignore[arg-type]

    @post(
        "/{code:str}/payments/confirm",
        status_code=200,
        security=OPTIONAL_AUTH,
        responses=problem_responses(401, 404, 422, 424),
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[PaymentService],
        code: Code,
        x_booking_token: BookingToken = None,
    ) -> Response[PaymentConfirmation]:
        """The app's "I paid": re-read the card PaymentIntent from Stripe and apply it exactly as the webhook
        would (idempotent: calling it any number of times, racing the webhook, confirms once)."""
        outcome = await service.confirm(code, x_booking_token, optional_identity(request))
        return Response(outcome, headers={"Cache-Control": _PRIVATE})


class PaymentQrController(Controller):
    """The QR images of a VietQR payment; the payment id (a random UUID) is the capability."""

    path = "/v1/payments"
    tags = ["payments"]
    dependencies = {"service": Provide(provide_payment_service)}

    @get("/{payment_id:uuid}/qr.svg", security=[], media_type="image/svg+xml", responses=problem_responses(404))
    async def svg(self, service: NamedDependency[PaymentService], payment_id: FromPath[UUID]) -> Response[bytes]:
        """The QR code of the payment's EMVCo payload as SVG."""
        payload = await service.qr_payload(payment_id)
        return Response(vietqr.qr_svg(payload), media_type="image/svg+xml", headers={"Cache-Control": _PRIVATE})

    @get("/{payment_id:uuid}/qr.png", security=[], media_type="image/png", responses=problem_responses(404))
    async def png(self, service: NamedDependency[PaymentService], payment_id: FromPath[UUID]) -> Response[bytes]:
        """The QR code of the payment's EMVCo payload as PNG."""
        payload = await service.qr_payload(payment_id)
        return Response(vietqr.qr_png(payload), media_type="image/png", headers={"Cache-Control": _PRIVATE})


class WebhookController(Controller):
    """Provider webhooks: no login; the signature over the raw body is checked instead."""

    path = "/v1/webhooks"
    tags = ["payments"]

    @post("/stripe", status_code=200, security=[], responses=problem_responses(400, 413))
    async def stripe(self, request: Request[Any, Any, Any], stripe_signature: StripeSignature = None) -> WebhookAck:
        """A Stripe event: verified on the raw body (tolerance 300 s), stored once by its id, answered at once and
        processed by a job. 400 `invalid_signature` for a body that is not signed with the endpoint's secret
        (re-serialised, stale, another secret)."""
        state = request.app.state
        event_id, new = await webhooks.ingest(
            state.engine,
            card_provider(state),
            await request.body(),
            stripe_signature,
            clock(state),
            log_engine=state.get("log_engine"),
        )
        return WebhookAck(received=True, event_id=event_id, duplicate=not new)

    @post("/bank-transfer", status_code=200, security=[], responses=problem_responses(400, 413, 422))
    async def bank_transfer(
        self, request: Request[Any, Any, Any], x_bank_feed_signature: FeedSignature = None
    ) -> BankNoticeAck:
        """A bank-feed notice of one incoming transfer (API.md): verified with the receiving account's feed secret,
        stored once by transaction id, matched on the reservation code in the memo and the exact amount; anything
        else is parked for the owner with a reason."""
        state = request.app.state
        payload = await request.body()
        async with unit_of_work(state.engine) as session:
            answer = await transfers.receive(
                session,
                payload,
                x_bank_feed_signature,
                tolerance=state.settings.bank_feed_tolerance_seconds,
                now=clock(state),
            )
        return BankNoticeAck(**answer)


class RefundController(Controller):
    """Refunds by hand: the property's owner, or an admin."""

    path = "/v1/owner/reservations"
    tags = ["owner", "payments"]
    guards = [requires_role("owner", "admin")]
    dependencies = {"service": Provide(provide_refund_service)}

    @get("/{code:str}/refunds", responses=problem_responses(401, 403, 404))
    async def list_refunds(self, service: NamedDependency[RefundService], code: Code) -> Response[RefundList]:
        """The reservation's refund ledger."""
        return Response(await service.entries(code), headers={"Cache-Control": _PRIVATE})

    @post("/{code:str}/refunds", status_code=201, responses=problem_responses(401, 403, 404, 409, 422, 424))
    async def refund(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[RefundService],
        code: Code,
        data: JSONBody[RefundCreate],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[list[RefundOut]]:
        """Refund part or all of what was paid: `amount` (minor units) or `nights` (each night's share of the
        capture, rounded so that all nights add up to exactly what was paid). Card refunds go through Stripe;
        VietQR refunds become payouts the owner makes. Requires `Idempotency-Key`; a night is refunded at most once.
        409 `refund_exceeds_capture` beyond what is left."""
        data = strict_json(await request.body(), RefundCreate)  # an amount given as "100" is a 422, not 100 đồng
        status, items, replayed = await service.refund(code, data, idempotency_key)
        headers = {"Cache-Control": _PRIVATE}
        if replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(items, status_code=status, headers=headers)  # type: ignore[arg-type]


class OwnerPaymentController(Controller):
    """The owner's receiving accounts, bank transfers and payouts."""

    path = "/v1/owner"
    tags = ["owner", "payments"]
    guards = [requires_role("owner")]
    dependencies = {"service": Provide(provide_owner_payment_service)}

    @get("/properties/{property_id:uuid}/bank-account", responses=problem_responses(401, 403, 404))
    async def get_bank_account(
        self, service: NamedDependency[OwnerPaymentService], property_id: FromPath[UUID]
    ) -> Response[BankAccountOut]:
        """The property's receiving account for VietQR transfers (never its feed secret)."""
        return Response(await service.bank_account(property_id), headers={"Cache-Control": _PRIVATE})

    @put("/properties/{property_id:uuid}/bank-account", responses=problem_responses(401, 403, 404, 409, 422))
    async def put_bank_account(
        self,
        service: NamedDependency[OwnerPaymentService],
        property_id: FromPath[UUID],
        data: JSONBody[BankAccountWrite],
    ) -> Response[BankAccountOut]:
        """Set the receiving account (bank BIN from the NAPAS list, account number, account name). A new or changed
        account gets a new bank-feed secret, shown once in `feed_secret`."""
        return Response(await service.set_bank_account(property_id, data), headers={"Cache-Control": _PRIVATE})

    @post(
        "/properties/{property_id:uuid}/bank-account/rotate-secret",
        status_code=200,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def rotate_secret(
        self, service: NamedDependency[OwnerPaymentService], property_id: FromPath[UUID]
    ) -> Response[BankAccountOut]:
        """A new bank-feed secret for the account (shown once); the old one stops verifying at once."""
        current = await service.bank_account(property_id)
        body = BankAccountWrite(
            bank_bin=current.bank.bank_bin,
            account_number=current.bank.account_number,
            account_name=current.bank.account_name,
        )
        return Response(
            await service.set_bank_account(property_id, body, rotate=True), headers={"Cache-Control": _PRIVATE}
        )

    @get("/bank-transfers", responses=problem_responses(401, 403, 422))
    async def list_transfers(
        self,
        request: Request[Any, Any, Any],
        service: NamedDependency[OwnerPaymentService],
        status: Annotated[
            Literal["confirmed", "parked", "attached", "refunded", "ignored"] | None,
            QueryParameter(description="Only transfers in this status."),
        ] = None,
    ) -> Response[TransferList]:
        """Transfers received at the owner's properties, newest first (`status=parked`: those waiting for you)."""
        return Response(await service.transfers(status), headers={"Cache-Control": _PRIVATE})

    @post(
        "/bank-transfers/{bank_bin:str}/{transaction_id:str}/attach",
        status_code=200,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def attach(
        self,
        service: NamedDependency[OwnerPaymentService],
        bank_bin: Annotated[str, Parameter(max_length=6)],
        transaction_id: Annotated[str, Parameter(max_length=64)],
        data: JSONBody[TransferAttach],
    ) -> TransferResolution:
        """Attach a parked transfer to a reservation of the same property: it pays it (a short amount accepted by
        you; an excess, or nights resold meanwhile, become payouts)."""
        return await service.attach(bank_bin, transaction_id, data.code)

    @post(
        "/bank-transfers/{bank_bin:str}/{transaction_id:str}/refund",
        status_code=200,
        responses=problem_responses(401, 403, 404, 409),
    )
    async def send_back(
        self,
        service: NamedDependency[OwnerPaymentService],
        bank_bin: Annotated[str, Parameter(max_length=6)],
        transaction_id: Annotated[str, Parameter(max_length=64)],
    ) -> TransferResolution:
        """Send a parked transfer back: a payout task for its whole amount, which you mark done once made."""
        return await service.send_back(bank_bin, transaction_id)

    @get("/payouts", responses=problem_responses(401, 403, 422))
    async def payouts(
        self,
        service: NamedDependency[OwnerPaymentService],
        status: Annotated[
            Literal["pending", "succeeded"] | None, QueryParameter(description="Only payouts in this status.")
        ] = None,
    ) -> Response[PayoutList]:
        """Bank payouts (VietQR refunds) you have to make or made, oldest first."""
        return Response(await service.payouts(status), headers={"Cache-Control": _PRIVATE})

    @post("/payouts/{refund_id:uuid}/done", status_code=200, responses=problem_responses(401, 403, 404))
    async def payout_done(self, service: NamedDependency[OwnerPaymentService], refund_id: FromPath[UUID]) -> PayoutOut:
        """Mark a payout made (the refund is then complete)."""
        return await service.payout_done(refund_id)
