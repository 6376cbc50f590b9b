"""Every overlay renders with the real kustomize, validates against the Kubernetes 1.30
schemas, and passes the checks of deploy/tools; and each check fails when what it guards
is broken."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import check
import policies
import processes
import pytest
import yaml
from budget import check_budget
from process_rules import check_process
from render import environment, find

PROCESSES = list(processes.PROCESSES)
SERVICES = [p for p in PROCESSES if p != "gateway"]
ROOT = Path(__file__).resolve().parents[2]
PROD = check.K8S / "overlays" / "prod"


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


@pytest.mark.parametrize("env", check.ENVIRONMENTS)
def test_every_environment_passes_its_budget_and_policies(env: str) -> None:
    lines, problems = check.check_environment(env)
    assert problems == []
    assert len(lines) == 1  # one PostgreSQL server in each


def test_the_check_catches_a_schema_error() -> None:
    objects = check.render("dev")
    deployment = copy.deepcopy(find(objects, "Deployment", "gateway"))
    assert deployment is not None
    deployment["spec"]["replica"] = 2
    (problem,) = check.validate_schema(deployment)
    assert "replica" in problem


def _prod_with(change: Any, kind: str = "Deployment", name: str = "redemption-service") -> Any:
    objects = check.render("prod")
    obj = find(objects, kind, name)
    assert obj is not None
    change(obj)
    return objects


def _main(obj: dict[str, Any]) -> dict[str, Any]:
    main: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return main


def _set_env(obj: dict[str, Any], name: str, value: str) -> None:
    env = _main(obj)["env"]
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda d: _main(d).pop("readinessProbe"), "readinessProbe must GET /readyz"),
        (lambda d: _main(d)["livenessProbe"]["httpGet"].update(path="/"), "livenessProbe"),
        (lambda d: _main(d)["resources"].pop("limits"), "limits of cpu and memory"),
        (lambda d: _main(d)["securityContext"].update(readOnlyRootFilesystem=False), "writable"),
        (lambda d: _main(d)["securityContext"]["capabilities"].update(drop=[]), "capabilities"),
        (lambda d: _main(d).pop("lifecycle"), "no preStop sleep"),
        (
            lambda d: d["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=20),
            "must exceed preStop",
        ),
        # One event loop cannot use two cores: the old limit only throttled.
        (lambda d: _main(d)["resources"]["limits"].update(cpu="2"), "cpu limit"),
        (lambda d: _main(d)["ports"][0].update(containerPort=8080), "port http, its PORT"),
        (lambda d: _set_env(d, "PORT", "9000"), "port http, its PORT"),
        (lambda d: _set_env(d, "GROUP_COMMIT_CONCURRENCY", "6"), "GROUP_COMMIT_CONCURRENCY"),
        (
            lambda d: (
                d["spec"]["template"]["metadata"]
                .setdefault("annotations", {})
                .update({"prometheus.io/scrape": "true"})
            ),
            "scraped exactly once",
        ),
    ],
)
def test_the_check_catches_a_weakened_process(breakage: Any, expected: str) -> None:
    problems = check_process(_prod_with(breakage), "redemption-service")
    assert any(expected in problem for problem in problems), problems


def test_the_gateway_cpu_limit_follows_its_hash_concurrency() -> None:
    objects = _prod_with(lambda d: _set_env(d, "PASSWORD_HASH_CONCURRENCY", "4"), name="gateway")
    problems = check_process(objects, "gateway")
    assert any("cpu limit" in p for p in problems), problems


@pytest.mark.parametrize("kind", ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"])
def test_the_check_wants_autoscaler_budget_and_service(kind: str) -> None:
    objects = [
        obj
        for obj in check.render("dev")
        if not (obj["kind"] == kind and obj["metadata"]["name"] == "issuance-service")
    ]
    assert check_process(objects, "issuance-service")


def test_references_to_missing_objects_are_reported() -> None:
    objects = [o for o in check.render("dev") if o["kind"] != "Secret"]
    problems = check.check_references(objects, "dev")
    assert any(re.search(r"Secret coupon-secrets-\w+ missing", p) for p in problems), problems
    # prod's Secret is external on purpose: not a problem there.
    assert check.check_references(check.render("prod"), "prod") == []


def test_config_and_secrets_are_generated_with_a_content_hash() -> None:
    """Pods name their ConfigMap and Secret by a hash of the content, so a change rolls
    them (deploy/tests/test_render.py changes one); plain names are reported."""
    objects = check.render("dev")
    gateway = find(objects, "Deployment", "gateway")
    assert gateway is not None
    (source,) = _main(gateway)["envFrom"]
    assert re.fullmatch(r"coupon-config-[a-z0-9]{10}", source["configMapRef"]["name"])
    generated = r"\b(coupon-config|coupon-secrets|postgres-init)-[a-z0-9]{10}\b"
    plain = re.sub(generated, r"\1", yaml.safe_dump_all(objects))
    problems = check.check_references(list(yaml.safe_load_all(plain)), "dev")
    for name in ("ConfigMap coupon-config", "Secret coupon-secrets", "ConfigMap postgres-init"):
        assert any(f"{name} has no content hash" in p for p in problems), (name, problems)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_processes_drain_before_they_are_killed(env: str) -> None:
    objects = check.render(env)
    config = find(objects, "ConfigMap", "coupon-config")
    assert config is not None
    drain = float(config["data"]["SHUTDOWN_TIMEOUT_S"])
    for process in PROCESSES:
        deployment = find(objects, "Deployment", process)
        assert deployment is not None
        spec = deployment["spec"]["template"]["spec"]
        sleep = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep"
        assert spec["terminationGracePeriodSeconds"] > int(sleep[1]) + drain


def test_prod_runs_more_replicas_than_dev() -> None:
    dev, prod = check.render("dev"), check.render("prod")
    for process in PROCESSES:
        low = find(dev, "HorizontalPodAutoscaler", process)
        high = find(prod, "HorizontalPodAutoscaler", process)
        assert low is not None
        assert high is not None
        assert low["spec"]["minReplicas"] == 1
        assert high["spec"]["minReplicas"] >= 2
        assert high["spec"]["maxReplicas"] > low["spec"]["maxReplicas"]


def test_dev_has_its_data_stores_and_prod_does_not() -> None:
    dev, prod = check.render("dev"), check.render("prod")
    for name in ("postgres", "redis"):
        assert find(dev, "StatefulSet", name) is not None
        assert find(prod, "StatefulSet", name) is None
    assert find(prod, "Secret", "coupon-secrets") is None
    assert find(prod, "ServiceMonitor", "coupon-platform") is not None


@pytest.mark.parametrize(("env", "wanted"), [("dev", "local"), ("prod", "production")])
def test_dev_runs_as_development_and_prod_as_production(env: str, wanted: str) -> None:
    for overlay in (env, f"{env}/migrations"):
        objects = check.render(overlay)
        for obj, container in check._process_containers(objects):
            assert environment(objects, container)["ENVIRONMENT"] == wanted, obj
    objects = check.render("dev")
    config = find(objects, "ConfigMap", "coupon-config")
    assert config is not None
    config["data"]["ENVIRONMENT"] = "production"
    assert len(check.check_environment_setting(objects, "dev")) == len(PROCESSES)


def test_migration_jobs_run_the_migrate_command_of_each_package() -> None:
    jobs = check.render("prod/migrations")
    for process, spec in processes.PROCESSES.items():
        job = find(jobs, "Job", f"{process}-migrate")
        assert job is not None
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["migrate"]
        assert container["image"].startswith(f"registry.example.com/coupon/{process}@sha256:")
        # The image's ENTRYPOINT is `python -m <package>` (deploy/Dockerfile).
        assert spec.package == process.replace("-", "_")


# -- images ---------------------------------------------------------------------------------
def test_prod_pins_registry_qualified_images_by_digest_and_dev_pulls_its_tag_always() -> None:
    for overlay in ("prod", "prod/migrations"):
        for _, container in check._process_containers(check.render(overlay)):
            assert re.fullmatch(
                r"registry\.example\.com/coupon/[a-z-]+@sha256:[0-9a-f]{64}", container["image"]
            )
            assert container["imagePullPolicy"] == "IfNotPresent"
    for overlay in ("dev", "dev/migrations"):
        for _, container in check._process_containers(check.render(overlay)):
            assert re.fullmatch(r"registry\.example\.com/coupon/[a-z-]+:dev", container["image"])
            assert container["imagePullPolicy"] == "Always"


@pytest.mark.parametrize(
    ("image", "policy", "overlay", "expected"),
    [
        ("coupon/gateway:0.1.0", "Always", "dev", "not registry-qualified"),
        ("registry.example.com/coupon/gateway:dev", "IfNotPresent", "dev", "not pulled Always"),
        ("registry.example.com/coupon/gateway:0.1.0", "Always", "prod", "pinned by digest"),
    ],
)
def test_the_check_catches_a_mutable_or_unqualified_image(
    image: str, policy: str, overlay: str, expected: str
) -> None:
    objects = check.render(overlay)
    gateway = find(objects, "Deployment", "gateway")
    assert gateway is not None
    _main(gateway).update(image=image, imagePullPolicy=policy)
    problems = check.check_images(objects, overlay)
    assert any(expected in p for p in problems), problems


def test_a_release_refuses_the_placeholder_digest() -> None:
    objects = check.render("prod")
    assert check.check_images(objects, "prod") == []
    assert len(check.check_images(objects, "prod", release=True)) == len(PROCESSES)


def test_the_image_ports_are_the_ones_the_manifests_use() -> None:
    """deploy/Dockerfile's PORT of each target is the port its Deployment declares."""
    text = re.sub(r"\\\n", " ", (ROOT / "deploy" / "Dockerfile").read_text())
    ports: dict[str, int] = {}
    stage = ""
    for line in text.splitlines():
        if match := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE):
            stage = match.group(2)
            ports[stage] = ports.get(match.group(1), 0)
        if match := re.match(r"ENV\s.*\bPORT=(\d+)", line):
            ports[stage] = int(match.group(1))
    for process, spec in processes.PROCESSES.items():
        assert ports[process] == spec.port, process


