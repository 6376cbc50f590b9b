"""`make run`'s launcher: ready before it says so, nothing left behind after SIGTERM or a
Ctrl-C during start-up, a taken gateway port is an error (never another stack's gateway
answering in its place), and a data directory in use by another stack is left alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from coupon_core.settings import MIN_SECRET_LENGTH
from coupon_dev.ports import free_port

DEADLINE_S = 90
README = Path(__file__).resolve().parents[1] / "README.md"
TOKEN = "launcher-test-token-0123456789"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """The stack's data directory. Not under ``tmp_path``: every pytest run that starts sets
    pytest's own root back to 0700, which PostgreSQL (run unprivileged under root) could then
    no longer walk through."""
    with tempfile.TemporaryDirectory(prefix="coupon-launcher-") as tmp:
        yield Path(tmp)


def _read_until(proc: subprocess.Popen[str], prefix: str) -> list[str]:
    """The lines the launcher printed up to the first that starts with ``prefix``."""
    lines: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"launcher exited early: {''.join(lines)}")
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"launcher printed no {prefix!r} line in time")


def _read_until_ready(proc: subprocess.Popen[str]) -> list[str]:
    return _read_until(proc, "ready;")


def _launch(
    data_dir: Path, port: int, *, token: str = TOKEN, own_group: bool = False
) -> subprocess.Popen[str]:
    """The launcher as ``make run`` starts it; ``own_group``: in a process group of its own,
    as a shell runs a foreground job (the group a terminal's Ctrl-C signals)."""
    env = {**os.environ, "BOOTSTRAP_ADMIN_TOKEN": token}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coupon_dev.stack",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        process_group=0 if own_group else None,
    )


def _finish(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _run_to_end(
    data_dir: Path, port: int, *, token: str = TOKEN
) -> tuple[subprocess.Popen[str], str]:
    """A launcher that is expected to stop by itself: it, once ended, and all it printed."""
    proc = _launch(data_dir, port, token=token)
    try:
        output, _ = proc.communicate(timeout=DEADLINE_S)
    finally:
        _finish(proc)
    return proc, output


def test_run_prints_ready_urls_and_stops_cleanly(data_dir: Path) -> None:
    port = free_port()
    proc = _launch(data_dir, port)
    try:
        output = "".join(_read_until_ready(proc))
        assert f"gateway: http://127.0.0.1:{port}" in output
        for service in ("promotion", "issuance", "redemption", "webhook"):
            assert f"{service}: http://127.0.0.1:" in output
        assert f"demo token: {TOKEN}" in output
        # The demo data is loaded before "ready" (cli/tests/test_demo.py runs its commands).
        assert "demo data created: promotion HOLIDAY-SALE" in output
        assert f"curl -sS http://127.0.0.1:{port}/api/v1/promotions/HOLIDAY-SALE" in output
        # After the demo token: the console and its demo staff sign-ins.
        console = f"console: http://127.0.0.1:{port}/console (password demo-password-change-me)"
        assert output.index(console) > output.index(f"demo token: {TOKEN}")
        for email in ("admin@example.com", "marketer@example.com", "support@example.com"):
            assert f"  {email}" in output
        # Printed only once everything is ready: the gateway answers at once.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 7  # postgres (+ its workers), redis, gateway, four services
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"stray processes: {alive}"
    finally:
        _finish(proc)


def test_a_taken_gateway_port_stops_the_launcher_before_anything_starts(data_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proc, output = _run_to_end(data_dir, port)
    assert proc.returncode == 1, output
    assert f"port {port} is already in use" in output
    # Found before the slow steps (PostgreSQL, Redis, migrations), not after them.
    assert "starting PostgreSQL" not in output
    assert not (data_dir / "postgres").exists()


def test_a_second_launcher_on_a_data_directory_in_use_refuses_and_touches_nothing(
    data_dir: Path,
) -> None:
    port = free_port()
    first = _launch(data_dir, port)
    try:
        _read_until_ready(first)
        lock_file = data_dir / "postgres" / "postmaster.pid"
        held = lock_file.read_bytes()
        postgres = psutil.Process(int(held.split()[0]))
        second, output = _run_to_end(data_dir, free_port())
        assert second.returncode == 1, output
        assert (
            f"in use by the stack at http://127.0.0.1:{port} (launcher PID {first.pid})" in output
        )
        assert "Traceback" not in output
        assert "starting PostgreSQL" not in output
        # The first stack is untouched: its PostgreSQL keeps its lock file and runs on.
        assert lock_file.read_bytes() == held
        assert postgres.is_running()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
    finally:
        _finish(first)


def test_ctrl_c_during_start_up_stops_what_was_started_and_says_so(data_dir: Path) -> None:
    proc = _launch(data_dir, free_port(), own_group=True)
    try:
        printed = _read_until(proc, "... migrating")
        started = psutil.Process(proc.pid).children(recursive=True)
        assert started, "PostgreSQL and Redis run before the migrations"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        rest, _ = proc.communicate(timeout=DEADLINE_S)
    finally:
        _finish(proc)
    output = "".join(printed) + rest
    assert proc.returncode == 130, output
    assert "interrupted; stopping" in output
    assert "failed" not in output
    assert "Traceback" not in output
    _gone, alive = psutil.wait_procs(started, timeout=30)
    assert alive == [], f"stray processes: {alive}"


def test_a_bootstrap_token_shorter_than_the_readme_says_is_refused_at_once(
    data_dir: Path,
) -> None:
    documented = next(
        line for line in README.read_text().splitlines() if line.startswith("| `BOOTSTRAP_")
    )
    assert f"at least {MIN_SECRET_LENGTH} characters" in documented
    proc, output = _run_to_end(data_dir, free_port(), token="x" * (MIN_SECRET_LENGTH - 1))
    assert proc.returncode == 1, output
    assert f"BOOTSTRAP_ADMIN_TOKEN must be at least {MIN_SECRET_LENGTH} characters" in output
    assert "starting PostgreSQL" not in output
