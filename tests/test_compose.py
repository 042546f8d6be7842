"""The container files: compose.yaml wires the API to PostgreSQL, Redis and Meilisearch, and the Dockerfile builds it.

No Docker engine is needed: the files are parsed and checked for what a broken deployment would get wrong (an
unhealthy dependency not waited for, a database published to the host, a floating image tag, a lockfile ignored).
"""

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from src.kernel.config import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "compose.yaml"
SERVICES = ("api", "postgres", "redis", "meilisearch")
BACKING_SERVICES = ("postgres", "redis", "meilisearch")
#: A Compose duration: one or more number+unit parts, e.g. ``10s``, ``1m30s``, ``500ms``.
DURATION = re.compile(r"(\d+(\.\d+)?(us|ms|s|m|h))+")


@cache
def compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as file:
        document = yaml.safe_load(file)
    assert isinstance(document, dict)
    return document


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"compose.yaml has no service {name!r}"
    spec = services[name]
    assert isinstance(spec, dict)
    return spec


def environment(name: str) -> dict[str, str]:
    """A service's environment, from either the mapping or the ``KEY=value`` list syntax."""
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def published_ports(name: str) -> list[tuple[str | None, str]]:
    """``(host port or None, container port)`` for each ``ports`` entry, short or long syntax."""
    published: list[tuple[str | None, str]] = []
    for entry in service(name).get("ports") or []:
        if isinstance(entry, dict):
            host = entry.get("published")
            published.append((None if host is None else str(host), str(entry["target"])))
            continue
        parts = str(entry).split("/", 1)[0].split(":")  # [[ip:]host:]container[/protocol]
        published.append((parts[-2] if len(parts) >= 2 else None, parts[-1]))
    return published


def dockerfile_path() -> Path:
    build = service("api")["build"]
    if isinstance(build, str):
        build = {"context": build}
    return COMPOSE_FILE.parent / str(build.get("context", ".")) / str(build.get("dockerfile", "Dockerfile"))


