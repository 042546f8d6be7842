"""A transactional outbox for email: a message is written in the same transaction as the change it announces and
sent by a job after that transaction commits.

Writing (inside the caller's unit of work)::

    await outbox.add_message(session, dedup_key=f"reservation_confirmed:guest:{reservation.id}", category=...,
                             to_address=..., locale="vi", subject=..., body_text=..., now=now)

``add_message`` is one ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING`` (the same announcement is never written
twice, however often the change is replayed) plus an ``enqueue`` of ``SEND_MESSAGE`` that the unit of work sends only
once it committed: a rolled-back change leaves neither a row nor a job.

Sending (``SEND_MESSAGE``, ``kernel.send_message``)
    1. Claim: one conditional ``UPDATE ... SET status='sending', lease_until=now+lease, attempts=attempts+1 WHERE
       id=:id AND (status='pending' OR (status='sending' AND lease_until < now)) AND attempts < max`` in its own
       committed transaction. The database serialises concurrent claims on both engines (PostgreSQL row lock,
       SQLite's ``BEGIN IMMEDIATE``): of two runs of the job at once, one claims and the other does nothing; a run
       after the message was sent finds nothing to claim.
    2. Send through the ``Mailer`` (outside any transaction: no connection is held while SMTP talks).
    3. Mark ``sent`` (``sent_at``). A failed send puts the message back to ``pending`` with ``last_error`` and raises,
       so the job is retried with its backoff; after ``max_attempts`` claims it is ``failed`` for good.

    ``SWEEP_OUTBOX`` (``kernel.sweep_outbox``, global, every minute) re-enqueues pending messages (a job lost with
    the in-process queue, or one whose retries ran out while attempts remain) and messages whose lease expired (a
    worker that died between claim and mark), and marks ``failed`` those that expired on their last attempt.

Delivery is at least once, not exactly once
    A worker can die after the SMTP server accepted the message and before ``sent`` is committed; once the lease
    expires the sweep sends it again. That resend carries the same RFC 5322 ``Message-ID`` (derived from the row's
    id, as are ``Date`` and every other header), so receiving systems and mail clients that deduplicate by
    Message-ID drop the copy; others show it twice. Keep ``lease_seconds`` above the SMTP timeout so that a slow
    but live send is never claimed a second time. Errors stored in ``last_error`` are the exception type and the
    server's reply, with the SMTP password removed.
"""

import asyncio
import contextlib
import logging
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid4

from sqlalchemy import CheckConstraint, Column, Index, Text, and_, or_, select, update
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from src.kernel.config import Settings
from src.kernel.db import UTCDateTime, unit_of_work, upsert_insert, utcnow
from src.kernel.jobs import Job, JobContext, JobRegistry, PeriodicJob, RetryPolicy, enqueue

logger = logging.getLogger("laocai.outbox")

STATUSES = ("pending", "sending", "sent", "failed")


class OutboxMessage(SQLModel, table=True):
    """One email to send: written with the change it announces, sent after commit by ``SEND_MESSAGE``.

    ``status``: ``pending`` (to send), ``sending`` (claimed until ``lease_until``), ``sent`` or ``failed`` (after
    ``attempts`` reached the maximum; ``last_error`` says why). ``dedup_key`` names the announcement
    (``reservation_confirmed:guest:<reservation id>``): one row per key, ever.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_message_status_created_at", "status", "created_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    dedup_key: str = Field(max_length=200, unique=True)
    category: str = Field(max_length=64)
    reference: str | None = Field(default=None, max_length=64)
    to_address: str = Field(max_length=320)
    locale: str = Field(max_length=16)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=Column(Text(), nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


_messages = OutboxMessage.__table__  # type: ignore[attr-defined]


# -------------------------------------------------------------------------------------------------------- mailers


class Mailer(Protocol):
    """Hands one message to the mail system; raises on failure (the job retries). Must be safe to call again with
    the same message (the outbox delivers at least once)."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message``; raise (``MailDeliveryError``) when it was not accepted."""
        ...


class MailDeliveryError(Exception):
    """A send failed; the text is safe to store (no credentials)."""


