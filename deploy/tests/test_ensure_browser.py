"""`make browser` installs what the browser tests need where it can (deploy/tools/
ensure-chromium), and where it cannot it says what to install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(TOOLS / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bare_path(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only ``tools``: no chromium, chromedriver, node, npm or apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _fake(tmp_path: Path, name: str, version_line: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)
    return str(path)


def test_without_chromium_or_apt_it_says_what_to_install(tmp_path: Path) -> None:
    result = _run("ensure-chromium", {"PATH": _bare_path(tmp_path, "id", "cat", "sed", "head")})
    assert result.returncode == 1, result
    assert "apt-get install chromium\nchromium-driver" in result.stderr
    assert "COUPON_CHROMIUM_BIN and COUPON_CHROMEDRIVER_BIN" in result.stderr


def test_the_named_browser_and_driver_are_used_when_their_versions_match(tmp_path: Path) -> None:
    env = {
        "PATH": _bare_path(tmp_path, "id", "cat", "sed", "head"),
        "COUPON_CHROMIUM_BIN": _fake(tmp_path, "browser", "Chromium 156.0.8078.114 built on X"),
        "COUPON_CHROMEDRIVER_BIN": _fake(tmp_path, "driver", "ChromeDriver 156.0.8078.114 (a)"),
    }
    assert _run("ensure-chromium", env).returncode == 0


def test_a_driver_of_another_version_is_refused_not_replaced(tmp_path: Path) -> None:
    # Named binaries are the caller's choice: nothing is installed over them, even as root.
    env = {
        "PATH": _bare_path(tmp_path, "id", "cat", "sed", "head", "apt-get"),
        "COUPON_CHROMIUM_BIN": _fake(tmp_path, "browser", "Chromium 156.0.8078.114 built on X"),
        "COUPON_CHROMEDRIVER_BIN": _fake(tmp_path, "driver", "ChromeDriver 150.0.7871.100 (a)"),
    }
    result = _run("ensure-chromium", env)
    assert result.returncode == 1, result
    assert "installing" not in result.stderr
    assert "same major version" in result.stderr


def test_without_node_or_apt_the_axe_core_install_says_what_to_install(tmp_path: Path) -> None:
    # A copy of the tree's two places the script uses, nothing installed yet.
    tree = tmp_path / "tree"
    (tree / "deploy" / "tools").mkdir(parents=True)
    (tree / "tests-e2e" / "browser").mkdir(parents=True)
    shutil.copy(TOOLS / "ensure-axe-core", tree / "deploy" / "tools")
    browser = TOOLS.parents[1] / "tests-e2e" / "browser"
    for name in ("package.json", "package-lock.json", ".npmrc"):
        shutil.copy(browser / name, tree / "tests-e2e" / "browser")
    result = subprocess.run(
        ["/bin/sh", str(tree / "deploy" / "tools" / "ensure-axe-core")],
        env={"PATH": _bare_path(tmp_path, "id", "cat", "dirname")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result
    assert "`apt-get install nodejs npm`" in result.stderr
    assert not (tree / "tests-e2e" / "browser" / "node_modules").exists()


def test_the_axe_core_lock_records_no_download_address() -> None:
    browser = TOOLS.parents[1] / "tests-e2e" / "browser"
    assert "omit-lockfile-registry-resolved=true" in (browser / ".npmrc").read_text()
    lock = (browser / "package-lock.json").read_text()
    assert "resolved" not in lock
    assert "://" not in lock
