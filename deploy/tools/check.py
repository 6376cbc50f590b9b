"""``make deploy-check``: render every overlay of deploy/k8s with the real kustomize
(``kubectl kustomize``), validate every object against the Kubernetes JSON schemas offline
(``kubernetes-validate``), and check what the platform needs of its manifests: references
between objects, what every process needs (probes, ports, resources, hardening, draining,
autoscaling, one way of being scraped), images, the NetworkPolicies (deploy/tools/policies.py)
and the PostgreSQL connection budget (deploy/tools/budget.py).

    python deploy/tools/check.py [--out DIR] [--release]

``--out`` writes the rendered overlays there, one YAML file each. ``--release`` also refuses
the placeholder image digests the repository carries (docs/operations.md, "Releasing").
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from budget import check_budget  # noqa: E402
from policies import check_policies  # noqa: E402
from process_rules import check_migration_job, check_process  # noqa: E402
from processes import PROCESSES  # noqa: E402
from references import check_references as _check_references  # noqa: E402
from render import (  # noqa: E402
    KubectlMissing,
    containers,
    environment,
    find,
    kustomize_text,
    label,
    parse,
)

Object = dict[str, Any]
K8S = TOOLS.parent / "k8s"
KUBERNETES_VERSION = "1.30"
ENVIRONMENTS = ("dev", "prod")
OVERLAYS = ("dev", "dev/migrations", "prod", "prod/migrations")
# Objects an overlay refers to but deliberately does not render: prod's Secret is created
# in the namespace beforehand (docs/operations.md, "Secrets"), and so is its TLS secret.
EXTERNAL = {
    "prod": {("Secret", "coupon-secrets"), ("Secret", "gateway-tls")},
    "prod/migrations": {("Secret", "coupon-secrets")},
}
# Overlays whose images must be pinned by digest, and the digest the repository carries
# until a release sets the real ones (docs/operations.md, "Releasing").
PINNED = ("prod", "prod/migrations")
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
# ENVIRONMENT of every process and migration Job, by environment: dev is development.
ENVIRONMENT_OF = {"dev": "local", "prod": "production"}
# Custom resources the Kubernetes schemas do not cover; checked against a schema here.
LOCAL_SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json"}


@functools.cache
def _rendered(overlay: str) -> str:
    return kustomize_text(K8S / "overlays" / overlay)


def render(overlay: str) -> list[Object]:
    """The objects an overlay of deploy/k8s renders (rendered once, a fresh copy each call)."""
    return parse(_rendered(overlay))


def check_references(objects: list[Object], overlay: str) -> list[str]:
    return list(dict.fromkeys(_check_references(objects, EXTERNAL.get(overlay, set()))))


def _process_containers(objects: list[Object]) -> Iterator[tuple[Object, Object]]:
    """(workload, container) of every process's Deployment and migration Job."""
    names = {*PROCESSES, *(f"{p}-migrate" for p in PROCESSES)}
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job") and obj["metadata"]["name"] in names:
            yield from ((obj, c) for c in containers(obj))


def check_environment_setting(objects: list[Object], overlay: str) -> list[str]:
    wanted = ENVIRONMENT_OF[overlay.split("/")[0]]
    return [
        f"{label(obj)}: ENVIRONMENT is {got!r}, not {wanted!r}"
        for obj, c in _process_containers(objects)
        if (got := environment(objects, c).get("ENVIRONMENT")) != wanted
    ]


# -- schema validation --------------------------------------------------------------------
def validate_schema(obj: Object) -> list[str]:
    local = LOCAL_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if local is not None:
        schema = json.loads((TOOLS / "schemas" / local).read_text())
        errors = jsonschema.Draft202012Validator(schema).iter_errors(obj)
        return [f"{label(obj)}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{label(obj)}: {'.'.join(map(str, exc.absolute_path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{label(obj)}: {exc.message}"]
    return []


# -- images ---------------------------------------------------------------------------------
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
IMAGE_RULES: list[tuple[str, Callable[[str, str, str, bool], bool]]] = [
    # (message, rule(image, pull policy, overlay, release))
    (
        "is not registry-qualified (an unqualified name resolves to Docker Hub)",
        lambda image, policy, overlay, release: (
            re.match(r"([^/]*[.:][^/]*|localhost)/", image) is not None
        ),
    ),
    (
        "is pinned by a mutable tag but not pulled Always (a rebuild is never picked up)",
        lambda image, policy, overlay, release: (
            DIGEST.search(image) is not None or policy == "Always"
        ),
    ),
    (
        "must be pinned by digest in this overlay",
        lambda image, policy, overlay, release: (
            overlay not in PINNED or DIGEST.search(image) is not None
        ),
    ),
    (
        "carries the placeholder digest: set the release's digests first",
        lambda image, policy, overlay, release: (
            not release or not image.endswith(PLACEHOLDER_DIGEST)
        ),
    ),
]


def images(objects: list[Object]) -> dict[str, str]:
    """Container image of each process (its Deployment or its migration Job)."""
    found: dict[str, str] = {}
    for process in PROCESSES:
        for kind, name in (("Deployment", process), ("Job", f"{process}-migrate")):
            obj = find(objects, kind, name)
            if obj is not None:
                found[process] = containers(obj)[-1]["image"]
    return found


def check_images(objects: list[Object], overlay: str, release: bool = False) -> list[str]:
    return [
        f"{label(obj)}: image {c['image']} {message}"
        for obj, c in _process_containers(objects)
        for message, rule in IMAGE_RULES
        if not rule(c["image"], c.get("imagePullPolicy", "IfNotPresent"), overlay, release)
    ]


# -- overlays and environments -----------------------------------------------------------------
def check_overlay(overlay: str, objects: list[Object], release: bool = False) -> list[str]:
    problems = [p for obj in objects for p in validate_schema(obj)]
    problems += check_references(objects, overlay)
    problems += check_images(objects, overlay, release)
    problems += check_environment_setting(objects, overlay)
    for process in PROCESSES:
        if overlay.endswith("/migrations"):
            problems += check_migration_job(objects, process)
        else:
            problems += check_process(objects, process)
    return [f"{overlay}: {problem}" for problem in problems]


def check_environment(env: str) -> tuple[list[str], list[str]]:
    """What spans an environment's two overlays: (report lines, problems)."""
    objects, jobs = render(env), render(f"{env}/migrations")
    lines, problems = check_budget(K8S / "overlays" / env, objects, jobs)
    problems += [f"NetworkPolicy: {p}" for p in check_policies(objects + jobs)]
    if images(objects) != images(jobs):
        problems.append(f"migration images differ from the processes': {images(jobs)}")
    return [f"{env}: {line}" for line in lines], [f"{env}: {p}" for p in problems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the rendered overlays here")
    parser.add_argument("--release", action="store_true", help="refuse placeholder digests")
    args = parser.parse_args(argv)
    failures: list[str] = []
    try:
        for overlay in OVERLAYS:
            objects = render(overlay)
            problems = check_overlay(overlay, objects, args.release)
            failures += problems
            print(f"{overlay}: {len(objects)} objects, {len(problems)} problems")
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                target = args.out / f"{overlay.replace('/', '-')}.yaml"
                target.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        for env in ENVIRONMENTS:
            lines, problems = check_environment(env)
            print("\n".join(lines))
            failures += problems
    except KubectlMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)
    print(
        f"deploy-check (Kubernetes {KUBERNETES_VERSION} schemas): {'FAILED' if failures else 'ok'}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
