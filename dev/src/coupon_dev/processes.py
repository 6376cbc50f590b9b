"""One process of the platform (a service replica or the gateway) run by the launcher:
started, waited for until ready, stopped or killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from coupon_dev.embedded import signals_held, spawn, terminate

READY_TIMEOUT_S = 60.0


class StackError(RuntimeError):
    """The stack could not be brought up."""


def wait_ready(
    url: str, timeout: float = READY_TIMEOUT_S, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{url}: process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise StackError(f"{url} not ready within {timeout}s")


@dataclass
class Process:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        with open(self.log_path, "ab") as log, signals_held():
            self.proc = spawn(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        try:
            wait_ready(self.url, timeout, self.proc)
        except StackError as exc:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise StackError(f"{self.name}: {exc}\n--- log tail ---\n{tail}") from None

    def stop(self, timeout: float = 15.0) -> None:
        terminate(self.proc, signal.SIGTERM, timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        terminate(self.proc, signal.SIGKILL, 0)
        self.proc = None
