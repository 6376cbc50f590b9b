"""``make images``: which engine builds, and what each build is told."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from images import PROCESSES, ImageError, build_command, choose_engine, image_name

ROOT = Path(__file__).resolve().parents[2]


def _which(*present: str) -> Callable[[str], str | None]:
    return lambda name: f"/usr/bin/{name}" if name in present else None


def test_docker_builds_only_when_its_daemon_answers() -> None:
    both = _which("docker", "podman")
    assert choose_engine({}, lambda: True, both) == "docker"
    assert choose_engine({}, lambda: False, both) == "podman"


def test_the_environment_names_the_engine() -> None:
    assert choose_engine({"CONTAINER_ENGINE": "podman"}, lambda: True) == "podman"
    with pytest.raises(ImageError, match="docker or podman"):
        choose_engine({"CONTAINER_ENGINE": "nerdctl"})


def test_no_engine_is_a_clear_error() -> None:
    with pytest.raises(ImageError, match="no container engine"):
        choose_engine({}, lambda: False, _which())


def test_images_are_named_as_compose_runs_them() -> None:
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    for process in PROCESSES:
        assert image_name(process, {}) == services[process]["image"]
    assert image_name("gateway", {"IMAGE_REPOSITORY": "r.example/c", "IMAGE_TAG": "1"}) == (
        "r.example/c/gateway:1"
    )


def test_podman_builds_in_docker_format_so_the_healthcheck_survives() -> None:
    assert "--format" not in build_command("docker", "gateway", {})
    command = build_command("podman", "gateway", {})
    assert command[command.index("--format") + 1] == "docker"
    assert command[-1] == "."
    assert command[4:6] == ["--target", "gateway"]
    assert "SERVICE=gateway" in command


def test_base_image_extra_certificates_and_flags_are_passed_on(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    command = build_command(
        "docker",
        "issuance-service",
        {
            "PYTHON_IMAGE": "localhost/base:1",
            "EXTRA_CA_CERTS_FILE": str(pem),
            "IMAGE_BUILD_FLAGS": "--network host --pull=never",
        },
    )
    assert "PYTHON_IMAGE=localhost/base:1" in command
    assert f"EXTRA_CA_CERTS={pem.read_text().strip()}" in command
    assert command[-4:] == ["--network", "host", "--pull=never", "."]
