"""Two real ``laocai serve`` processes (uvicorn, two ports) on one ``LAOCAI_DATA_DIR`` (SQLite and the embedded
index): an editor's change committed through one is found by a search on the other within a few seconds.

Path of the change: process A commits the edit and, after the commit, runs the ``guide.catalogue_changed`` job in
its in-process runner, which writes the shared index (one writer at a time: tantivy's lock); process B's reader
sees the commit within ``LAOCAI_SEARCH_RELOAD_SECONDS``. No Redis, no shared memory: only the data dir.

With ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` the same runs on PostgreSQL with the jobs on Redis (SAQ, a
worker in each server): the job may run in either process, and B still finds the edit.
"""

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    cli_env,
    free_port,
    reset_postgres,
    scratch_postgres_url,
    stop_process,
    wait_until_ready,
)

PASSWORD = "an editor's long password"
CLI = (sys.executable, "-m", "src.cli")


@contextlib.contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[str]:
    """One ``laocai serve`` on a free loopback port; its base URL. Terminated (then killed) on exit."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "src.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            ready = wait_until_ready(base, process, seconds=90)
            assert ready is not None, log.read_text(errors="replace")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["search"] == "ok", ready.text
            yield base
        finally:
            stop_process(process)


async def _scratch_database() -> str:
    url = await scratch_postgres_url("search_two_servers")
    await reset_postgres(url)
    return url


SETUPS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL and TEST_REDIS_URL else [])]


@pytest.mark.parametrize("setup", SETUPS)
def test_an_edit_through_one_server_is_found_on_the_other(tmp_path: Path, setup: str) -> None:
    data_dir = tmp_path / "var"
    settings = {
        "data_dir": str(data_dir),
        "search_reload_seconds": "0.2",
        "rate_limit_public": "off",
        "rate_limit_auth": "off",
    }
    if setup == "postgresql":
        settings.update(
            database_url=asyncio.run(_scratch_database()),
            redis_url=TEST_REDIS_URL,
            worker_in_process="true",
            jobs_queue=f"two-servers-{tmp_path.name[-12:]}".replace("_", "-"),
            jobs_sweep_seconds="1",
        )
    env = cli_env(**settings)
    created = subprocess.run(
        [*CLI, "create-user", "--email", "editor@example.vn", "--role", "editor", "--password-stdin"],
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    with server(env, tmp_path / "a.log") as a, server(env, tmp_path / "b.log") as b, httpx.Client(timeout=10) as http:

        def hits(base: str, q: str) -> list[str]:
            response = http.get(f"{base}/v1/search", params={"q": q})
            assert response.status_code == 200, response.text
            return [hit["id"] for hit in response.json()["hits"]]

        assert hits(b, "sapa")[0] == "sa-pa"  # B answers from the index A built at its start
        assert "o-quy-ho" not in hits(b, "ventoquilo")
        tokens = http.post(f"{a}/v1/auth/login", json={"email": "editor@example.vn", "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        editor = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        etag = http.get(f"{a}/v1/editor/destinations/o-quy-ho", headers=editor).headers["etag"]
        edited = http.patch(
            f"{a}/v1/editor/destinations/o-quy-ho",
            json={"name": "Đèo Ventoquilo"},
            headers={**editor, "If-Match": etag},
        )
        assert edited.status_code == 200, edited.text
        committed = time.monotonic()
        while "o-quy-ho" not in hits(b, "ventoquilo"):
            assert time.monotonic() - committed < 10, (tmp_path / "a.log").read_text(errors="replace")[-3000:]
            time.sleep(0.1)
        took = time.monotonic() - committed
        assert took < 10
        # B's catalogue reads the same database: the new name there too (B's response cache had no copy).
        assert http.get(f"{b}/v1/destinations/o-quy-ho").json()["name"] == "Đèo Ventoquilo"
        print(f"{setup}: edit through A found by a search on B after {took:.2f} s")
