"""Payment fixtures: localstripe once per session on 127.0.0.1 (``localstripe_url``), wiped before each test that
takes ``stripe_provider`` (a ``StripeProvider`` pointed at it, so no test ever reaches api.stripe.com)."""

from collections.abc import AsyncIterator, Iterator

import pytest

from src.payments.stripe import StripeProvider
from tests.payments.localstripe import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET, LocalStripe, start_localstripe


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    with start_localstripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log") as server:
        yield server


@pytest.fixture(scope="session")
def localstripe_url(localstripe: LocalStripe) -> str:
    return localstripe.url


@pytest.fixture
async def stripe_provider(localstripe: LocalStripe) -> AsyncIterator[StripeProvider]:
    await localstripe.reset_async()
    provider = StripeProvider(
        SECRET_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET, api_base=localstripe.url, timeout_seconds=5, max_retries=0
    )
    try:
        yield provider
    finally:
        await provider.aclose()