# -- connection budget ---------------------------------------------------------------------
def test_the_budget_counts_the_most_pods_their_pools_jobs_and_one_offs() -> None:
    objects, jobs = check.render("prod"), check.render("prod/migrations")
    (line,), problems = check_budget(PROD, objects, jobs)
    assert problems == []
    # 12 replicas + 25 % surge = 15 pods (6 + 2 = 8 for promotion and webhook); pools 4
    # and 6; one connection per migration Job; the reconcile command's two for issuance
    # and redemption.
    expected = 15 * 4 + 1 + 8 * 4 + 1 + 15 * 6 + 1 + 2 + 15 * 6 + 1 + 2 + 8 * 6 + 1
    assert f"{expected} of 340 connections" in line


@pytest.mark.parametrize(
    ("change", "kind", "name"),
    [
        # The old prod pool: 42 pods at their maximum x 20 connections each.
        (lambda d: _set_env(d, "DB_POOL_MAX_SIZE", "20"), "Deployment", "redemption-service"),
        (lambda h: h["spec"].update(maxReplicas=20), "HorizontalPodAutoscaler", "gateway"),
        (
            lambda d: d["spec"]["strategy"]["rollingUpdate"].update(maxSurge="100%"),
            "Deployment",
            "issuance-service",
        ),
    ],
)
def test_the_budget_fails_past_max_connections(change: Any, kind: str, name: str) -> None:
    objects = _prod_with(change, kind, name)
    _, problems = check_budget(PROD, objects, check.render("prod/migrations"))
    assert any("over its budget of 340" in p for p in problems), problems


