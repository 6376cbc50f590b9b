"""Every overlay renders, validates against the Kubernetes 1.30 schemas, and gives every
process what it needs; the NetworkPolicies allow exactly the intended connections."""

from __future__ import annotations

import copy
from typing import Any

import check
import pytest
from netpol import Peer, allowed

PROCESSES = list(check.PROCESSES)
SERVICES = [p for p in PROCESSES if p != "gateway"]


@pytest.fixture(scope="module", params=check.OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, check.render(request.param)


def test_every_overlay_is_valid_and_complete(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, objects = overlay
    assert objects
    assert check.check_overlay(name, objects) == []
    namespace = "coupon-dev" if name.startswith("dev") else "coupon-prod"
    assert {obj["metadata"].get("namespace") for obj in objects} == {namespace}
    assert all(
        obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "coupon-platform"
        for obj in objects
        if obj["kind"] in {"Deployment", "Job", "Service", "HorizontalPodAutoscaler"}
        and obj["metadata"]["name"] not in {"postgres", "redis"}
    )


def test_the_check_catches_a_schema_error() -> None:
    objects = check.render("dev")
    deployment = copy.deepcopy(check.find(objects, "Deployment", "gateway"))
    assert deployment is not None
    deployment["spec"]["replica"] = 2
    (problem,) = check.validate_schema(deployment)
    assert "replica" in problem


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda c, s: c.pop("readinessProbe"), "readinessProbe must GET /readyz"),
        (lambda c, s: c["livenessProbe"]["httpGet"].update(path="/"), "livenessProbe"),
        (lambda c, s: c["resources"].pop("limits"), "no limits.memory"),
        (lambda c, s: c["securityContext"].update(readOnlyRootFilesystem=False), "writable"),
        (lambda c, s: c["securityContext"]["capabilities"].update(drop=[]), "capabilities"),
        (lambda c, s: c.pop("lifecycle"), "no preStop sleep"),
        (lambda c, s: s.update(terminationGracePeriodSeconds=20), "must exceed preStop"),
    ],
)
def test_the_check_catches_a_weakened_process(breakage: Any, expected: str) -> None:
    objects = check.render("prod")
    deployment = check.find(objects, "Deployment", "redemption-service")
    assert deployment is not None
    spec = deployment["spec"]["template"]["spec"]
    breakage(spec["containers"][0], spec)
    problems = check.check_process(objects, "redemption-service")
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("kind", ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"])
def test_the_check_wants_autoscaler_budget_and_service(kind: str) -> None:
    objects = [
        obj
        for obj in check.render("dev")
        if not (obj["kind"] == kind and obj["metadata"]["name"] == "issuance-service")
    ]
    assert check.check_process(objects, "issuance-service")


def test_references_to_missing_objects_are_reported() -> None:
    objects = [o for o in check.render("dev") if o["kind"] != "Secret"]
    problems = check.check_references(objects, "dev")
    assert any("Secret coupon-secrets missing" in problem for problem in problems)
    # prod's Secret is external on purpose: not a problem there.
    assert check.check_references(check.render("prod"), "prod") == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_processes_drain_before_they_are_killed(env: str) -> None:
    objects = check.render(env)
    drain = float(check.find(objects, "ConfigMap", "coupon-config")["data"]["SHUTDOWN_TIMEOUT_S"])  # type: ignore[index]
    for process in PROCESSES:
        deployment = check.find(objects, "Deployment", process)
        assert deployment is not None
        spec = deployment["spec"]["template"]["spec"]
        sleep = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep"
        assert spec["terminationGracePeriodSeconds"] > int(sleep[1]) + drain


def test_prod_runs_more_replicas_than_dev() -> None:
    dev, prod = check.render("dev"), check.render("prod")
    for process in PROCESSES:
        low = check.find(dev, "HorizontalPodAutoscaler", process)
        high = check.find(prod, "HorizontalPodAutoscaler", process)
        assert low is not None
        assert high is not None
        assert low["spec"]["minReplicas"] == 1
        assert high["spec"]["minReplicas"] >= 2
        assert high["spec"]["maxReplicas"] > low["spec"]["maxReplicas"]


def test_dev_has_its_data_stores_and_prod_does_not() -> None:
    dev, prod = check.render("dev"), check.render("prod")
    for name in ("postgres", "redis"):
        assert check.find(dev, "StatefulSet", name) is not None
        assert check.find(prod, "StatefulSet", name) is None
    assert check.find(prod, "Secret", "coupon-secrets") is None
    assert check.find(prod, "ServiceMonitor", "coupon-platform") is not None


def test_migration_jobs_run_the_migrate_command_of_each_package() -> None:
    jobs = check.render("prod/migrations")
    for process, (package, _) in check.PROCESSES.items():
        job = check.find(jobs, "Job", f"{process}-migrate")
        assert job is not None
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["migrate"]
        assert container["image"] == f"coupon/{process}:0.1.0"
        # The image's ENTRYPOINT is `python -m <package>` (deploy/Dockerfile).
        assert package == process.replace("-", "_")


# -- network policies -----------------------------------------------------------------------
def _pods(objects: list[dict[str, Any]]) -> dict[str, Peer]:
    pods = {}
    for obj in objects:
        template = check.pod_template(obj)
        if template is None:
            continue
        ports = {
            port["name"]: port["containerPort"]
            for container in template["spec"]["containers"]
            for port in container.get("ports", [])
            if "name" in port
        }
        pods[obj["metadata"]["name"]] = Peer(
            namespace=obj["metadata"]["namespace"],
            labels=template["metadata"]["labels"],
            ports=ports,
        )
    return pods


def _policies_and_pods(env: str) -> tuple[list[dict[str, Any]], dict[str, Peer]]:
    objects = check.render(env) + check.render(f"{env}/migrations")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    return policies, _pods(objects)


INGRESS_CONTROLLER = Peer(namespace="ingress-nginx", labels={"app": "ingress-nginx"})
STRANGER = Peer(namespace="default", labels={"app": "curl"})
PROMETHEUS = Peer(namespace="monitoring", labels={"app.kubernetes.io/name": "prometheus"})
DNS = Peer(namespace="kube-system", labels={"k8s-app": "kube-dns"})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_only_the_gateway_takes_outside_traffic(env: str) -> None:
    policies, pods = _policies_and_pods(env)
    assert allowed(policies, INGRESS_CONTROLLER, pods["gateway"], 8000)
    for service in SERVICES:
        assert not allowed(policies, INGRESS_CONTROLLER, pods[service], 8000)
    for target in PROCESSES:
        assert not allowed(policies, STRANGER, pods[target], 8000)
    # Even the ingress controller reaches only the gateway's HTTP port.
    assert not allowed(policies, INGRESS_CONTROLLER, pods["gateway"], 22)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_only_the_gateway_reaches_the_services(env: str) -> None:
    policies, pods = _policies_and_pods(env)
    for service in SERVICES:
        assert allowed(policies, pods["gateway"], pods[service], 8000)
        for other in SERVICES:
            if other != service:
                assert not allowed(policies, pods[other], pods[service], 8000)
        assert not allowed(policies, pods[service], pods["gateway"], 8000)
        assert not allowed(policies, pods[f"{service}-migrate"], pods[service], 8000)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_everyone_resolves_names_and_prometheus_scrapes(env: str) -> None:
    policies, pods = _policies_and_pods(env)
    for name, pod in pods.items():
        assert allowed(policies, pod, DNS, 53, "UDP"), name
        assert allowed(policies, pod, DNS, 53, "TCP"), name
        assert not allowed(policies, pod, DNS, 80), name
    for process in PROCESSES:
        assert allowed(policies, PROMETHEUS, pods[process], 8000)
        assert not allowed(policies, PROMETHEUS, pods[f"{process}-migrate"], 8000)


def test_dev_processes_and_jobs_reach_the_in_namespace_data_stores() -> None:
    policies, pods = _policies_and_pods("dev")
    for name in [*PROCESSES, *(f"{p}-migrate" for p in PROCESSES)]:
        assert allowed(policies, pods[name], pods["postgres"], 5432), name
        assert allowed(policies, pods[name], pods["redis"], 6379), name
    assert not allowed(policies, STRANGER, pods["postgres"], 5432)
    assert not allowed(policies, STRANGER, pods["redis"], 6379)
    assert not allowed(policies, INGRESS_CONTROLLER, pods["redis"], 6379)


def test_prod_processes_reach_external_data_stores_and_nothing_else() -> None:
    policies, pods = _policies_and_pods("prod")
    database = Peer(ip="10.20.0.5")
    for name in [*PROCESSES, *(f"{p}-migrate" for p in PROCESSES)]:
        assert allowed(policies, pods[name], database, 5432), name
        assert allowed(policies, pods[name], database, 6379), name
        assert not allowed(policies, pods[name], Peer(ip="203.0.113.9"), 443), name
