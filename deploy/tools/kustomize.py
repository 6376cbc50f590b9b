"""A small kustomize renderer for the subset deploy/k8s uses, so manifests can be checked
without kubectl or a kustomize binary.

Supported kustomization fields (anything else is refused, not ignored):

* ``resources``: YAML files (several documents each) and directories holding a
  kustomization, rendered recursively;
* ``namespace``: set on every namespaced object;
* ``labels`` (``pairs``, ``includeTemplates``; ``includeSelectors`` must be false);
* ``images`` (``name`` with ``newName`` / ``newTag`` / ``digest``) on the containers and
  init containers of every pod template;
* ``patches``: strategic-merge patches (one per entry) from ``path`` or inline ``patch``,
  applied to the object of the same kind and name, or to every object a ``target``
  selects (by ``kind``, ``name``, ``labelSelector`` of ``key=value`` pairs). Lists merge
  by the same keys as the Kubernetes strategic merge (containers and env by name, volume
  mounts by mount path, ...); other lists are replaced; a ``null`` value deletes a key;
* ``configMapGenerator`` / ``secretGenerator`` with ``literals`` and ``envs``, only with
  ``generatorOptions.disableNameSuffixHash: true`` (the content-hash suffix is not
  reproduced).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "patches",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
}
# Strategic-merge keys of the list fields the manifests patch (Kubernetes API conventions).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "topologySpreadConstraints": "topologyKey",
}
POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not support, or is wrong."""


def object_id(obj: Object) -> tuple[str, str, str]:
    meta = obj.get("metadata", {})
    return (obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))


def load_documents(path: Path) -> list[Object]:
    with path.open() as handle:
        docs = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise KustomizeError(f"{path}: every document needs apiVersion and kind")
    return docs


def _kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise KustomizeError(f"{directory}: no kustomization file")


def build(directory: Path) -> list[Object]:
    """Render the kustomization in ``directory`` to a list of objects."""
    directory = Path(directory)
    spec = yaml.safe_load(_kustomization_file(directory).read_text()) or {}
    unknown = set(spec) - SUPPORTED_FIELDS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")

    objects: list[Object] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        objects.extend(build(target) if target.is_dir() else load_documents(target))
    objects.extend(_generate(directory, spec))
    _check_unique(directory, objects)

    for patch in spec.get("patches", []):
        _apply_patch(directory, objects, patch)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for entry in spec.get("labels", []):
        _apply_labels(directory, objects, entry)
    for image in spec.get("images", []):
        _apply_image(objects, image)
    _check_unique(directory, objects)
    return objects


