"""Where ``couponctl`` connects: ``--url``/``--token``, else ``COUPONCTL_URL``/``COUPONCTL_TOKEN``,
else the ``couponctl.env`` that ``make run`` writes in its data directory (``STACK_DATA_DIR``,
else ``.data``), else the default URL and no token."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from coupon_dev.cli_fixtures import STACK_TOKEN, Result
from coupon_dev.stack import Stack
from coupon_dev.testing.poll import until_sync
from couponctl import env_file
from couponctl.__main__ import main
from couponctl.connection import connect

LAUNCHER_TOKEN = "launcher-admin-token-0123456789"


def run(*argv: str, env: dict[str, str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), env=env, stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


def test_the_file_make_run_writes_is_read_when_nothing_else_names_the_gateway(
    platform: Stack, own_directory: Path, reserved_port: int
) -> None:
    written = env_file.write(own_directory / ".data", platform.gateway_url, STACK_TOKEN)
    assert written == own_directory / ".data" / "couponctl.env"
    assert run("tokens", "list", env={}).code == 0

    # STACK_DATA_DIR names the data directory as it does for make run.
    elsewhere = own_directory / "elsewhere"
    down = f"http://127.0.0.1:{reserved_port}"
    env_file.write(elsewhere, down, "some-other-token")
    moved = run("tokens", "list", env={"STACK_DATA_DIR": str(elsewhere)})
    assert moved.code == 3
    assert moved.err.strip() == (
        f"couponctl: cannot reach the gateway at {down} (COUPONCTL_URL from "
        f"{elsewhere / 'couponctl.env'}): [Errno 111] Connection refused"
    )


def test_the_command_line_wins_over_the_environment_which_wins_over_the_file(
    platform: Stack, own_directory: Path, reserved_port: int
) -> None:
    down = f"http://127.0.0.1:{reserved_port}"
    env_file.write(own_directory / ".data", down, "wrong-token")
    up = {"COUPONCTL_URL": platform.gateway_url, "COUPONCTL_TOKEN": STACK_TOKEN}
    assert run("tokens", "list", env=up).code == 0
    # The URL from the environment, the token from the file: the file's token is refused.
    refused = run("tokens", "list", env={"COUPONCTL_URL": platform.gateway_url})
    assert refused.code == 1
    assert "HTTP 403" in refused.err
    flags = run("tokens", "list", "--url", platform.gateway_url, "--token", STACK_TOKEN, env={})
    assert flags.code == 0
    overridden = run("tokens", "list", "--url", down, env=up)
    assert overridden.code == 3
    assert f"cannot reach the gateway at {down}: " in overridden.err
    defaulted = connect(None, None, {"STACK_DATA_DIR": str(own_directory / "none")})
    assert defaulted.url == "http://127.0.0.1:8080"
    assert defaulted.where.endswith("(the default URL; pass --url or set COUPONCTL_URL)")
    assert defaulted.token is None


@pytest.mark.timeout(300)
def test_make_run_prints_the_exports_and_couponctl_finds_its_gateway(
    own_directory: Path,
) -> None:
    data_dir = own_directory / ".data"
    env = {**os.environ, "BOOTSTRAP_ADMIN_TOKEN": LAUNCHER_TOKEN}
    for name in ("GATEWAY_PORT", "STACK_DATA_DIR", "STACK_REPLICAS"):
        env.pop(name, None)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "coupon_dev.stack", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert launcher.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(launcher.stdout or ()), daemon=True)
    reader.start()
    try:
        until_sync(
            lambda: any(line.startswith("ready") for line in lines) or launcher.poll() is not None,
            "the launcher's ready banner",
            limit_s=240,
        )
        banner = [line.rstrip("\n") for line in list(lines)]
        assert any(line.startswith("ready") for line in banner), "\n".join(banner)
        gateway = next(line for line in banner if line.startswith("gateway: "))
        url = gateway.removeprefix("gateway: ")
        exports = [line.strip() for line in banner if line.strip().startswith("export ")]
        assert exports == [f"export COUPONCTL_URL={url} COUPONCTL_TOKEN={LAUNCHER_TOKEN}"]
        written = data_dir / "couponctl.env"
        assert any(str(written) in line for line in banner)
        assert written.read_text(encoding="utf-8") == exports[0] + "\n"
        assert stat.S_IMODE(written.stat().st_mode) == 0o600  # it holds a token

        doctor = run("doctor", env={})
        assert doctor.code == 0, doctor.out + doctor.err
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=120)
        reader.join(timeout=10)