class SmtpMailer:
    """Sends through an SMTP server with the standard library's ``smtplib``, run in a worker thread.

    ``ssl``: implicit TLS (port 465); otherwise ``starttls`` upgrades the connection (port 587) and fails when the
    server does not offer it. ``username``: log in (``AUTH``) when not empty. ``timeout``: seconds per socket
    operation.
    """

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        use_ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the SMTP server (in a thread: smtplib blocks); ``MailDeliveryError`` on failure."""
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeliveryError(self._redact(f"{type(exc).__name__}: {exc}")) from None

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if not self.use_ssl and self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self._password)
            smtp.send_message(message)

    def _redact(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text[:500]


class FolderMailer:
    """The embedded default: writes each message to ``<folder>/<outbox message id>.eml`` (RFC 5322 bytes).

    The file appears atomically (a temporary file in the same folder, then ``os.replace``); a message whose file
    exists is skipped, so sending again changes nothing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        """Write ``message`` to ``path_of(message)`` atomically, unless that file exists (sent before)."""
        await asyncio.to_thread(self._write, message)

    def path_of(self, message: EmailMessage) -> Path:
        """``<folder>/<message uuid>.eml``, named by the message's ``Message-ID``."""
        local = str(message["Message-ID"]).strip().strip("<>").split("@", 1)[0]
        return self.folder / f"{UUID(local)}.eml"

    def _write(self, message: EmailMessage) -> None:
        target = self.path_of(message)
        if target.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".eml.tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(message.as_bytes(policy=SMTP_POLICY))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def build_mailer(settings: Settings) -> Mailer:
    """The mailer the settings describe: SMTP when ``smtp_host`` is set, else ``FolderMailer(settings.outbox_dir)``."""
    if not settings.smtp_host:
        return FolderMailer(settings.outbox_dir)
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        use_ssl=settings.smtp_ssl,
        timeout=settings.smtp_timeout_seconds,
    )


# -------------------------------------------------------------------------------------------------- the messages


