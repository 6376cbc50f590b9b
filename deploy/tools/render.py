"""Render a kustomization with the real kustomize (``kubectl kustomize``), and read the
rendered objects: find one, its pod template, its containers, a container's environment.

kubectl is a prerequisite of ``make deploy-check`` and of deploy/tests; ``make kubectl``
(deploy/tools/ensure-kubectl) installs it where it is missing.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]

# kustomize v5 is what the manifests are written for (bundled with kubectl 1.27 and newer).
MIN_KUSTOMIZE = (5, 0)
INSTALL_HINT = (
    "kubectl {found} is needed to render deploy/k8s (`kubectl kustomize`, kustomize v5 or "
    "newer, kubectl 1.27+). Run `make kubectl`, which installs the Debian package `kubectl` "
    "the project's machines have (as root, with the Kubernetes apt repository configured), or "
    "install kubectl as the Kubernetes documentation describes (`Install and Set Up kubectl "
    "on Linux`) and put it on PATH."
)
POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# kustomize appends "-" and ten characters of the content hash to the name of a ConfigMap or
# Secret it generates (hex digits with 0, 1, 3, a and e spelled g, h, k, m and t).
GENERATED_KINDS = ("ConfigMap", "Secret")
_HASH_SUFFIX = r"-[2456789bcdfghkmt]{10}"


class KubectlMissing(RuntimeError):
    """kubectl is absent or too old to render the manifests."""


@functools.cache
def kubectl() -> str:
    """The path of a kubectl whose kustomize is new enough, or :class:`KubectlMissing`."""
    path = shutil.which("kubectl")
    if path is None:
        raise KubectlMissing(INSTALL_HINT.format(found="was not found on PATH; it"))
    out = subprocess.run(
        [path, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False
    ).stdout
    version = json.loads(out or "{}").get("kustomizeVersion", "")
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < MIN_KUSTOMIZE:
        raise KubectlMissing(INSTALL_HINT.format(found=f"at {path} bundles kustomize {version!r};"))
    return path


def kustomize_text(directory: Path) -> str:
    """What ``kubectl kustomize directory`` prints."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return result.stdout


def parse(text: str) -> list[Object]:
    return [doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc]


def kustomize(directory: Path) -> list[Object]:
    """The objects ``kubectl kustomize directory`` renders."""
    return parse(kustomize_text(directory))


def base_name(obj: Object) -> str:
    """An object's name without the hash suffix kustomize gives the objects it generates."""
    name: str = obj["metadata"]["name"]
    if obj["kind"] not in GENERATED_KINDS:
        return name
    return re.sub(_HASH_SUFFIX + "$", "", name)


def has_hash_suffix(name: str) -> bool:
    return re.search(_HASH_SUFFIX + "$", name) is not None


def find(objects: Iterable[Object], kind: str, name: str) -> Object | None:
    """The object of that kind named ``name``, or generated from a generator of that name."""
    for obj in objects:
        if obj["kind"] == kind and name in (obj["metadata"]["name"], base_name(obj)):
            return obj
    return None


def pod_template(obj: Object) -> Object | None:
    node: Any = obj
    path = POD_TEMPLATE_PATHS.get(obj.get("kind", ""))
    for key in path or ():
        node = node.get(key) if isinstance(node, dict) else None
    return node if path and isinstance(node, dict) else None


def labels_of(obj: Object) -> Object:
    """The labels of an object's pods, or of the object itself when it has none."""
    template = pod_template(obj)
    labels: Object = (
        (template if template is not None else obj).get("metadata", {}).get("labels", {})
    )
    return labels


def label(obj: Object) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('name')}"


def containers(obj: Object) -> list[Object]:
    spec = (pod_template(obj) or {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def environment(objects: list[Object], container: Object) -> dict[str, str]:
    """The plain variables a container gets: its ConfigMaps' data, then its own ``value``s
    (variables taken from Secrets are left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        config = find(objects, "ConfigMap", ref["name"]) if ref else None
        env.update((config or {}).get("data", {}))
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env
