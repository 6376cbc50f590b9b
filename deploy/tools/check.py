"""``make deploy-check``: render every kustomize overlay of deploy/k8s without kubectl,
validate every object against the Kubernetes JSON schemas offline (``kubernetes-validate``),
and check what the platform needs of its manifests.

    python deploy/tools/check.py [--out DIR]

With ``--out`` the rendered overlays are written there, one YAML file each.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from kustomize import Object, build, containers, pod_template  # noqa: E402

K8S = TOOLS.parent / "k8s"
KUBERNETES_VERSION = "1.30"
OVERLAYS = ("dev", "dev/migrations", "prod", "prod/migrations")
# Objects an overlay refers to but deliberately does not render: prod's Secret is created
# in the namespace beforehand (docs/operations.md, "Secrets"), and so is its TLS secret.
EXTERNAL = {
    "prod": {("Secret", "coupon-secrets"), ("Secret", "gateway-tls")},
    "prod/migrations": {("Secret", "coupon-secrets")},
}
# process -> (python package, component label)
PROCESSES = {
    "gateway": ("gateway", "gateway"),
    "promotion-service": ("promotion_service", "service"),
    "issuance-service": ("issuance_service", "service"),
    "redemption-service": ("redemption_service", "service"),
}
# Custom resources the Kubernetes schemas do not cover; checked against a schema here.
LOCAL_SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json"}


def render(overlay: str) -> list[Object]:
    return build(K8S / "overlays" / overlay)


def find(objects: Iterable[Object], kind: str, name: str) -> Object | None:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    return None


# -- schema validation --------------------------------------------------------------------
def validate_schema(obj: Object) -> list[str]:
    label = f"{obj['kind']}/{obj['metadata'].get('name')}"
    local = LOCAL_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if local is not None:
        schema = json.loads((TOOLS / "schemas" / local).read_text())
        errors = jsonschema.Draft202012Validator(schema).iter_errors(obj)
        return [f"{label}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.absolute_path)
        return [f"{label}: {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{label}: {exc.message}"]
    return []


# -- references between objects -------------------------------------------------------------
def _present(objects: list[Object], overlay: str, kind: str, name: str) -> bool:
    return find(objects, kind, name) is not None or (kind, name) in EXTERNAL.get(overlay, set())


def _key_present(objects: list[Object], kind: str, name: str, key: str) -> bool:
    obj = find(objects, kind, name)
    return obj is None or key in (obj.get("data") or {})  # external objects: not checkable


def check_references(objects: list[Object], overlay: str) -> list[str]:
    problems: list[str] = []
    for obj in objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        template = pod_template(obj)
        if template is not None:
            for container in containers(obj):
                for source in container.get("envFrom", []):
                    for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                        ref = source.get(field)
                        if ref and not _present(objects, overlay, kind, ref["name"]):
                            problems.append(f"{label}: envFrom {kind} {ref['name']} missing")
                for env in container.get("env", []):
                    value_from = env.get("valueFrom", {})
                    for field, kind in (
                        ("configMapKeyRef", "ConfigMap"),
                        ("secretKeyRef", "Secret"),
                    ):
                        ref = value_from.get(field)
                        if not ref or ref.get("optional"):
                            continue
                        if not _present(objects, overlay, kind, ref["name"]):
                            problems.append(f"{label}: {env['name']}: {kind} {ref['name']} missing")
                        elif not _key_present(objects, kind, ref["name"], ref["key"]):
                            problems.append(f"{label}: {env['name']}: no key {ref['key']}")
            for volume in template.get("spec", {}).get("volumes", []):
                if "configMap" in volume and not _present(
                    objects, overlay, "ConfigMap", volume["configMap"]["name"]
                ):
                    problems.append(f"{label}: volume ConfigMap {volume['configMap']['name']}")
        if obj["kind"] == "Service":
            selector = obj["spec"].get("selector", {})
            if not any(_labels_match(selector, t) for t in _templates(objects)):
                problems.append(f"{label}: selects no pod")
        if obj["kind"] == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            if find(objects, ref["kind"], ref["name"]) is None:
                problems.append(f"{label}: scales missing {ref['kind']}/{ref['name']}")
        if obj["kind"] == "PodDisruptionBudget":
            selector = obj["spec"]["selector"].get("matchLabels", {})
            if not any(_labels_match(selector, t) for t in _templates(objects)):
                problems.append(f"{label}: selects no pod")
        if obj["kind"] == "Ingress":
            for tls in obj["spec"].get("tls", []):
                if not _present(objects, overlay, "Secret", tls["secretName"]):
                    problems.append(f"{label}: TLS secret {tls['secretName']} missing")
            for rule in obj["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    backend = path["backend"]["service"]
                    service = find(objects, "Service", backend["name"])
                    ports = [
                        p.get("name") for p in (service or {}).get("spec", {}).get("ports", [])
                    ]
                    if service is None or backend["port"].get("name") not in ports:
                        problems.append(f"{label}: backend {backend} missing")
    return problems


def _templates(objects: list[Object]) -> list[Object]:
    return [t for t in (pod_template(o) for o in objects) if t is not None]


def _labels_match(selector: dict[str, str], template: Object) -> bool:
    labels = template.get("metadata", {}).get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# -- what every process needs -----------------------------------------------------------------
def _seconds(command: list[str]) -> int:
    return int(command[1]) if len(command) == 2 and command[0] == "sleep" else 0


def check_process(objects: list[Object], process: str) -> list[str]:
    """Probes, resources, hardening, draining, autoscaling and disruption budget."""
    problems: list[str] = []
    deployment = find(objects, "Deployment", process)
    if deployment is None:
        return [f"{process}: no Deployment"]
    template = deployment["spec"]["template"]
    spec = template["spec"]
    main = next((c for c in spec["containers"] if c["name"] == process), None)
    if main is None:
        return [f"{process}: no container named {process}"]

    def probe(kind: str, path: str) -> None:
        got = main.get(kind, {}).get("httpGet", {})
        if got.get("path") != path or got.get("port") != "http":
            problems.append(f"{process}: {kind} must GET {path} on port http")

    probe("livenessProbe", "/healthz")
    probe("readinessProbe", "/readyz")
    if not any(p.get("name") == "http" for p in main.get("ports", [])):
        problems.append(f"{process}: no container port named http")
    resources = main.get("resources", {})
    for bound in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(bound, {}):
                problems.append(f"{process}: no {bound}.{resource}")
    security = main.get("securityContext", {})
    pod_security = spec.get("securityContext", {})
    if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
        problems.append(f"{process}: runAsNonRoot is not set")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{process}: root filesystem is writable")
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{process}: privilege escalation is allowed")
    if security.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append(f"{process}: capabilities are not all dropped")

    config = find(objects, "ConfigMap", "coupon-config") or {"data": {}}
    drain = float(config["data"].get("SHUTDOWN_TIMEOUT_S", "10"))
    pre_stop = _seconds(
        main.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    )
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if pre_stop <= 0:
        problems.append(f"{process}: no preStop sleep")
    if grace <= pre_stop + drain:
        problems.append(
            f"{process}: terminationGracePeriodSeconds {grace} must exceed preStop {pre_stop}s "
            f"+ SHUTDOWN_TIMEOUT_S {drain}s"
        )
    annotations = template.get("metadata", {}).get("annotations", {})
    if (
        annotations.get("prometheus.io/scrape") != "true"
        or annotations.get("prometheus.io/path") != "/metrics"
    ):
        problems.append(f"{process}: no Prometheus scrape annotations")
    if "replicas" in deployment["spec"]:
        problems.append(f"{process}: replicas set on the Deployment fights the autoscaler")

    hpa = find(objects, "HorizontalPodAutoscaler", process)
    if hpa is None or hpa["apiVersion"] != "autoscaling/v2":
        problems.append(f"{process}: no autoscaling/v2 HorizontalPodAutoscaler")
    elif hpa["spec"]["scaleTargetRef"] != {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": process,
    }:
        problems.append(f"{process}: the autoscaler scales something else")
    elif not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]:
        problems.append(f"{process}: autoscaler bounds are inconsistent")
    pdb = find(objects, "PodDisruptionBudget", process)
    if pdb is None or not _labels_match(pdb["spec"]["selector"].get("matchLabels", {}), template):
        problems.append(f"{process}: no PodDisruptionBudget selecting its pods")
    if find(objects, "Service", process) is None:
        problems.append(f"{process}: no Service")
    return problems


def check_migration_job(objects: list[Object], process: str) -> list[str]:
    job = find(objects, "Job", f"{process}-migrate")
    if job is None:
        return [f"{process}: no migration Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    problems = []
    if container.get("args") != ["migrate"]:
        problems.append(f"{process}-migrate: must run `python -m {PROCESSES[process][0]} migrate`")
    if job["spec"]["template"]["spec"].get("restartPolicy") not in ("Never", "OnFailure"):
        problems.append(f"{process}-migrate: bad restartPolicy")
    return problems


def images(objects: list[Object]) -> dict[str, str]:
    """Container image of each process (its Deployment or its migration Job)."""
    found: dict[str, str] = {}
    for process in PROCESSES:
        for kind, name in (("Deployment", process), ("Job", f"{process}-migrate")):
            obj = find(objects, kind, name)
            if obj is not None:
                found[process] = next(iter(containers(obj)))["image"]
    return found


def check_overlay(overlay: str, objects: list[Object]) -> list[str]:
    problems: list[str] = []
    for obj in objects:
        problems.extend(validate_schema(obj))
    problems.extend(check_references(objects, overlay))
    if overlay.endswith("/migrations"):
        for process in PROCESSES:
            problems.extend(check_migration_job(objects, process))
        main = images(render(overlay.removesuffix("/migrations")))
        if images(objects) != main:
            problems.append(f"{overlay}: images differ from the processes': {images(objects)}")
    else:
        for process in PROCESSES:
            problems.extend(check_process(objects, process))
    return [f"{overlay}: {problem}" for problem in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the rendered overlays here")
    args = parser.parse_args(argv)
    failures: list[str] = []
    for overlay in OVERLAYS:
        objects = render(overlay)
        problems = check_overlay(overlay, objects)
        failures.extend(problems)
        print(f"{overlay}: {len(objects)} objects, {len(problems)} problems")
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            target = args.out / f"{overlay.replace('/', '-')}.yaml"
            target.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)
    print(f"Kubernetes {KUBERNETES_VERSION} schemas: {'FAILED' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