def test_the_budget_places_every_database_on_a_declared_server(tmp_path: Path) -> None:
    (tmp_path / "postgres-servers.yaml").write_text(
        "servers:\n  - {name: a, max_connections: 1000, databases: [coupon_gateway]}\n"
    )
    _, problems = check_budget(tmp_path, check.render("prod"), check.render("prod/migrations"))
    assert len([p for p in problems if "is on no server" in p]) == len(PROCESSES) - 1, problems


# -- network policies -----------------------------------------------------------------------
def test_the_policy_check_catches_egress_to_any_address() -> None:
    objects = check.render("prod") + check.render("prod/migrations")
    assert policies.check_policies(objects) == []
    policy = find(objects, "NetworkPolicy", "processes-to-datastores")
    assert policy is not None
    policy["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 5432}]})
    problems = policies.check_policies(objects)
    assert "gateway -> internet:5432/TCP is allowed" in problems
    assert "gateway -> internet:443/TCP is allowed" not in problems


def test_the_policy_check_catches_a_blocked_path() -> None:
    objects = check.render("dev") + check.render("dev/migrations")
    objects = [o for o in objects if o["metadata"]["name"] != "redis-from-processes"]
    problems = policies.check_policies(objects)
    assert "redemption-service -> redis:6379/TCP is refused" in problems


def test_prod_reaches_its_data_stores_only_at_their_subnets() -> None:
    objects = check.render("prod") + check.render("prod/migrations")
    nets = find(objects, "NetworkPolicy", "processes-to-datastores")
    assert nets is not None
    rules = nets["spec"]["egress"]
    assert {r["to"][0]["ipBlock"]["cidr"]: r["ports"][0]["port"] for r in rules} == {
        "10.20.0.0/24": 5432,
        "10.20.1.0/24": 6379,
    }


def _without_exceptions(policy: dict[str, Any]) -> None:
    for rule in policy["spec"]["egress"]:
        for peer in rule["to"]:
            peer["ipBlock"].pop("except")


def _for_every_service(policy: dict[str, Any]) -> None:
    policy["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/component": "service"}}


@pytest.mark.parametrize(
    ("env", "breakage", "expected"),
    [
        ("prod", _without_exceptions, "webhook-service -> metadata:443/TCP is allowed"),
        ("prod", _without_exceptions, "webhook-service -> postgres:443/TCP is allowed"),
        ("dev", _without_exceptions, "webhook-service -> private-10:443/TCP is allowed"),
        ("dev", _without_exceptions, "webhook-service -> unique-local-v6:443/TCP is allowed"),
        ("prod", _for_every_service, "redemption-service -> internet:443/TCP is allowed"),
        (
            "dev",
            lambda p: p["spec"].update(egress=[]),
            "webhook-service -> internet:443/TCP is refused",
        ),
        (
            "dev",
            lambda p: p["spec"]["egress"][0]["to"].pop(),
            "webhook-service -> internet-v6:443/TCP is refused",
        ),
    ],
)
def test_only_the_webhook_service_reaches_the_internet_and_no_private_address(
    env: str, breakage: Any, expected: str
) -> None:
    """Its receivers are on the internet (HTTPS); the cluster's own addresses, the data
    stores' and the cloud's metadata service are not theirs to point it at."""
    objects = check.render(env) + check.render(f"{env}/migrations")
    assert policies.check_policies(objects) == []
    policy = find(objects, "NetworkPolicy", "webhook-service-to-internet")
    assert policy is not None
    breakage(policy)
    assert expected in policies.check_policies(objects)
