"""The PostgreSQL connection budget of an environment (docs/operations.md, "Connection budget").

An overlay declares, in ``postgres-servers.yaml`` beside its kustomization, the PostgreSQL
servers its databases live on: each server's ``max_connections``, the connections
``reserved`` for others (``superuser_reserved_connections``, administration, monitoring,
replication) and its ``databases``. On each server the platform may open at most:

* for each process whose database is there, its most pods (the autoscaler's
  ``maxReplicas`` plus the rolling update's ``maxSurge``) times its pool
  (``DB_POOL_MAX_SIZE``);
* one connection per migration Job (they may run while the processes are at their most);
* the one-off commands run by hand (``python -m <package> reconcile``, a pool of two).

That sum must not exceed ``max_connections - reserved``.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from coupon_core.settings import ServiceSettings
from processes import MIGRATION_CONNECTIONS, PROCESSES
from render import containers, environment, find

Object = dict[str, Any]
DECLARATION = "postgres-servers.yaml"
DEFAULT_POOL = ServiceSettings.model_fields["db_pool_max_size"].default


@dataclass(frozen=True)
class Use:
    """What one process may open on its database's server."""

    process: str
    pods: int
    pool: int
    migration: int
    one_off: int

    @property
    def connections(self) -> int:
        return self.pods * self.pool + self.migration + self.one_off


def most_pods(hpa: Object, deployment: Object) -> int:
    """The autoscaler's maximum plus what a rolling update adds on top of it."""
    most = int(hpa["spec"]["maxReplicas"])
    strategy = deployment["spec"].get("strategy", {})
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return most
    surge = str(strategy.get("rollingUpdate", {}).get("maxSurge", "25%"))
    # Kubernetes rounds a percentage of surge up.
    extra = math.ceil(most * int(surge[:-1]) / 100) if surge.endswith("%") else int(surge)
    return most + extra


def uses(objects: list[Object], jobs: list[Object]) -> dict[str, Use]:
    """By database, what its process may open (processes without a Deployment and an
    autoscaler are left out: the process checks report them)."""
    found = {}
    for process, spec in PROCESSES.items():
        deployment = find(objects, "Deployment", process)
        hpa = find(objects, "HorizontalPodAutoscaler", process)
        if deployment is None or hpa is None:
            continue
        env = environment(objects, containers(deployment)[-1])
        migration = find(jobs, "Job", f"{process}-migrate") is not None
        found[spec.database] = Use(
            process,
            most_pods(hpa, deployment),
            int(env.get("DB_POOL_MAX_SIZE", DEFAULT_POOL)),
            MIGRATION_CONNECTIONS if migration else 0,
            spec.one_off_connections,
        )
    return found


def _hosts(objects: list[Object]) -> dict[str, str]:
    """Database -> host:port, from a Secret the overlay renders (dev); empty otherwise."""
    found = {}
    for obj in objects:
        if obj["kind"] != "Secret":
            continue
        for key, value in (obj.get("data") or {}).items():
            if key.endswith("DATABASE_URL"):
                url = urlsplit(base64.b64decode(value).decode())
                found[url.path.lstrip("/")] = url.netloc.rsplit("@", 1)[-1]
    return found


def check_budget(
    overlay_dir: Path, objects: list[Object], jobs: list[Object]
) -> tuple[list[str], list[str]]:
    """One line per server saying how much of it the platform may take, and the problems."""
    declared = yaml.safe_load((overlay_dir / DECLARATION).read_text())["servers"]
    by_database = uses(objects, jobs)
    hosts = _hosts(objects)
    lines, problems = [], []
    for server in declared:
        budget = int(server["max_connections"]) - int(server.get("reserved", 0))
        total = sum(by_database[d].connections for d in server["databases"] if d in by_database)
        parts = ", ".join(
            f"{u.process} {u.pods}x{u.pool}+{u.migration + u.one_off}"
            for d in server["databases"]
            if (u := by_database.get(d))
        )
        lines.append(f"PostgreSQL {server['name']}: {total} of {budget} connections ({parts})")
        if total > budget:
            problems.append(
                f"PostgreSQL {server['name']}: up to {total} connections, over its budget of "
                f"{budget} (max_connections {server['max_connections']} - reserved "
                f"{server.get('reserved', 0)}; {DECLARATION})"
            )
        if len({hosts[d] for d in server["databases"] if d in hosts}) > 1:
            problems.append(f"PostgreSQL {server['name']}: its databases' URLs name several hosts")
    placed = {d for server in declared for d in server["databases"]}
    problems += [
        f"database {d} is on no server of {DECLARATION}" for d in by_database.keys() - placed
    ]
    return lines, problems
