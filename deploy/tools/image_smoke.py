"""``make image-smoke``: the five images, run as Kubernetes runs them, answer and redeem.

    python deploy/tools/image_smoke.py

Against a PostgreSQL and a Redis started here on loopback (the embedded servers of
``coupon_dev.embedded``), every image runs hardened: user 10001, read-only root with a
``/tmp`` tmpfs, every capability dropped, no privilege escalation, host network. First each
image's migration runs with the command of its migration Job (deploy/k8s/base/migrations),
then the five processes start; once each answers ``/readyz``, a seed is loaded through the
gateway's API with the bootstrap token (``couponctl demo``) and one of its coupons is
redeemed (Capillary v1.1). Every container is removed at the end, whatever happened; a
failure prints the containers' logs. Each step is bounded and timed.

The images are the ones ``make images`` tags (deploy/tools/images.py: engine, names).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from coupon_dev.embedded import EmbeddedPostgres, EmbeddedRedis
from coupon_dev.ports import free_port
from coupon_dev.processes import wait_ready
from coupon_dev.stack import GATEWAY, SERVICES, with_database
from couponctl.client import GatewayClient
from couponctl.demo import CUSTOMER, load

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from images import PROCESSES, choose_engine, image_name  # noqa: E402

MIGRATION_JOBS = TOOLS.parent / "k8s" / "base" / "migrations"
HARDENED = [
    "--network=host",
    "--user=10001:10001",
    "--read-only",
    "--tmpfs=/tmp",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
]
MIGRATE_TIMEOUT_S = 120
READY_TIMEOUT_S = 120
ENGINE_TIMEOUT_S = 60
# process -> its database: the stack's own names (coupon_dev.stack).
DATABASES = {
    "gateway": GATEWAY[1],
    **{f"{name}-service": database for name, (_, database) in SERVICES.items()},
}
ADMIN_TOKEN = "image-smoke-admin-token"  # noqa: S105 - a throwaway stack's
SECRETS = {
    "IDENTITY_SECRET": "image-smoke-identity-secret",
    "TOKEN_HASH_KEY": "image-smoke-token-hash-key",
    "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
}


class SmokeError(RuntimeError):
    """A step of the smoke check failed."""


def migration_job(process: str) -> dict[str, Any]:
    """The container of ``<process>-migrate``, the Job that applies its migrations."""
    for path in sorted(MIGRATION_JOBS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if (
                isinstance(document, dict)
                and document.get("kind") == "Job"
                and document["metadata"]["name"] == f"{process}-migrate"
            ):
                container: dict[str, Any] = document["spec"]["template"]["spec"]["containers"][0]
                return container
    raise SmokeError(f"no Job {process}-migrate in {MIGRATION_JOBS}")


class Smoke:
    def __init__(self, engine: str, postgres_url: str, redis_url: str) -> None:
        self.engine = engine
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self.ports = {process: free_port() for process in PROCESSES}
        self.suffix = uuid.uuid4().hex[:8]
        self.containers: list[str] = []

    def url(self, process: str) -> str:
        return f"http://127.0.0.1:{self.ports[process]}"

    def env(self, process: str) -> dict[str, str]:
        env = {
            "ENVIRONMENT": "production",
            "SERVICE_NAME": process,
            "HOST": "127.0.0.1",
            "PORT": str(self.ports[process]),
            "DATABASE_URL": with_database(self.postgres_url, DATABASES[process]),
            "REDIS_URL": self.redis_url,
            "IDENTITY_SECRET": SECRETS["IDENTITY_SECRET"],
            "APPLY_MIGRATIONS": "false",
        }
        if process == "gateway":
            env |= {f"{name.upper()}_UPSTREAMS": self.url(f"{name}-service") for name in SERVICES}
            env |= {k: SECRETS[k] for k in ("TOKEN_HASH_KEY", "BOOTSTRAP_ADMIN_TOKEN")}
        return env

    def _engine(self, *args: str, timeout: float = ENGINE_TIMEOUT_S) -> str:
        done = subprocess.run(
            [self.engine, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise SmokeError(f"{self.engine} {args[0]} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def _run_args(self, name: str, env: Mapping[str, str]) -> list[str]:
        args = ["run", f"--name={name}", *HARDENED]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        return args

    def migrate(self, process: str) -> None:
        """The migration Job's command, with the Job's literal settings under ours."""
        job = migration_job(process)
        env = {e["name"]: e["value"] for e in job.get("env", []) if "value" in e}
        env |= self.env(process)
        name = f"coupon-smoke-{process}-migrate-{self.suffix}"
        self.containers.append(name)
        args = self._run_args(name, env)
        if job.get("command"):
            args += [f"--entrypoint={job['command'][0]}"]
        args += [image_name(process, os.environ), *job.get("command", [])[1:], *job["args"]]
        output = self._engine(*args, timeout=MIGRATE_TIMEOUT_S).strip().splitlines()
        print(f"  {output[-1] if output else '(no output)'}", flush=True)

    def start(self, process: str) -> None:
        name = f"coupon-smoke-{process}-{self.suffix}"
        self.containers.append(name)
        args = self._run_args(name, self.env(process))
        self._engine(*args[:1], "--detach", *args[1:], image_name(process, os.environ))

    def wait_ready(self, process: str) -> None:
        """``/readyz`` answers 200, and so does the image's own HEALTHCHECK command."""
        try:
            wait_ready(self.url(process), READY_TIMEOUT_S)
        except Exception as exc:
            raise SmokeError(f"{process}: {exc}") from None
        self._engine(
            "exec", f"coupon-smoke-{process}-{self.suffix}", "python", "/opt/healthcheck.py"
        )

    def redeem(self) -> None:
        """The demo seed through the gateway, then a redeem of its coupon A3BCB."""
        client = GatewayClient(self.url("gateway"), ADMIN_TOKEN)
        loaded = load(client)
        body = {
            "root": {
                "coupon": [
                    {
                        "code": "A3BCB",
                        "customer": {"mobile": CUSTOMER["mobile"]},
                        "transaction": [{"number": f"SMOKE-{self.suffix}", "amount": 5000}],
                    }
                ]
            }
        }
        answer = client.request("POST", "/v1.1/coupon/redeem", body)
        coupons = answer["response"]["coupons"]["coupon"]
        coupon = coupons[0] if isinstance(coupons, list) else coupons
        if coupon["item_status"]["code"] != 700:
            raise SmokeError(f"redeem refused: {coupon['item_status']}")
        print(f"seed loaded ({', '.join(loaded.created)}); A3BCB redeemed", flush=True)

    def logs(self) -> None:
        for name in self.containers:
            done = subprocess.run(
                [self.engine, "logs", "--tail", "40", name],
                capture_output=True,
                text=True,
                timeout=ENGINE_TIMEOUT_S,
                check=False,
            )
            print(f"--- {name}\n{done.stdout}{done.stderr}", file=sys.stderr)

    def remove(self) -> None:
        """Remove every container started (killed if still running), one by one: an engine
        may give up on a whole list for one name that was never created."""
        for name in self.containers:
            subprocess.run(
                [self.engine, "rm", "--force", name],
                capture_output=True,
                timeout=ENGINE_TIMEOUT_S,
                check=False,
            )


