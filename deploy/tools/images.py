"""``make images``: the five process images, built with Docker or Podman.

    python deploy/tools/images.py [PROCESS ...]

The engine is Docker when its daemon answers, else Podman; ``CONTAINER_ENGINE=docker`` or
``podman`` decides instead. Images are tagged ``$IMAGE_REPOSITORY/<process>:$IMAGE_TAG``
(default ``coupon/<process>:local``, what deploy/compose.yaml runs). From the environment
too, when set:

- ``PYTHON_IMAGE``: the base image of both stages (the Dockerfile's default otherwise);
- ``EXTRA_CA_CERTS_FILE``: a PEM file whose certificates pip trusts in the build stage,
  for a network whose proxy intercepts TLS;
- ``IMAGE_BUILD_FLAGS``: more flags for the engine's ``build``.

Podman builds in Docker's image format, which keeps the ``HEALTHCHECK``. Standard library
only: it runs before any virtualenv exists. Each build is bounded by BUILD_TIMEOUT_S; the
time each took and the image's size are printed at the end.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = (
    "gateway",
    "promotion-service",
    "issuance-service",
    "redemption-service",
    "webhook-service",
)
ENGINES = ("docker", "podman")
BUILD_TIMEOUT_S = 900
DOCKER_INFO_TIMEOUT_S = 10


class ImageError(RuntimeError):
    """No engine to build with, or a build that failed."""


def docker_answers() -> bool:
    """Whether a Docker daemon answers (a ``docker`` client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=DOCKER_INFO_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def choose_engine(
    env: Mapping[str, str],
    has_docker: Callable[[], bool] = docker_answers,
    which: Callable[[str], str | None] = shutil.which,
) -> str:
    chosen = env.get("CONTAINER_ENGINE", "")
    if chosen:
        if chosen not in ENGINES:
            raise ImageError(f"CONTAINER_ENGINE must be docker or podman, not {chosen!r}")
        return chosen
    if has_docker():
        return "docker"
    if which("podman"):
        return "podman"
    raise ImageError("no container engine: start a Docker daemon or install podman")


def image_name(process: str, env: Mapping[str, str]) -> str:
    repository = env.get("IMAGE_REPOSITORY") or "coupon"
    return f"{repository}/{process}:{env.get('IMAGE_TAG') or 'local'}"


def build_command(engine: str, process: str, env: Mapping[str, str]) -> list[str]:
    command = [engine, "build", "-f", "deploy/Dockerfile", "--target", process]
    command += ["--build-arg", f"SERVICE={process}", "-t", image_name(process, env)]
    if engine == "podman":
        command += ["--format", "docker"]
    if env.get("PYTHON_IMAGE"):
        command += ["--build-arg", f"PYTHON_IMAGE={env['PYTHON_IMAGE']}"]
    if env.get("EXTRA_CA_CERTS_FILE"):
        certificates = Path(env["EXTRA_CA_CERTS_FILE"]).read_text()
        command += ["--build-arg", f"EXTRA_CA_CERTS={certificates.strip()}"]
    command += shlex.split(env.get("IMAGE_BUILD_FLAGS", ""))
    return [*command, "."]


def image_size(engine: str, name: str) -> int:
    done = subprocess.run(
        [engine, "image", "inspect", "--format", "{{.Size}}", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip())


def build(processes: Sequence[str], env: Mapping[str, str]) -> list[tuple[str, float, int]]:
    """Build each process's image; returns (image, seconds, bytes) for each."""
    engine = choose_engine(env)
    print(f"building with {engine}", flush=True)
    built: list[tuple[str, float, int]] = []
    for process in processes:
        name = image_name(process, env)
        started = time.monotonic()
        try:
            done = subprocess.run(
                build_command(engine, process, env), cwd=ROOT, timeout=BUILD_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise ImageError(f"{name}: build not done within {BUILD_TIMEOUT_S} s") from None
        if done.returncode != 0:
            raise ImageError(f"{name}: build failed (exit {done.returncode})")
        built.append((name, time.monotonic() - started, image_size(engine, name)))
    return built


def main(argv: list[str]) -> int:
    processes = argv or list(PROCESSES)
    unknown = set(processes) - set(PROCESSES)
    if unknown:
        print(f"unknown process: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        built = build(processes, os.environ)
    except ImageError as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    for name, seconds, size in built:
        print(f"{name}: built in {seconds:.1f} s, {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
