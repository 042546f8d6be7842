"""``benches/webhooks.py``: the signed events it sends are Stripe events our endpoint accepts, and a tiny run
(``--quick``: one worker, 2-second runs) prints the figures, the database check and the verdict. The real run is
``uv run python benches/webhooks.py``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from benches.webhooks import WEBHOOK_SECRET, EventSource
from src.kernel.config import PROJECT_ROOT
from src.payments.stripe import StripeProvider
from tests.conftest import TEST_DATABASE_URL


def test_the_event_file_holds_distinct_events_signed_with_the_bench_secret(tmp_path: Path) -> None:
    source = EventSource()
    path = tmp_path / "events"
    assert source.write(path, 50) == (1, 50)
    assert source.write_one(tmp_path / "one") == "evt_bench_51"
    provider = StripeProvider("sk_test_bench", "pk_test_bench", WEBHOOK_SECRET, api_base="http://127.0.0.1:9")
    ids = []
    for line in path.read_text().splitlines():
        signature, body = line.split("\t", 1)
        event = provider.verify_event(body.encode(), signature)
        assert event.type == "payment_intent.processing"
        assert json.loads(body)["data"]["object"]["id"].startswith("pi_bench_missing_")
        ids.append(event.id)
    assert ids == [f"evt_bench_{n}" for n in range(1, 51)]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="the benchmark runs on PostgreSQL only")
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_quick_run_prints_the_figures() -> None:
    base = make_url(TEST_DATABASE_URL)  # a scratch database beside the test one, named as conftest names them
    url = base.set(database=f"{base.database}_bench_webhooks").render_as_string(hide_password=False)
    command = [sys.executable, "benches/webhooks.py", "--quick", "--postgres-url", url]
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    command += ["--redis-url", redis_url] if redis_url else ["--runners", "inprocess"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAOCAI_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "events/s" in out
    assert "lost 0" in out
    assert "wrk -t1 -c16 -d2s --latency -s benches/webhooks.lua" in out
    assert "duplicate=true" in out
    if redis_url:
        assert "ingest only" in out
        assert "target (issue 8): ingest ≥ 1,000 events/s" in out
