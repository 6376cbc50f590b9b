"""One stack per data directory: the launcher's lock on it.

A stack holds an exclusive ``flock`` on ``<data dir>/stack.lock`` from before it touches
anything there until it has stopped, and records in the file its PID and, once known, its
gateway URL. A second stack on the same directory is refused at once, naming the first; it
changes nothing (it never gets to the PostgreSQL lock file, ``postmaster.pid``, whose loss
would shut the running server down). The kernel drops the lock with the process that held
it, so a crashed launcher leaves nothing to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from coupon_dev.processes import StackError

LOCK_FILE = "stack.lock"


class DataDirInUse(StackError):
    """Another stack runs on this data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the directory, or raise :class:`DataDirInUse` naming the stack that has it."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise DataDirInUse(_in_use(self.path.parent, holder)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.record()

    def record(self, gateway_url: str | None = None) -> None:
        """Write this process's PID and its gateway URL (once known) for a second stack's
        message."""
        if self._fd is None:
            return
        content = json.dumps({"pid": os.getpid(), "gateway": gateway_url}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, content, 0)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # drops the flock
        self._fd = None


def _read(fd: int) -> dict[str, object]:
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _in_use(data_dir: Path, holder: dict[str, object]) -> str:
    pid, gateway = holder.get("pid"), holder.get("gateway")
    who = f"launcher PID {pid}" if pid else "launcher PID unknown"
    where = f"the stack at {gateway}" if gateway else "a stack that is starting"
    stop = f"stop it first (Ctrl-C where it runs, or kill {pid})" if pid else "stop it first"
    return (
        f"data directory {data_dir} is in use by {where} ({who}); "
        f"{stop}, or give this one another --data-dir"
    )
