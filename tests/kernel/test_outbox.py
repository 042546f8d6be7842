"""The email outbox (``src/kernel/outbox.py``): written in the caller's transaction, sent after commit to a real SMTP
server on loopback (aiosmtpd), never written or sent twice, retried while SMTP is down, swept when a job was lost."""

import asyncio
import email
import email.policy
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from src.app import job_registry
from src.kernel import outbox
from src.kernel.config import Settings
from src.kernel.db import create_engine, unit_of_work, utcnow
from src.kernel.jobs import InProcessRunner, Job, JobContext, JobRegistry, PendingJob, RetryPolicy, bind
from src.payments import messages
from tests.conftest import free_port, migrated_database

MAIL_FROM = "Lào Cai Travel <no-reply@laocai.travel>"
_rows = outbox.OutboxMessage.__table__  # type: ignore[attr-defined]


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd's hook name)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 OK"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.received]


class SmtpServer:
    """A real SMTP server on a loopback port that can be taken down and brought back."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="module")
async def outbox_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database of its own (PostgreSQL: a scratch database, so other suites are not disturbed)."""
    return await migrated_database(backend, tmp_path_factory.mktemp(f"outbox-{backend}"), scratch="outbox")


@pytest.fixture
async def engine(outbox_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(outbox_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


class Recorded:
    """A job backend that keeps committed jobs instead of running them."""

    def __init__(self) -> None:
        self.registry = JobRegistry()
        outbox.register(self.registry)
        self.sent: list[PendingJob] = []

    async def send(self, jobs: Iterable[PendingJob]) -> None:
        self.sent.extend(jobs)


def config_for(port: int, **options: Any) -> outbox.OutboxConfig:
    mailer = outbox.SmtpMailer("127.0.0.1", port, starttls=False, timeout=2, password=options.pop("password", ""))
    return outbox.OutboxConfig(mailer=mailer, mail_from=MAIL_FROM, **options)


async def start_runner(engine: AsyncEngine, config: outbox.OutboxConfig, retries: int = 3) -> InProcessRunner:
    """An in-process runner of the outbox's jobs with quick retries (the real ``SEND_MESSAGE`` waits seconds)."""
    registry = JobRegistry()
    policy = RetryPolicy(retries=retries, backoff_seconds=0.05, max_backoff_seconds=0.1, timeout_seconds=10)
    registry.add(Job(outbox.SEND_MESSAGE.name, outbox.send_message, policy))
    registry.add(outbox.SWEEP_OUTBOX.job)
    runner = InProcessRunner(registry, engine, concurrency=4, resources={outbox.RESOURCE: config})
    await runner.start()
    bind(engine, runner)
    return runner


async def stop_runner(engine: AsyncEngine, runner: InProcessRunner) -> None:
    bind(engine, None)
    await runner.stop(1)


async def add(engine: AsyncEngine, key: str, **overrides: Any) -> bool:
    async with unit_of_work(engine) as session:
        return await outbox.add_message(
            session,
            dedup_key=key,
            category="test",
            to_address="guest@example.org",
            locale="en",
            subject="Hello",
            body_text="Hello there.\n",
            now=utcnow(),
            **overrides,
        )


async def row(engine: AsyncEngine, key: str) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(select(_rows).where(_rows.c.dedup_key == key))).one()


async def count(engine: AsyncEngine, key: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).where(_rows.c.dedup_key == key)) or 0)


def context(engine: AsyncEngine, config: outbox.OutboxConfig) -> JobContext:
    return JobContext(engine=engine, name=outbox.SEND_MESSAGE.name, attempt=1, resources={outbox.RESOURCE: config})


def key() -> str:
    return f"test:{uuid.uuid4()}"


