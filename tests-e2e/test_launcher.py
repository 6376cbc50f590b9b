"""`make run`'s launcher: ready before it says so, nothing left behind after SIGTERM, and a
taken gateway port is an error, never another stack's gateway answering in its place."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
from coupon_core.ports import free_port

DEADLINE_S = 90


def _read_until_ready(proc: subprocess.Popen[str]) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"launcher exited early: {''.join(lines)}")
        lines.append(line)
        if line.startswith("ready;"):
            return lines
    raise AssertionError("launcher did not become ready in time")


def _launch(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "BOOTSTRAP_ADMIN_TOKEN": "launcher-test-token-0123456789"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coupon_core.stack",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def test_run_prints_ready_urls_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    proc = _launch(tmp_path, port)
    try:
        output = "".join(_read_until_ready(proc))
        assert f"gateway: http://127.0.0.1:{port}" in output
        assert "demo token: launcher-test-token-0123456789" in output
        # The demo data is loaded before "ready" (cli/tests/test_demo.py runs its commands).
        assert "demo data created: promotion HOLIDAY-SALE" in output
        assert f"curl -sS http://127.0.0.1:{port}/api/v1/promotions/HOLIDAY-SALE" in output
        # Printed only once everything is ready: the gateway answers at once.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 6  # postgres (+ its workers), redis, gateway, three services
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"stray processes: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_taken_gateway_port_stops_the_launcher_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proc = _launch(tmp_path, port)
        try:
            output, _ = proc.communicate(timeout=DEADLINE_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 1, output
    assert f"port {port} is already in use" in output
    assert "ready;" not in output
