"""The JWT signing key rules (production refuses weak or missing keys; development generates one per data dir,
once, even when several processes start together) and the guest lookup tokens."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from src.kernel.auth.signing_key import KEY_FILE_NAME, WeakSigningKey, resolve_signing_key, secret_problem
from src.kernel.auth.tokens import issue_lookup_token, token_digest, verify_lookup_token
from src.kernel.config import Settings
from tests.conftest import cli_env, free_port

STRONG = "q8Zr3-KxV1pW0bN7yT5uE2mA9sD4fG6hJ1kL0zX"  # 40 random-looking characters


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "short-but-random-Zx81",
        "change-me",
        "changeme-changeme-changeme-changeme",
        "change-me-to-a-long-random-string-in-production",
        "please-replace-me-with-a-real-secret-value",
        "secret" * 6,
        "a" * 64,
        "laocai-dev-jwt-secret-do-not-use-in-production",
    ],
)
def test_production_refuses_missing_short_or_placeholder_secrets(secret: str, tmp_path: Path) -> None:
    assert secret_problem(secret) is not None
    settings = Settings(env="production", jwt_secret=SecretStr(secret), data_dir=tmp_path)
    with pytest.raises(WeakSigningKey, match="LAOCAI_ENV=production"):
        resolve_signing_key(settings)
    assert not (tmp_path / KEY_FILE_NAME).exists()  # production never falls back to a generated key


def test_production_accepts_a_strong_secret(tmp_path: Path) -> None:
    settings = Settings(env="production", jwt_secret=SecretStr(STRONG), data_dir=tmp_path)
    assert resolve_signing_key(settings) == STRONG


def test_development_generates_one_key_per_data_dir(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    first = resolve_signing_key(settings)
    path = tmp_path / "var" / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.encode()) >= 32
    assert "generated a development JWT signing key" in caplog.text
    assert resolve_signing_key(Settings(data_dir=tmp_path / "var")) == first
    assert resolve_signing_key(Settings(data_dir=tmp_path / "other")) != first
    # An explicit secret wins in development too.
    assert resolve_signing_key(Settings(data_dir=tmp_path / "var", jwt_secret=SecretStr(STRONG))) == STRONG


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    script = (
        "import sys, time; from pathlib import Path;"
        "from src.kernel.config import Settings; from src.kernel.auth.signing_key import resolve_signing_key;"
        "start = float(sys.argv[1]); time.sleep(max(0.0, start - time.time()));"
        f"print(resolve_signing_key(Settings(data_dir=Path({str(data_dir)!r}))))"
    )
    start = time.time() + 1.5
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(start)], stdout=subprocess.PIPE, env=cli_env())
        for _ in range(4)
    ]
    try:
        keys = {process.communicate(timeout=30)[0].decode().strip() for process in processes}
    finally:
        for process in processes:
            process.kill()
    assert len(keys) == 1
    assert keys == {(data_dir / KEY_FILE_NAME).read_text().strip()}
    assert [name for name in os.listdir(data_dir) if name != KEY_FILE_NAME] == []  # no temporary file left


def test_serve_refuses_to_start_in_production_without_a_secret(tmp_path: Path) -> None:
    env = cli_env(data_dir=str(tmp_path / "var"), env="production")
    command = [sys.executable, "-m", "src.cli", "serve", "--port", str(free_port())]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "LAOCAI_JWT_SECRET is not set" in result.stderr
    assert not (tmp_path / "var" / "laocai.sqlite3").exists()  # refused before migrating anything
    env["LAOCAI_JWT_SECRET"] = "change-me"
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "shorter than 32 bytes" in result.stderr


# guest lookup tokens


def test_lookup_tokens_are_random_and_only_their_hash_is_kept() -> None:
    tokens = [issue_lookup_token() for _ in range(50)]
    assert len({token for token, _ in tokens}) == 50
    for token, stored in tokens:
        assert len(token) >= 43  # 32 random bytes in base64url: 256 bits
        assert stored == token_digest(token)
        assert token not in stored
        assert verify_lookup_token(token, stored)
    token, stored = tokens[0]
    assert not verify_lookup_token(tokens[1][0], stored)
    assert not verify_lookup_token(token[:-1], stored)
    assert not verify_lookup_token("", stored)
    assert not verify_lookup_token(None, stored)
    assert not verify_lookup_token("x" * 10_000, stored)