def message_id_header(message_id: UUID, mail_from: str) -> str:
    """The RFC 5322 ``Message-ID`` of an outbox message: ``<id@sender's domain>``, the same on every (re)send."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "laocai.travel"
    return f"<{message_id}@{domain}>"


def build_email(
    *,
    message_id: UUID,
    mail_from: str,
    to_address: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    created_at: datetime,
) -> EmailMessage:
    """The MIME message (UTF-8): a text part, plus an HTML alternative when given. Every header is derived from
    the stored row, so a resend is byte-for-byte the same message."""
    name, address = parseaddr(mail_from)
    email = EmailMessage()
    email["From"] = Address(display_name=name, addr_spec=address) if name else address
    email["To"] = to_address
    email["Subject"] = subject
    email["Date"] = format_datetime(created_at)
    email["Message-ID"] = message_id_header(message_id, mail_from)
    email.set_content(body_text, charset="utf-8")
    if body_html is not None:
        email.add_alternative(body_html, subtype="html", charset="utf-8")
    email["Content-Language"] = locale  # after the body: set_content and add_alternative move Content-* headers
    return email


@dataclass(frozen=True)
class OutboxConfig:
    """What the outbox jobs need, given to them as ``ctx.resources[RESOURCE]``.

    ``lease_seconds``: how long a claim holds a message (keep it above ``SEND_MESSAGE``'s attempt timeout and the
    mailer's: a send still running when its lease expires may be claimed and sent again); ``max_attempts``:
    claims before a message is ``failed``; ``sweep_grace_seconds``: the sweep leaves pending messages younger than
    this to the job their commit enqueued.
    """

    mailer: Mailer
    mail_from: str
    lease_seconds: int = 300
    max_attempts: int = 8
    sweep_grace_seconds: int = 30


#: Key of the outbox's ``OutboxConfig`` in the jobs' resources.
RESOURCE = "outbox"


def config_from_settings(settings: Settings) -> OutboxConfig:
    """The outbox of a process: its mailer and sender from ``settings``."""
    return OutboxConfig(
        mailer=build_mailer(settings),
        mail_from=settings.mail_from,
        lease_seconds=max(300, int(settings.smtp_timeout_seconds * 10)),
    )


# ------------------------------------------------------------------------------------------------------- writing


def _job_key(message_id: UUID | str) -> str:
    return f"outbox:{message_id}"


async def add_message(
    session: AsyncSession,
    *,
    dedup_key: str,
    category: str,
    to_address: str,
    locale: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    reference: str | None = None,
    now: datetime,
) -> bool:
    """Write a message in ``session``'s transaction and have it sent once that commits; whether it was new.

    A message with the same ``dedup_key`` already written (in this transaction or any committed one) makes this a
    no-op returning ``False``: one statement, ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING``.
    """
    message_id = uuid4()
    insert = upsert_insert(session)
    statement = (
        insert(_messages)
        .values(
            id=message_id,
            dedup_key=dedup_key,
            category=category,
            reference=reference,
            to_address=to_address,
            locale=locale,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            status="pending",
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(_messages.c.id)
    )
    inserted = (await (await session.connection()).execute(statement)).scalar_one_or_none()
    if inserted is None:
        return False
    enqueue(session, SEND_MESSAGE, dedup_key=_job_key(message_id), message_id=str(message_id))
    return True


# ------------------------------------------------------------------------------------------------------- sending


def _claimable(now: datetime) -> Any:
    return or_(
        _messages.c.status == "pending",
        and_(_messages.c.status == "sending", _messages.c.lease_until < now),
    )


async def send_message(ctx: JobContext, *, message_id: str) -> None:
    """``SEND_MESSAGE``: claim the message, send it, mark it sent (see the module docstring). A message already
    sent, failed, or claimed by a live run is left alone."""
    config: OutboxConfig = ctx.resources[RESOURCE]
    ident = UUID(message_id)
    now = utcnow()
    async with unit_of_work(ctx.engine) as session:
        connection = await session.connection()
        claimed = (
            await connection.execute(
                update(_messages)
                .where(_messages.c.id == ident, _claimable(now), _messages.c.attempts < config.max_attempts)
                .values(
                    status="sending",
                    lease_until=now + timedelta(seconds=config.lease_seconds),
                    attempts=_messages.c.attempts + 1,
                )
                .returning(
                    _messages.c.attempts,
                    _messages.c.to_address,
                    _messages.c.locale,
                    _messages.c.subject,
                    _messages.c.body_text,
                    _messages.c.body_html,
                    _messages.c.created_at,
                )
            )
        ).one_or_none()
    if claimed is None:
        return
    attempt = int(claimed.attempts)
    email = build_email(
        message_id=ident,
        mail_from=config.mail_from,
        to_address=claimed.to_address,
        locale=claimed.locale,
        subject=claimed.subject,
        body_text=claimed.body_text,
        body_html=claimed.body_html,
        created_at=_aware(claimed.created_at),
    )
    try:
        await config.mailer.send(email)
    except Exception as exc:
        error = str(exc) if isinstance(exc, MailDeliveryError) else type(exc).__name__
        final = attempt >= config.max_attempts
        await _settle(
            ctx,
            ident,
            attempt,
            status="failed" if final else "pending",
            last_error=error[:500],
        )
        if final:
            logger.error("outbox message %s failed after %d attempt(s): %s", ident, attempt, error)
            return
        raise
    await _settle(ctx, ident, attempt, status="sent", sent_at=utcnow(), last_error=None)


def _aware(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (``UTCDateTime`` already gives that; a naive value is UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _settle(ctx: JobContext, ident: UUID, attempt: int, **values: Any) -> None:
    """Record the outcome of the claim numbered ``attempt`` (only while that claim still holds the message)."""
    async with unit_of_work(ctx.engine) as session:
        connection = await session.connection()
        await connection.execute(
            update(_messages)
            .where(_messages.c.id == ident, _messages.c.status == "sending", _messages.c.attempts == attempt)
            .values(lease_until=None, **values)
        )


async def sweep_outbox(ctx: JobContext, *, limit: int = 500) -> None:
    """``SWEEP_OUTBOX``: re-enqueue pending messages and messages whose lease expired; mark ``failed`` those whose
    lease expired on their last attempt."""
    config: OutboxConfig = ctx.resources[RESOURCE]
    now = utcnow()
    async with unit_of_work(ctx.engine) as session:
        connection = await session.connection()
        await connection.execute(
            update(_messages)
            .where(
                _messages.c.status == "sending",
                _messages.c.lease_until < now,
                _messages.c.attempts >= config.max_attempts,
            )
            .values(status="failed", lease_until=None, last_error="lease expired on the last attempt")
        )
        due = (
            await connection.execute(
                select(_messages.c.id)
                .where(
                    _claimable(now),
                    _messages.c.attempts < config.max_attempts,
                    _messages.c.created_at < now - timedelta(seconds=config.sweep_grace_seconds),
                )
                .order_by(_messages.c.status, _messages.c.created_at)
                .limit(limit)
            )
        ).scalars()
        for ident in due:
            enqueue(session, SEND_MESSAGE, dedup_key=_job_key(ident), message_id=str(ident))


#: Sends one outbox message (retried with backoff; each attempt is a claim, see ``OutboxConfig.max_attempts``).
SEND_MESSAGE = Job(
    "kernel.send_message",
    send_message,
    RetryPolicy(retries=5, backoff_seconds=5, max_backoff_seconds=300, timeout_seconds=120),
)
#: Converges the outbox: every minute, once across every process.
SWEEP_OUTBOX = PeriodicJob("kernel.sweep_outbox", sweep_outbox, cron="* * * * *")


def register(registry: JobRegistry) -> None:
    """Declare the outbox's jobs (the mailer reaches them as ``resources[RESOURCE]``, see ``config_from_settings``)."""
    registry.add(SEND_MESSAGE)
    registry.add_periodic(SWEEP_OUTBOX)
