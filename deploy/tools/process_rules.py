"""What every process needs of its Deployment, and every migration Job of its Job, as tables
of rules: probes, ports, resources, hardening, draining, autoscaling, disruption budget,
Service, one way of being scraped (docs/operations.md, "Kubernetes")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from netpol import selector_matches
from processes import PROCESSES
from render import containers, environment, find, labels_of

Object = dict[str, Any]


class View(NamedTuple):
    """A process as one overlay renders it."""

    process: str
    objects: list[Object]
    deployment: Object
    main: Object  # its container
    env: dict[str, str]

    @property
    def spec(self) -> Object:
        spec: Object = self.deployment["spec"]["template"]["spec"]
        return spec

    def get(self, kind: str) -> Object:
        return find(self.objects, kind, self.process) or {"kind": kind, "spec": {}}

    def probe(self, kind: str) -> tuple[str, str]:
        got = self.main.get(kind, {}).get("httpGet", {})
        return got.get("path"), got.get("port")

    def http_port(self) -> int | None:
        return next((p["containerPort"] for p in self.main["ports"] if p["name"] == "http"), None)


def cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def usable_cores(view: View) -> float:
    """What the process can use: one event loop, and at the gateway its Argon2 threads
    (PASSWORD_HASH_CONCURRENCY hashes, each on one core: docs/operations.md, "Resources")."""
    return 1 + int(view.env.get("PASSWORD_HASH_CONCURRENCY", 0))


def _pre_stop(view: View) -> int:
    command = view.main.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    return int(command[1]) if command and command[0] == "sleep" else 0


def _scrapes(view: View) -> int:
    """How many ways Prometheus scrapes the process: pod annotations, ServiceMonitors."""
    annotated = view.deployment["spec"]["template"]["metadata"].get("annotations", {})
    service = labels_of(view.get("Service"))
    monitors = [o for o in view.objects if o["kind"] == "ServiceMonitor"]
    annotations = int(annotated.get("prometheus.io/scrape") == "true")
    return annotations + sum(selector_matches(m["spec"]["selector"], service) for m in monitors)


PROCESS_RULES: list[tuple[str, Callable[[View], bool]]] = [
    (
        "livenessProbe must GET /healthz on port http",
        lambda v: v.probe("livenessProbe") == ("/healthz", "http"),
    ),
    (
        "readinessProbe must GET /readyz on port http",
        lambda v: v.probe("readinessProbe") == ("/readyz", "http"),
    ),
    (
        "its container port http, its PORT and its image's port must be one",
        lambda v: v.http_port() == int(v.env["PORT"]) == PROCESSES[v.process].port,
    ),
    (
        "requests and limits of cpu and memory must all be set",
        lambda v: all(
            r in v.main["resources"][b] for b in ("requests", "limits") for r in ("cpu", "memory")
        ),
    ),
    (
        "its cpu limit must be the cores it can use (one event loop, plus the gateway's hashes)",
        lambda v: cores(v.main["resources"]["limits"]["cpu"]) == usable_cores(v),
    ),
    (
        "DB_POOL_MAX_SIZE must be set (the connection budget counts it)",
        lambda v: "DB_POOL_MAX_SIZE" in v.env,
    ),
    (
        "runAsNonRoot is not set",
        lambda v: bool(
            v.main.get("securityContext", {}).get("runAsNonRoot")
            or v.spec.get("securityContext", {}).get("runAsNonRoot")
        ),
    ),
    (
        "root filesystem is writable",
        lambda v: v.main["securityContext"]["readOnlyRootFilesystem"] is True,
    ),
    (
        "privilege escalation is allowed",
        lambda v: v.main["securityContext"]["allowPrivilegeEscalation"] is False,
    ),
    (
        "capabilities are not all dropped",
        lambda v: v.main["securityContext"]["capabilities"]["drop"] == ["ALL"],
    ),
    ("no preStop sleep", lambda v: _pre_stop(v) > 0),
    (
        "terminationGracePeriodSeconds must exceed preStop + SHUTDOWN_TIMEOUT_S",
        lambda v: (
            v.spec.get("terminationGracePeriodSeconds", 30)
            > _pre_stop(v) + float(v.env.get("SHUTDOWN_TIMEOUT_S", "10"))
        ),
    ),
    (
        "replicas set on the Deployment fights the autoscaler",
        lambda v: "replicas" not in v.deployment["spec"],
    ),
    (
        "no autoscaling/v2 HorizontalPodAutoscaler scaling its Deployment",
        lambda v: (
            v.get("HorizontalPodAutoscaler").get("apiVersion") == "autoscaling/v2"
            and v.get("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": v.process}
        ),
    ),
    (
        "autoscaler bounds are inconsistent",
        lambda v: (
            1
            <= v.get("HorizontalPodAutoscaler")["spec"].get("minReplicas", 1)
            <= v.get("HorizontalPodAutoscaler")["spec"]["maxReplicas"]
        ),
    ),
    (
        "no PodDisruptionBudget selecting its pods",
        lambda v: selector_matches(
            v.get("PodDisruptionBudget")["spec"].get("selector"), labels_of(v.deployment)
        ),
    ),
    ("no Service", lambda v: "metadata" in v.get("Service")),
    (
        "must be scraped exactly once (Prometheus annotations or a ServiceMonitor: pick one)",
        lambda v: _scrapes(v) == 1,
    ),
]
# Rules for one process only.
PROCESS_RULES_OF: dict[str, list[tuple[str, Callable[[View], bool]]]] = {
    "gateway": [
        (
            "PASSWORD_HASH_CONCURRENCY must be set (its cpu limit follows from it)",
            lambda v: "PASSWORD_HASH_CONCURRENCY" in v.env,
        ),
    ],
    "redemption-service": [
        (
            "GROUP_COMMIT_CONCURRENCY must stay below DB_POOL_MAX_SIZE",
            lambda v: int(v.env["GROUP_COMMIT_CONCURRENCY"]) < int(v.env["DB_POOL_MAX_SIZE"]),
        ),
    ],
}


def _failed(rule: Callable[[View], bool], view: View) -> bool:
    try:
        return not rule(view)
    except (KeyError, TypeError, ValueError, StopIteration):
        return True  # what the rule looks at is missing or malformed


def check_process(objects: list[Object], process: str) -> list[str]:
    deployment = find(objects, "Deployment", process)
    main = next((c for c in containers(deployment or {}) if c["name"] == process), None)
    if deployment is None or main is None:
        return [f"{process}: no Deployment with a container named {process}"]
    view = View(process, objects, deployment, main, environment(objects, main))
    rules = PROCESS_RULES + PROCESS_RULES_OF.get(process, [])
    return [f"{process}: {message}" for message, rule in rules if _failed(rule, view)]


def check_migration_job(objects: list[Object], process: str) -> list[str]:
    job = find(objects, "Job", f"{process}-migrate")
    if job is None:
        return [f"{process}: no migration Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    problems = []
    if container.get("args") != ["migrate"]:
        problems.append(
            f"{process}-migrate: must run `python -m {PROCESSES[process].package} migrate`"
        )
    if job["spec"]["template"]["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
        problems.append(f"{process}-migrate: bad restartPolicy")
    return problems
