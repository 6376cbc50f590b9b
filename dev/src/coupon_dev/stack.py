"""The whole platform on one machine: PostgreSQL, Redis, the gateway and the four services.

``make run`` calls ``python -m coupon_dev.stack``; the end-to-end tests use :class:`Stack`
directly, so both start the platform the same way. PostgreSQL and Redis are embedded
(started from pip-installed binaries) unless ``DATABASE_URL`` / ``REDIS_URL`` name servers.
What can be checked without starting anything (the secrets, the data directory being free:
``coupon_dev.stack_lock``, the given ports) is checked before the slow steps.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coupon_core.settings import MIN_SECRET_LENGTH
from coupon_dev.embedded import EmbeddedPostgres, EmbeddedRedis, run
from coupon_dev.ports import port_is_free, reserve_port
from coupon_dev.processes import Process, StackError
from coupon_dev.stack_lock import DataDirLock
from couponctl import demo, env_file

# process name -> (python module, database name)
SERVICES: dict[str, tuple[str, str]] = {
    "promotion": ("promotion_service", "coupon_promotion"),
    "issuance": ("issuance_service", "coupon_issuance"),
    "redemption": ("redemption_service", "coupon_redemption"),
    "webhook": ("webhook_service", "coupon_webhook"),
}
GATEWAY = ("gateway", "coupon_gateway")
# `make run` only: the webhook-service may deliver to a receiver on this machine (plain
# http on loopback), unless the environment says otherwise. Deployments keep the defaults,
# which refuse loopback and private addresses.
LOCAL_WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
}


def with_database(url: str, database: str) -> str:
    base, _, _ = url.partition("?")[0].rpartition("/")
    query = url.partition("?")[2]
    return f"{base}/{database}" + (f"?{query}" if query else "")


@dataclass
class StackConfig:
    data_dir: Path
    gateway_port: int = 8080
    service_ports: Mapping[str, list[int]] = field(default_factory=dict)
    replicas: int = 1
    database_url: str | None = None
    redis_url: str | None = None
    identity_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    bootstrap_admin_token: str | None = None
    environment: str = "local"
    durable: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Per process name ("gateway", "promotion", ...): env applied last, over everything else,
    # e.g. a REDIS_URL or DATABASE_URL that goes through a fault-injecting proxy.
    service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Fixed ports for the embedded PostgreSQL and Redis (None: STACK_PG_PORT /
    # STACK_REDIS_PORT, else a free port), so a test can place a proxy in front of them.
    postgres_port: int | None = None
    redis_port: int | None = None


class Stack:
    """Starts and stops every part; gives tests handles to kill and restart each one."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.logs = self.data_dir / "logs"
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.services: dict[str, list[Process]] = {}
        self.gateway: Process | None = None
        self._reservations: list[socket.socket] = []
        self._lock = DataDirLock(self.data_dir)

    # -- data stores -------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        if self.config.database_url:
            return self.config.database_url
        assert self.postgres is not None
        return self.postgres.url()

    @property
    def redis_url(self) -> str:
        if self.config.redis_url:
            return self.config.redis_url
        assert self.redis is not None
        return self.redis.url()

    def _start_stores(self) -> None:
        if not self.config.database_url:
            self.postgres = EmbeddedPostgres(
                self.data_dir / "postgres",
                self.config.postgres_port or int(os.environ.get("STACK_PG_PORT", 0)) or None,
                durable=self.config.durable,
            )
            self.postgres.start()
        if not self.config.redis_url:
            self.redis = EmbeddedRedis(
                self.data_dir / "redis",
                self.config.redis_port or int(os.environ.get("STACK_REDIS_PORT", 0)) or None,
            )
            self.redis.start()
        self._create_databases()

    def _create_databases(self) -> None:
        import asyncio

        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(self.database_url)
            try:
                existing = {
                    r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")
                }
                for _, database in [*SERVICES.values(), GATEWAY]:
                    if database not in existing:
                        await conn.execute(f'CREATE DATABASE "{database}"')
            finally:
                await conn.close()

        asyncio.run(create())

    # -- processes ---------------------------------------------------------------------
    def _env(self, name: str, database: str, listen: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.config.extra_env)
        env.update(
            {
                "SERVICE_NAME": name,
                "ENVIRONMENT": self.config.environment,
                "HOST": "127.0.0.1",
                **listen,
                "DATABASE_URL": os.environ.get(f"{name.upper()}_DATABASE_URL")
                or with_database(self.database_url, database),
                "REDIS_URL": self.redis_url,
                "IDENTITY_SECRET": self.config.identity_secret,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.config.service_env.get(name, {}))
        return env

    def _migrate(self, module: str, env: dict[str, str]) -> None:
        result = run([sys.executable, "-m", module, "migrate"], env=env)
        if result.returncode != 0:
            raise StackError(
                f"{module} migrate failed:\n{result.stdout.decode()}{result.stderr.decode()}"
            )

    def _listen(self, port: int = 0) -> dict[str, str]:
        """PORT (and REUSE_PORT) of a process: the port it is given, else one this stack
        reserves until it stops, so that nobody can take it before the process binds it or
        while the process is down and answer in its place (ports.reserve_port)."""
        if port:
            # Checked now: a process that cannot bind exits, but whoever holds the port
            # would answer its readiness probe in its place.
            if not port_is_free(port):
                raise StackError(f"port {port} is already in use (another stack running?)")
            return {"PORT": str(port), "REUSE_PORT": "false"}
        return {"PORT": str(self.reserve_port()), "REUSE_PORT": "true"}

    def reserve_port(self) -> int:
        """A loopback port held until this stack stops, for a process that binds it with
        SO_REUSEPORT (``REUSE_PORT=true``; see ports.reserve_port)."""
        reservation = reserve_port()
        self._reservations.append(reservation)
        return int(reservation.getsockname()[1])

    def _replica_listens(self, name: str) -> list[dict[str, str]]:
        given = list(self.config.service_ports.get(name, []))
        given += [0] * (self.config.replicas - len(given))
        return [self._listen(port) for port in given]

    def _check_secrets(self) -> None:
        """The processes refuse these too, but only once PostgreSQL, Redis and every
        migration have run."""
        secrets_ = {
            "BOOTSTRAP_ADMIN_TOKEN": self.config.bootstrap_admin_token,
            "IDENTITY_SECRET": self.config.identity_secret,
        }
        for name, value in secrets_.items():
            if value is not None and len(value) < MIN_SECRET_LENGTH:
                raise StackError(f"{name} must be at least {MIN_SECRET_LENGTH} characters")

    def start(self, on_step: Callable[[str], None] = lambda _: None) -> None:
        self._check_secrets()
        # Nothing in the data directory is touched unless it is this stack's.
        self._lock.acquire()
        listens = {name: self._replica_listens(name) for name in SERVICES}
        gateway_listen = self._listen(self.config.gateway_port)
        self._lock.record(gateway_url=f"http://127.0.0.1:{gateway_listen['PORT']}")
        self.logs.mkdir(parents=True, exist_ok=True)
        on_step("starting PostgreSQL and Redis")
        self._start_stores()
        for name, (module, database) in SERVICES.items():
            processes = []
            for index, listen in enumerate(listens[name]):
                env = self._env(name, database, listen)
                if index == 0:
                    on_step(f"migrating {name}")
                    self._migrate(module, env)
                env["APPLY_MIGRATIONS"] = "false"
                processes.append(
                    Process(
                        f"{name}-{index}",
                        module,
                        int(listen["PORT"]),
                        env,
                        self.logs / f"{name}-{index}.log",
                    )
                )
            self.services[name] = processes
        gw_env = self._env("gateway", GATEWAY[1], gateway_listen)
        for name in SERVICES:
            gw_env[f"{name.upper()}_UPSTREAMS"] = ",".join(p.url for p in self.services[name])
        on_step("migrating gateway")
        self._migrate(GATEWAY[0], gw_env)
        gw_env["APPLY_MIGRATIONS"] = "false"
        if self.config.bootstrap_admin_token:
            gw_env["BOOTSTRAP_ADMIN_TOKEN"] = self.config.bootstrap_admin_token
        self.gateway = Process(
            "gateway", GATEWAY[0], int(gw_env["PORT"]), gw_env, self.logs / "gateway.log"
        )
        on_step("starting processes")
        for process in self.all_processes():
            process.start()
        for process in self.all_processes():
            process.wait_ready()

    def all_processes(self) -> list[Process]:
        processes = [p for group in self.services.values() for p in group]
        return processes + ([self.gateway] if self.gateway else [])

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        threads = [
            threading.Thread(target=p.stop) for group in self.services.values() for p in group
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()
        for reservation in self._reservations:
            reservation.close()
        self._reservations.clear()
        self._lock.release()

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def load_demo(gateway_url: str, token: str) -> bool:
    """The seeds' examples through the public API (``couponctl demo``, idempotent); prints
    what it did and curl commands to try. A failure is reported, never fatal."""
    command = [sys.executable, "-m", "couponctl", "demo", "--url", gateway_url, "--token", token]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"demo data not loaded: {exc}", file=sys.stderr)
        return False
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        print(f"demo data not loaded: {done.stderr.strip()}", file=sys.stderr)
    return done.returncode == 0


def _announce(stack: Stack, token: str) -> None:
    """What ``make run`` prints once every process is ready, demo data loaded."""
    print(f"gateway: {stack.gateway_url}")
    for name, processes in stack.services.items():
        print(f"{name}: {', '.join(p.url for p in processes)}")
    print(f"postgres: {stack.database_url}")
    print(f"redis: {stack.redis_url}")
    print(f"logs: {stack.logs}")
    written = env_file.write(stack.data_dir, stack.gateway_url, token)
    print(f"couponctl settings: {written} (read by default), or paste:")
    print(f"  {env_file.export_line(stack.gateway_url, token)}")
    if load_demo(stack.gateway_url, token):  # its output names the demo token
        # The demo made the staff accounts these lines name.
        for line in demo.console_lines(stack.gateway_url):
            print(line)
    else:
        print(f"demo token: {token}")
        print(f"console: {stack.gateway_url}/console")
    print("ready; Ctrl-C stops everything", flush=True)


def _run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coupon_dev.stack", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=env_file.default_data_dir(os.environ))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8080")))
    parser.add_argument("--replicas", type=int, default=int(os.environ.get("STACK_REPLICAS", "1")))
    args = parser.parse_args(argv)
    token = os.environ.get("BOOTSTRAP_ADMIN_TOKEN") or "demo-admin-token-change-me"
    config = StackConfig(
        data_dir=args.data_dir.resolve(),
        gateway_port=args.port,
        replicas=args.replicas,
        database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"),
        identity_secret=os.environ.get("IDENTITY_SECRET") or secrets.token_urlsafe(32),
        bootstrap_admin_token=token,
        service_env={"webhook": {k: os.environ.get(k, v) for k, v in LOCAL_WEBHOOK_ENV.items()}},
    )
    stack = Stack(config)
    stopping = threading.Event()
    received: list[int] = []
    starting = True

    launcher = os.getpid()

    def on_signal(signum: int, _frame: object) -> None:
        if os.getpid() != launcher:
            return  # a child between fork and exec: the launcher acts, not its copy
        received.append(signum)
        stopping.set()
        if starting and len(received) == 1:  # the first signal interrupts the start-up
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        try:
            stack.start(on_step=lambda step: print(f"... {step}", flush=True))
            _announce(stack, token)
            starting = False
            if received:
                # The interrupt landed where Python cannot raise it (a finalizer runs the
                # handler and reports the exception as ignored): it still interrupts.
                raise KeyboardInterrupt
        except StackError as exc:
            starting = False
            if not received:
                print(f"stack failed to start: {exc}", file=sys.stderr)
                stack.stop()
                return 1
            raise KeyboardInterrupt from None  # a child got the same signal and went first
    except KeyboardInterrupt:
        # Processes run in groups of their own: stopping them is this process's job.
        print("interrupted; stopping", file=sys.stderr, flush=True)
        stack.stop()
        print("stopped", flush=True)
        return 128 + (received[0] if received else signal.SIGINT)
    while not stopping.is_set():
        stopping.wait(0.5)
        for process in stack.all_processes():
            if process.proc is not None and process.proc.poll() is not None:
                print(
                    f"{process.name} exited with {process.proc.returncode}; stopping",
                    file=sys.stderr,
                )
                stopping.set()
    print("stopping...", flush=True)
    stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_run())