def _check_unique(directory: Path, objects: list[Object]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        key = object_id(obj)
        if key in seen:
            raise KustomizeError(f"{directory}: {key} defined twice")
        seen.add(key)


# -- generators ---------------------------------------------------------------------------
def _read_env_file(path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise KustomizeError(f"{path}: {line!r} is not KEY=value")
        pairs[key.strip()] = value
    return pairs


def _generate(directory: Path, spec: Object) -> list[Object]:
    generated: list[Object] = []
    options = spec.get("generatorOptions", {})
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for gen in spec.get(field, []):
            merged = {**options, **gen.get("options", {})}
            if not merged.get("disableNameSuffixHash"):
                raise KustomizeError(
                    f"{directory}: {gen.get('name')}: only generators with "
                    "disableNameSuffixHash: true are supported"
                )
            unknown = set(gen) - {"name", "literals", "envs", "options", "type", "behavior"}
            if unknown or gen.get("behavior", "create") != "create":
                raise KustomizeError(f"{directory}: unsupported generator settings {gen}")
            data: dict[str, str] = {}
            for env_file in gen.get("envs", []):
                data.update(_read_env_file(directory / env_file))
            for literal in gen.get("literals", []):
                key, sep, value = literal.partition("=")
                if not sep:
                    raise KustomizeError(f"{directory}: literal {literal!r} is not KEY=value")
                data[key] = value
            obj: Object = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
            if kind == "Secret":
                obj["type"] = gen.get("type", "Opaque")
                obj["data"] = {
                    key: base64.b64encode(value.encode()).decode() for key, value in data.items()
                }
            else:
                obj["data"] = data
            labels = merged.get("labels")
            if labels:
                obj["metadata"]["labels"] = dict(labels)
            generated.append(obj)
    return generated


# -- patches ------------------------------------------------------------------------------
def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    """``patch`` merged into ``base`` (neither is modified)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    key = MERGE_KEYS.get(field)
    if (
        key is not None
        and isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and key in item for item in [*base, *patch])
    ):
        result = [copy.deepcopy(item) for item in base]
        index = {item[key]: position for position, item in enumerate(result)}
        for item in patch:
            if item[key] in index:
                position = index[item[key]]
                result[position] = strategic_merge(result[position], item, "")
            else:
                result.append(copy.deepcopy(item))
        return result
    return copy.deepcopy(patch)


def _selects(obj: Object, target: Object) -> bool:
    meta = obj.get("metadata", {})
    if "kind" in target and obj["kind"] != target["kind"]:
        return False
    if "name" in target and meta.get("name") != target["name"]:
        return False
    if "labelSelector" in target:
        labels = meta.get("labels", {})
        for term in str(target["labelSelector"]).split(","):
            key, _, value = term.strip().partition("=")
            if labels.get(key) != value:
                return False
    return True


def _apply_patch(directory: Path, objects: list[Object], entry: Object) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise KustomizeError(f"{directory}: unsupported patch fields {sorted(unknown)}")
    if "path" in entry:
        docs = load_documents(directory / entry["path"])
    else:
        docs = [doc for doc in yaml.safe_load_all(entry.get("patch", "")) if doc]
    if len(docs) != 1:
        # kustomize's `patches` field holds one patch per entry (unlike the deprecated
        # patchesStrategicMerge); a file of several documents is an error there too.
        raise KustomizeError(f"{directory}: patch {entry} must hold exactly one document")
    target = entry.get("target")
    if target is not None and set(target) - {"kind", "name", "labelSelector"}:
        raise KustomizeError(f"{directory}: unsupported patch target {target}")
    for doc in docs:
        if isinstance(doc, list):
            raise KustomizeError(f"{directory}: JSON6902 patches are not supported")
        if target is not None:
            body = copy.deepcopy(doc)
            for key in ("name", "namespace"):
                body.get("metadata", {}).pop(key, None)
            selected = [i for i, obj in enumerate(objects) if _selects(obj, target)]
        else:
            body = doc
            wanted = {"kind": doc["kind"], "name": doc["metadata"]["name"]}
            selected = [i for i, obj in enumerate(objects) if _selects(obj, wanted)]
        if not selected:
            raise KustomizeError(f"{directory}: patch {entry} matches no object")
        for position in selected:
            objects[position] = strategic_merge(objects[position], body)


# -- transformers -------------------------------------------------------------------------
def pod_template(obj: Object) -> Object | None:
    path = POD_TEMPLATE_PATHS.get(obj.get("kind", ""))
    node: Any = obj
    for key in path or ():
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if path and isinstance(node, dict) else None


def _apply_labels(directory: Path, objects: list[Object], entry: Object) -> None:
    if entry.get("includeSelectors"):
        raise KustomizeError(f"{directory}: labels with includeSelectors are not supported")
    pairs = entry.get("pairs", {})
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        template = pod_template(obj)
        if template is not None and entry.get("includeTemplates"):
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def image_name(reference: str) -> str:
    """``repo/name`` from ``repo/name:tag`` or ``repo/name@sha256:...``."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def containers(obj: Object) -> Iterable[Object]:
    template = pod_template(obj)
    if template is None:
        return []
    spec = template.get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _apply_image(objects: list[Object], image: Object) -> None:
    for obj in objects:
        for container in containers(obj):
            if image_name(container.get("image", "")) != image["name"]:
                continue
            name = image.get("newName", image["name"])
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{name}:{image['newTag']}"
            else:
                current = container["image"]
                container["image"] = name + current[len(image_name(current)) :]