async def test_a_committed_message_reaches_smtp_once_in_the_guests_locale(
    engine: AsyncEngine, smtp: SmtpServer
) -> None:
    runner = await start_runner(engine, config_for(smtp.port))
    stay = messages.MessageContext(
        code="LC7K2Q9X",
        property_name="Homestay Tả Van",
        guest_name="Nguyễn Văn An",
        check_in=date(2026, 12, 24),
        check_out=date(2026, 12, 27),
        nights=3,
        amount=1_850_000,
        currency="VND",
    )
    dedup = key()
    try:
        for _ in range(2):  # the same announcement replayed: one row, one email
            async with unit_of_work(engine) as session:
                await messages.queue(
                    session,
                    "reservation_confirmed",
                    to_address="an@example.org",
                    locale="vi",
                    context=stay,
                    dedup_key=dedup,
                    now=utcnow(),
                )
        await runner.drain(10)
    finally:
        await stop_runner(engine, runner)
    assert await count(engine, dedup) == 1
    stored = await row(engine, dedup)
    assert (stored.status, stored.attempts, stored.reference, stored.category) == (
        "sent",
        1,
        "LC7K2Q9X",
        "reservation_confirmed",
    )
    assert stored.sent_at is not None
    assert len(smtp.inbox.received) == 1
    received = smtp.inbox.received[0]
    assert received["Message-ID"] == f"<{stored.id}@laocai.travel>"
    assert received["Content-Language"] == "vi"
    assert received["To"] == "an@example.org"
    assert received["From"].addresses[0].display_name == "Lào Cai Travel"
    assert received["Subject"] == "Đặt phòng LC7K2Q9X của bạn tại Homestay Tả Van đã được xác nhận"
    plain = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert plain is not None
    assert html is not None
    body = plain.get_content()
    assert "1.850.000\xa0₫" in body  # Babel's Vietnamese currency format (a no-break space before ₫)
    assert "Thứ Năm, 24 tháng 12, 2026" in body
    assert 'lang="vi"' in html.get_content()


async def test_running_the_job_twice_and_twice_at_once_sends_one_email(engine: AsyncEngine, smtp: SmtpServer) -> None:
    config = config_for(smtp.port)
    recorded = Recorded()
    bind(engine, recorded)  # the committed job is kept, and run by hand below
    try:
        dedup = key()
        assert await add(engine, dedup)
    finally:
        bind(engine, None)
    ident = str((await row(engine, dedup)).id)
    assert [(job.name, job.kwargs, job.key) for job in recorded.sent] == [
        (outbox.SEND_MESSAGE.name, {"message_id": ident}, f"outbox:{ident}")
    ]
    await asyncio.gather(*(outbox.send_message(context(engine, config), message_id=ident) for _ in range(2)))
    await outbox.send_message(context(engine, config), message_id=ident)
    assert len(smtp.inbox.received) == 1
    stored = await row(engine, dedup)
    assert (stored.status, stored.attempts) == ("sent", 1)


async def test_a_rolled_back_transaction_leaves_no_message_and_sends_nothing(
    engine: AsyncEngine, smtp: SmtpServer
) -> None:
    runner = await start_runner(engine, config_for(smtp.port))
    dedup = key()
    try:
        with pytest.raises(RuntimeError, match="the booking failed"):  # noqa: PT012  (the block is the unit of work)
            async with unit_of_work(engine) as session:
                await outbox.add_message(
                    session,
                    dedup_key=dedup,
                    category="test",
                    to_address="guest@example.org",
                    locale="en",
                    subject="Hello",
                    body_text="Hello.\n",
                    now=utcnow(),
                )
                raise RuntimeError("the booking failed")
        await runner.drain(5)
    finally:
        await stop_runner(engine, runner)
    assert await count(engine, dedup) == 0
    assert smtp.inbox.received == []


async def test_smtp_down_is_retried_and_the_message_sent_once_it_is_back(engine: AsyncEngine) -> None:
    server = SmtpServer()  # not started: connections are refused
    runner = await start_runner(engine, config_for(server.port), retries=60)
    dedup = key()
    try:
        assert await add(engine, dedup)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until a second attempt has failed
            now = await row(engine, dedup)
            if now.attempts >= 2 and now.status == "pending":
                break
            await asyncio.sleep(0.02)
        failed = await row(engine, dedup)
        assert failed.status == "pending"
        assert "ConnectionRefusedError" in failed.last_error
        assert failed.attempts >= 2
        server.start()
        await runner.drain(10)
    finally:
        await stop_runner(engine, runner)
        server.stop()
    stored = await row(engine, dedup)
    assert stored.status == "sent"
    assert stored.attempts >= 3
    assert len(server.inbox.received) == 1


