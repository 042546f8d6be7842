"""Fictional receiving accounts of the fictional sample properties (``src/booking/samples.py``), so that VietQR can
be tried on the embedded default. Each is flagged ``is_sample`` (the API shows it); the account number is
``SAMPLE`` and a serial, which no bank issues, at Vietcombank's real NAPAS BIN (970436, ``data/payments``): a QR
made from it scans, and a transfer to it can go nowhere. Its feed secret is random and never shown: rotate it in
the owner portal to try the bank-feed webhook."""

import secrets

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from src.booking.models import Property
from src.kernel.db import upsert_insert, utcnow
from src.payments import repository as repo

SAMPLE_BIN = "970436"


async def ensure_sample_accounts(session: AsyncSession) -> int:
    """Give every sample property without a receiving account a fictional one; how many were added."""
    table = Property.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    rows = (
        await connection.execute(
            select(table.c.id)
            .where(table.c.is_sample.is_(True))
            .where(~table.c.id.in_(select(repo.bank_account.c.property_id)))
            .order_by(table.c.id)
        )
    ).all()
    if not rows:
        return 0
    taken = (
        await connection.execute(
            select(repo.bank_account.c.account_number).where(repo.bank_account.c.bank_bin == SAMPLE_BIN)
        )
    ).all()
    used = {r[0] for r in taken}
    serial, now, insert = 0, utcnow(), upsert_insert(session)
    for (property_id,) in rows:
        serial += 1
        while f"SAMPLE{serial:06d}" in used:
            serial += 1
        await connection.execute(
            insert(repo.bank_account)
            .values(
                property_id=property_id,
                bank_bin=SAMPLE_BIN,
                account_number=f"SAMPLE{serial:06d}",
                account_name="TAI KHOAN MAU (SAMPLE)",
                feed_secret=secrets.token_urlsafe(32),
                is_sample=True,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
    return len(rows)
