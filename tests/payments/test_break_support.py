"""Invariant checks shared by the ``test_break_*`` files (no tests here)."""

from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import func, select

from src.booking import inventory
from src.booking.models import Reservation
from src.kernel.db import unit_of_work
from src.kernel.outbox import OutboxMessage
from src.payments.models import Payment, Refund

__test__ = False


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx ``application/problem+json`` answer (one of ``statuses`` when given)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body.get("code")
    return body


async def check_invariants(app: Litestar, code: str) -> dict[str, Any]:
    """The money and inventory invariants of reservation ``code``; its row as a dict."""
    async with unit_of_work(app.state.engine) as session:
        reservation = (await session.exec(select(Reservation).where(Reservation.code == code))).one()[0]
        payments = (await session.exec(select(Payment).where(Payment.reservation_id == reservation.id))).scalars().all()
        entries = (await session.exec(select(Refund).where(Refund.reservation_id == reservation.id))).scalars().all()
        for payment in payments:
            assert 0 <= payment.refunded_amount <= payment.captured_amount, payment
            counted = sum(
                e.amount
                for e in entries
                if e.payment_id == payment.id and e.status in ("requested", "pending", "succeeded")
            )
            assert counted == payment.refunded_amount, (counted, payment)
        assert 0 <= reservation.refunded_amount <= reservation.paid_amount, reservation
        assert reservation.paid_amount == sum(p.captured_amount for p in payments if p.status == "succeeded")
        nights = (reservation.check_out - reservation.check_in).days
        for offset in range(nights):
            from datetime import timedelta

            night = reservation.check_in + timedelta(days=offset)
            sold = await inventory.sold_by_reservations(session, reservation.room_type_id, night)
            from src.booking.models import InventoryNight

            row = (
                await session.exec(
                    select(InventoryNight.sold).where(
                        InventoryNight.room_type_id == reservation.room_type_id, InventoryNight.night == night
                    )
                )
            ).one()
            assert row[0] == sold, (night, row[0], sold)
        dups = (
            await session.exec(
                select(OutboxMessage.dedup_key, func.count())
                .where(OutboxMessage.reference == code)
                .group_by(OutboxMessage.dedup_key)
                .having(func.count() > 1)
            )
        ).all()
        assert not dups, dups
        return {
            "status": reservation.status,
            "paid": reservation.paid_amount,
            "refunded": reservation.refunded_amount,
            "total": reservation.total_amount,
            "payments": [(p.method, p.status, p.captured_amount, p.refunded_amount) for p in payments],
            "refunds": sorted((e.reason, e.amount, e.status) for e in entries),
        }
