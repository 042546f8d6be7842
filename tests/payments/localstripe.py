"""localstripe (a fake Stripe API server) for payment tests: one process per test session, its state wiped per test.

localstripe's own CLI (``localstripe --port N``) listens on every interface and reads and writes its state in
``/tmp/localstripe.pickle``, a path every checkout on the machine shares. ``start_localstripe`` runs its aiohttp app
from a small launcher instead, which:

- binds a free port on 127.0.0.1 itself (port 0) and prints it, so there is no race for a port;
- keeps the state in memory only (``Store.dump_to_disk`` is a no-op: localstripe otherwise pickles the whole store to
  ``/tmp`` on every write), so nothing is loaded from, or left for, another run;
- accepts ``allowed_payment_method_types`` on PaymentIntent create as its older name ``payment_method_types``: the
  Stripe API version stripe-python 16 pins (2026-10-28.endive) only knows the new name, localstripe 1.15 only the old.

``LocalStripe.reset`` wipes the state through localstripe's own ``DELETE /_config/data`` (``store.clear()``), which is
cheap enough to run before every test. No webhook endpoint is ever registered, so localstripe sends nothing anywhere.
"""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SECRET_KEY = "sk_test_12345"
PUBLISHABLE_KEY = "pk_test_12345"
WEBHOOK_SECRET = "whsec_test"

#: Stripe's test Visa that always succeeds (https://docs.stripe.com/testing#cards); localstripe knows it too.
TEST_CARD = "4242424242424242"

_LAUNCHER = """
import socket, sys
from aiohttp import web
from localstripe import resources
from localstripe.server import app

resources.Store.dump_to_disk = lambda self: None

_init = resources.PaymentIntent.__init__
def _payment_intent_init(self, *args, allowed_payment_method_types=None, **kwargs):
    if allowed_payment_method_types is not None:
        kwargs.setdefault("payment_method_types", allowed_payment_method_types)
    _init(self, *args, **kwargs)
resources.PaymentIntent.__init__ = _payment_intent_init

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(sock.getsockname()[1], flush=True)
web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)
"""


@dataclass(frozen=True)
class LocalStripe:
    """A running localstripe: ``url`` is its API base (``http://127.0.0.1:<port>``)."""

    url: str

    def reset(self) -> None:
        """Forget every object (customers, payment methods, intents, charges, refunds)."""
        httpx.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()

    async def reset_async(self, client: httpx.AsyncClient | None = None) -> None:
        """``reset`` from async code."""
        if client is None:
            async with httpx.AsyncClient() as own:
                (await own.delete(f"{self.url}/_config/data", timeout=5)).raise_for_status()
        else:
            (await client.delete(f"{self.url}/_config/data", timeout=5)).raise_for_status()

    async def post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        """A form-encoded ``POST /v1/...`` with the test secret key, as a client SDK would send; the JSON answer."""
        async with httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {SECRET_KEY}"}) as client:
            response = await client.post(path, data=data, timeout=5)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    async def pay_with_test_card(self, intent_id: str, card: str = TEST_CARD) -> dict[str, Any]:
        """What the guest's mobile SDK does: make a card PaymentMethod, attach it to the intent and confirm it.

        localstripe answers 500 to ``confirm`` with a ``payment_method``, so the method is set by an update first."""
        method = await self.post(
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": card,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        )
        await self.post(f"/v1/payment_intents/{intent_id}", {"payment_method": method["id"]})
        return await self.post(f"/v1/payment_intents/{intent_id}/confirm", {})


@contextmanager
def start_localstripe(log_path: Path, startup_seconds: float = 15) -> Iterator[LocalStripe]:
    """Run localstripe on 127.0.0.1 until the block ends (then terminate it, or kill it after 5 s).

    Its stderr goes to ``log_path``, quoted when it fails to start."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # the launcher is a constant: no shell, no outside input
            [sys.executable, "-c", _LAUNCHER], stdout=subprocess.PIPE, stderr=log
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.wait(timeout=5)
            raise RuntimeError(f"localstripe did not start: {log_path.read_text(errors='replace')[-2000:]}")
        server = LocalStripe(f"http://127.0.0.1:{int(line)}")
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                server.reset()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"localstripe did not answer: {log_path.read_text(errors='replace')[-2000:]}"
                    ) from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
