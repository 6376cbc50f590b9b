"""The image build sees every file it needs: the build context is rebuilt from
``.dockerignore`` with Docker's matching rules (deploy/tools/dockerignore.py) and every
package an image installs is built as a wheel from that copy, as the Dockerfile builds it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from dockerignore import copy_context, ignored, parse

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PROCESSES = [
    "gateway",
    "promotion-service",
    "issuance-service",
    "redemption-service",
    "webhook-service",
]
# The PEP 517 hook pip calls for `pip wheel --no-build-isolation`, with the backend the
# package's pyproject names.
BUILD_WHEEL = """
import importlib, sys, tomllib
backend = tomllib.load(open("pyproject.toml", "rb"))["build-system"]["build-backend"]
print(importlib.import_module(backend).build_wheel(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("context")
    copy_context(ROOT, target)
    return target


def _copied_sources(service: str) -> list[str]:
    """What the Dockerfile's COPY instructions take from the context for ``service``."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    sources: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        sources += [s.replace("${SERVICE}", service) for s in args[:-1]]
    return sources


def _build_wheel(package: Path, out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", BUILD_WHEEL, str(out)],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{package.name}: wheel build failed\n{done.stderr[-3000:]}"
    return out / done.stdout.strip().splitlines()[-1]


def _shipped(package: Path) -> dict[str, str]:
    """Source file (relative to the package) -> where the wheel must hold it: everything
    under the wheel's packages and force-included folders, caches aside."""
    config = tomllib.loads((package / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    folders = {path: Path(path).name for path in wheel.get("packages", [])}
    folders |= wheel.get("force-include", {})
    expected: dict[str, str] = {}
    for source, inside in folders.items():
        for file in (package / source).rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                rel = file.relative_to(package / source).as_posix()
                expected[f"{source}/{rel}"] = f"{inside}/{rel}"
    return expected


@pytest.mark.parametrize("service", PROCESSES)
def test_every_file_the_dockerfile_copies_is_in_the_context(context: Path, service: str) -> None:
    for source in _copied_sources(service):
        assert (context / source).exists(), f"{source} is left out by .dockerignore"


@pytest.mark.parametrize("package", ["shared", *PROCESSES])
def test_each_package_builds_its_wheel_from_the_context(
    context: Path, package: str, tmp_path: Path
) -> None:
    wheel = _build_wheel(context / package, tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    # Judged against the repository, not the context: a file the context lost is missing.
    for source, inside in _shipped(ROOT / package).items():
        assert inside in names, f"{package}/{source} is not in the image's wheel"


@pytest.mark.parametrize(
    ("lines", "path", "left_out"),
    [
        (["**"], "a/b/c.py", True),
        (["**", "!a/**"], "a/b/c.py", False),
        (["**", "!a/**"], "b/a/c.py", True),
        (["**", "!a/b/**", "**/__pycache__"], "a/b/__pycache__/c.pyc", True),
        (["**", "!a/b/**", "**/*.pyc"], "a/b/c.pyc", True),
        (["**/__pycache__"], "__pycache__", True),
        (["*.pyc"], "a/c.pyc", False),
        (["*/c.py"], "a/c.py", True),
        (["dir"], "dir/deep/file", True),
        (["/lead"], "lead", True),
        (["# comment", " spaced "], "spaced", True),
        (["# comment"], "# comment", False),
        (["a?c"], "abc", True),
        (["a[0-9]"], "a1", True),
        (["x.lock"], "xylock", False),
        (["**", "!keep", "keep"], "keep", True),
    ],
)
def test_patterns_match_as_docker_matches_them(lines: list[str], path: str, left_out: bool) -> None:
    assert ignored(parse("\n".join(lines)), path) is left_out
