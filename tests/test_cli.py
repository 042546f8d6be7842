"""``laocai serve`` end to end on a fresh data folder: migrations, catalogue import, real HTTP on loopback."""

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from src.app import create_app
from src.kernel.config import Settings
from tests.conftest import (
    TEST_DATABASE_URL,
    cli_env,
    free_port,
    reset_postgres,
    scratch_postgres_url,
    wait_until_ready,
)


def test_serve_on_a_fresh_data_dir(tmp_path: Path) -> None:
    port = free_port()
    env = cli_env(data_dir=str(tmp_path / "var"))
    command = [sys.executable, "-m", "src.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        ready = wait_until_ready(base, process, seconds=60)
        assert ready is not None, "server never answered"
        assert ready.status_code == 200
        assert (tmp_path / "var" / "laocai.sqlite3").exists()
        page = httpx.get(f"{base}/v1/destinations", params={"limit": 100}, timeout=5).json()
        assert len(page["items"]) == 100
        assert page["next_cursor"]
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=15)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0].decode(errors="replace")
    assert "catalogue import: inserted" in output, output
    assert "sample properties (fictional, is_sample): owner created" in " ".join(output.split()), output


def test_import_catalogue_twice_changes_nothing(tmp_path: Path) -> None:
    env = cli_env(data_dir=str(tmp_path / "var"))
    command = [sys.executable, "-m", "src.cli", "import-catalogue"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "inserted destination=" in first.stderr
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "catalogue import: no changes" in second.stderr


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_two_processes_preparing_one_empty_postgres_database_take_turns(tmp_path: Path) -> None:
    # Two servers (or a server and an import) starting together on an empty database: the advisory lock makes the
    # second wait for the first's migrations and import instead of colliding on the same rows.
    url = await scratch_postgres_url("laocai_test_cli_race")
    await reset_postgres(url)
    env = cli_env(database_url=url)
    command = [sys.executable, "-m", "src.cli", "import-catalogue"]
    processes = [
        await asyncio.create_subprocess_exec(*command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in "ab"
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=180)
    outputs = [stdout.decode(errors="replace") for stdout, _ in results]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sum("inserted destination=" in out for out in outputs) == 1, outputs
    assert sum("catalogue import: no changes" in out for out in outputs) == 1, outputs


def test_create_user_makes_an_admin_who_can_log_in(tmp_path: Path) -> None:
    env = cli_env(data_dir=str(tmp_path / "var"))
    command = [
        sys.executable,
        "-m",
        "src.cli",
        "create-user",
        "--email",
        "Root@Example.VN",
        "--role",
        "admin",
        "--role",
        "editor",
        "--password-stdin",
    ]
    created = subprocess.run(
        command, env=env, input="a long admin password\n", capture_output=True, text=True, timeout=120, check=False
    )
    assert created.returncode == 0, created.stderr
    assert "roles admin, editor" in created.stdout
    assert "a long admin password" not in created.stderr + created.stdout
    again = subprocess.run(
        command, env=env, input="another password!\n", capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode != 0
    assert "exists already" in again.stderr
    empty = subprocess.run(command, env=env, input="", capture_output=True, text=True, timeout=60, check=False)
    assert empty.returncode != 0
    assert "no password" in empty.stderr
    no_flag = subprocess.run(
        command[:-1], env=env, input="x" * 12, capture_output=True, text=True, timeout=60, check=False
    )
    assert no_flag.returncode != 0
    assert "--password-stdin" in no_flag.stderr

    async def log_in() -> None:
        app = create_app(Settings(data_dir=tmp_path / "var"))
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                tokens = await client.post(
                    "/v1/auth/login", json={"email": "root@example.vn", "password": "a long admin password"}
                )
                assert tokens.status_code == 200, tokens.text
                headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
                users = await client.get("/v1/admin/users", headers=headers)
                assert users.status_code == 200
                assert [item["roles"] for item in users.json()["items"]] == [["admin", "editor"]]
        finally:
            for hook in app.on_shutdown:
                await hook(app)  # type: ignore[call-arg,misc]

    asyncio.run(log_in())


def test_worker_exits_with_the_reason_when_redis_does_not_answer(tmp_path: Path) -> None:
    # It used to start anyway and log a traceback every second, forever, without serving a job.
    env = cli_env(data_dir=str(tmp_path / "var"), redis_url=f"redis://:secret@127.0.0.1:{free_port()}/0")
    worker = subprocess.run(
        [sys.executable, "-m", "src.cli", "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert worker.returncode == 1, worker.stdout + worker.stderr
    assert "cannot reach Redis at redis://:***@127.0.0.1" in worker.stderr
    assert "secret" not in worker.stdout + worker.stderr
    assert "Traceback" not in worker.stderr