async def test_after_max_attempts_the_message_is_failed_with_an_error_free_of_secrets(engine: AsyncEngine) -> None:
    runner = await start_runner(engine, config_for(free_port(), max_attempts=2, password="s3cret-pass"), retries=5)
    dedup = key()
    try:
        assert await add(engine, dedup)
        await runner.drain(10)
    finally:
        await stop_runner(engine, runner)
    stored = await row(engine, dedup)
    assert (stored.status, stored.attempts, stored.lease_until) == ("failed", 2, None)
    assert "ConnectionRefusedError" in stored.last_error
    assert "s3cret" not in stored.last_error
    assert runner.failed == 0  # a message given up on is an outcome, not a crashed job


async def test_the_sweep_sends_a_lost_pending_message_and_an_expired_lease(
    engine: AsyncEngine, smtp: SmtpServer
) -> None:
    config = config_for(smtp.port, sweep_grace_seconds=0)
    lost, abandoned = key(), key()
    async with unit_of_work(engine) as session:  # written with no job backend bound: both jobs are "lost"
        connection = await session.connection()
        for dedup in (lost, abandoned):
            await connection.execute(
                _rows.insert().values(
                    id=uuid.uuid4(),
                    dedup_key=dedup,
                    category="test",
                    to_address="guest@example.org",
                    locale="en",
                    subject="Hello",
                    body_text="Hello.\n",
                    status="pending",
                    attempts=0,
                    created_at=utcnow() - timedelta(minutes=5),
                )
            )
        await connection.execute(  # a worker claimed it and died before marking it sent
            update(_rows)
            .where(_rows.c.dedup_key == abandoned)
            .values(status="sending", attempts=1, lease_until=utcnow() - timedelta(seconds=1))
        )
    runner = await start_runner(engine, config)
    try:
        await outbox.sweep_outbox(context(engine, config))
        await runner.drain(10)
    finally:
        await stop_runner(engine, runner)
    assert [(await row(engine, d)).status for d in (lost, abandoned)] == ["sent", "sent"]
    assert (await row(engine, abandoned)).attempts == 2
    assert len(smtp.inbox.received) == 2


async def test_the_folder_mailer_writes_one_eml_file_and_is_idempotent(tmp_path: Path) -> None:
    ident = uuid.uuid4()
    message = outbox.build_email(
        message_id=ident,
        mail_from=MAIL_FROM,
        to_address="guest@example.org",
        locale="fr",
        subject="Réservation confirmée",
        body_text="Bonjour,\n",
        body_html="<p>Bonjour,</p>",
        created_at=utcnow(),
    )
    mailer = outbox.FolderMailer(tmp_path / "outbox")
    await mailer.send(message)
    target = tmp_path / "outbox" / f"{ident}.eml"
    first = target.read_bytes()
    await mailer.send(message)
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [f"{ident}.eml"]
    assert target.read_bytes() == first
    parsed = email.message_from_bytes(first, policy=email.policy.default)
    assert parsed["Message-ID"] == f"<{ident}@laocai.travel>"
    assert parsed["Subject"] == "Réservation confirmée"


async def test_the_outbox_table_refuses_an_unknown_status(engine: AsyncEngine) -> None:
    dedup = key()
    with pytest.raises(Exception, match=r"(?i)check"):
        async with unit_of_work(engine) as session:
            await (await session.connection()).execute(
                _rows.insert().values(
                    id=uuid.uuid4(),
                    dedup_key=dedup,
                    category="t",
                    to_address="a@example.org",
                    locale="en",
                    subject="s",
                    body_text="b",
                    status="lost",
                    attempts=0,
                    created_at=utcnow(),
                )
            )


def test_settings_choose_the_mailer_and_the_app_registers_the_outbox_jobs(tmp_path: Path) -> None:
    folder = outbox.config_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(folder.mailer, outbox.FolderMailer)
    assert folder.mailer.folder == tmp_path / "outbox"
    assert folder.mail_from == "Lào Cai Travel <no-reply@laocai.travel>"
    smtp = outbox.build_mailer(
        Settings(data_dir=tmp_path, smtp_host="mail.example.org", smtp_port=465, smtp_ssl=True, smtp_password="pw")
    )
    assert isinstance(smtp, outbox.SmtpMailer)
    assert (smtp.host, smtp.port, smtp.use_ssl) == ("mail.example.org", 465, True)
    registry = job_registry()
    assert registry.get("kernel.send_message") is outbox.SEND_MESSAGE
    assert registry.periodic["kernel.sweep_outbox"].cron == "* * * * *"