@cache
def dockerfile_instructions() -> tuple[tuple[str, str], ...]:
    """``(INSTRUCTION, arguments)`` pairs, with line continuations joined and comment lines dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile_path().read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return tuple(instructions)


def final_stage() -> list[tuple[str, str]]:
    instructions = list(dockerfile_instructions())
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def command_words(arguments: str) -> list[str]:
    """The words of a ``CMD``/``RUN``: exec form (JSON array) or shell form."""
    if arguments.startswith("["):
        words = json.loads(arguments)
        assert isinstance(words, list)
        return [str(word) for word in words]
    return shlex.split(arguments)


# compose.yaml


def test_compose_file_follows_the_compose_specification() -> None:
    assert "version" not in compose(), "the Compose Specification has no top-level version"
    assert set(SERVICES) <= set(compose()["services"])


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_a_complete_healthcheck(name: str) -> None:
    healthcheck = service(name).get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck.get("test")
    assert test, f"{name}: healthcheck without a test"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}
        assert len(test) > 1
    for key in ("interval", "timeout"):
        assert DURATION.fullmatch(str(healthcheck.get(key, ""))), f"{name}: healthcheck {key} missing or malformed"
    assert isinstance(healthcheck.get("retries"), int)
    assert healthcheck["retries"] > 0
    if "start_period" in healthcheck:
        assert DURATION.fullmatch(str(healthcheck["start_period"]))


def test_api_waits_for_healthy_backing_services() -> None:
    depends_on = service("api").get("depends_on")
    assert isinstance(depends_on, dict), "depends_on must use the long syntax to carry a condition"
    for name in BACKING_SERVICES:
        assert name in depends_on, f"api does not depend on {name}"
        assert depends_on[name].get("condition") == "service_healthy", f"api does not wait for a healthy {name}"


def test_api_healthcheck_probes_readiness() -> None:
    test = service("api")["healthcheck"]["test"]
    probe = " ".join(test) if isinstance(test, list) else test
    assert "/health/ready" in probe


def test_only_the_api_publishes_a_port() -> None:
    assert ("8000", "8000") in published_ports("api")
    for name in compose()["services"]:
        if name != "api":
            assert not published_ports(name), f"{name} publishes a port to the host"


def test_api_environment_points_at_the_compose_services() -> None:
    env = environment("api")
    database = make_url(env["LAOCAI_DATABASE_URL"])
    assert database.drivername == "postgresql+asyncpg"
    assert database.host == "postgres"
    assert database.database == service("postgres")["environment"]["POSTGRES_DB"]
    assert database.username == service("postgres")["environment"]["POSTGRES_USER"]
    redis = urlsplit(env["LAOCAI_REDIS_URL"])
    assert redis.scheme == "redis"
    assert redis.hostname == "redis"
    meili = urlsplit(env["LAOCAI_MEILI_URL"])
    assert meili.hostname == "meilisearch"
    assert env["LAOCAI_MEILI_KEY"] == environment("meilisearch")["MEILI_MASTER_KEY"]


def test_api_runs_in_production_with_a_required_jwt_secret() -> None:
    # Production refuses placeholder keys (src/kernel/auth/signing_key.py), so compose must not ship a default:
    # ``${VAR:?message}`` makes ``docker compose up`` stop when the operator did not set one.
    env = environment("api")
    assert env["LAOCAI_ENV"] == "production"
    secret = env["LAOCAI_JWT_SECRET"]
    assert re.fullmatch(r"\$\{LAOCAI_JWT_SECRET:\?[^}]+\}", secret), secret


@pytest.mark.parametrize("name", SERVICES)
def test_images_are_pinned_to_a_version(name: str) -> None:
    spec = service(name)
    if "build" in spec and "image" not in spec:
        return  # built locally from the Dockerfile
    reference = str(spec.get("image", ""))
    assert reference, f"{name} has neither build nor image"
    if "@sha256:" in reference:
        return  # pinned by digest
    repository, _, tag = reference.rpartition(":")
    assert repository, f"{name}: image {reference!r} has no tag"
    assert "/" not in tag, f"{name}: image {reference!r} has no tag"
    assert tag != "latest", f"{name}: image {reference!r} floats on latest"
    assert re.match(r"v?\d+", tag), f"{name}: image {reference!r} is not pinned to a version"


# Dockerfile


def test_dockerfile_exists_for_the_api_build() -> None:
    assert dockerfile_path().is_file()


def test_dockerfile_runs_laocai_serve() -> None:
    commands = [arguments for keyword, arguments in final_stage() if keyword == "CMD"]
    assert commands, "the final stage has no CMD"
    assert command_words(commands[-1])[:2] == ["laocai", "serve"]


def test_dockerfile_installs_from_the_lockfile() -> None:
    syncs = [
        arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN" and "uv sync" in arguments
    ]
    assert syncs, "the Dockerfile never runs uv sync"
    for arguments in syncs:
        assert "--frozen" in arguments.split(), f"uv sync without --frozen: {arguments}"
        assert "--no-dev" in arguments.split(), f"uv sync installs the dev group: {arguments}"


def test_dockerfile_runs_unprivileged_and_checks_its_health() -> None:
    stage = final_stage()
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(keyword == "EXPOSE" and "8000" in arguments.split() for keyword, arguments in stage)
    assert any(keyword == "HEALTHCHECK" and "/health/live" in arguments for keyword, arguments in stage)


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var", "tests", "benches"} <= ignored


def test_jobs_run_somewhere() -> None:
    # With Redis, `laocai serve` runs no worker unless asked: webhook processing, refunds and email would never run.
    runs_in_api = str(environment("api").get("LAOCAI_WORKER_IN_PROCESS", "")).lower() == "true"
    worker_services = [
        name for name in compose()["services"] if "worker" in " ".join(map(str, service(name).get("command") or []))
    ]
    assert runs_in_api or worker_services, "no process runs the Redis job queue"