@contextlib.contextmanager
def step(what: str) -> Iterator[None]:
    started = time.monotonic()
    print(f"image smoke: {what} ...", flush=True)
    yield
    print(f"image smoke: {what}: {time.monotonic() - started:.1f} s", flush=True)


def create_databases(admin_url: str) -> None:
    import asyncio

    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            for database in DATABASES.values():
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    asyncio.run(create())


def run(engine: str) -> None:
    with tempfile.TemporaryDirectory(prefix="coupon-image-smoke-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres", durable=False)
        redis = EmbeddedRedis(Path(tmp) / "redis")
        with contextlib.ExitStack() as stack:
            with step("PostgreSQL and Redis on loopback"):
                stack.callback(postgres.stop)
                postgres.start()
                stack.callback(redis.stop)
                redis.start()
                create_databases(postgres.url())
            smoke = Smoke(engine, postgres.url(), redis.url())
            stack.callback(smoke.remove)
            try:
                for process in PROCESSES:
                    with step(f"{process}: migrate (its Job's command)"):
                        smoke.migrate(process)
                with step("every process started and ready"):
                    for process in PROCESSES:
                        smoke.start(process)
                    for process in PROCESSES:
                        smoke.wait_ready(process)
                with step("seed and redeem through the gateway"):
                    smoke.redeem()
            except BaseException:
                smoke.logs()
                raise


def main() -> int:
    # A timeout's SIGTERM unwinds like an error: containers and servers are still removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    try:
        run(choose_engine(os.environ))
    except Exception as exc:
        print(f"image smoke FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"image smoke passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
