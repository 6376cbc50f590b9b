"""References between the rendered objects of an overlay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from netpol import selector_matches
from render import containers, find, has_hash_suffix, label, labels_of, pod_template

Object = dict[str, Any]


class Ref(NamedTuple):
    kind: str
    name: str
    key: str | None = None  # a ConfigMap's or Secret's key, a Service's port name
    optional: bool = False


ENV_SOURCES = {
    "configMapRef": "ConfigMap",
    "secretRef": "Secret",
    "configMapKeyRef": "ConfigMap",
    "secretKeyRef": "Secret",
}
VOLUME_SOURCES = {"configMap": ("ConfigMap", "name"), "secret": ("Secret", "secretName")}


def _pod_refs(obj: Object) -> Iterator[Ref]:
    sources = [
        source
        for c in containers(obj)
        for source in [*c.get("envFrom", []), *(e.get("valueFrom", {}) for e in c.get("env", []))]
    ]
    for field, ref in ((f, r) for s in sources for f, r in s.items() if f in ENV_SOURCES):
        yield Ref(ENV_SOURCES[field], ref["name"], ref.get("key"), ref.get("optional", False))
    for volume in (pod_template(obj) or {}).get("spec", {}).get("volumes", []):
        for field, (kind, name) in VOLUME_SOURCES.items():
            if field in volume:
                yield Ref(kind, volume[field][name])


def _ingress_refs(obj: Object) -> Iterator[Ref]:
    for tls in obj["spec"].get("tls", []):
        yield Ref("Secret", tls["secretName"])
    for rule in obj["spec"].get("rules", []):
        for path in rule.get("http", {}).get("paths", []):
            service = path["backend"]["service"]
            yield Ref("Service", service["name"], service["port"].get("name"))


def _hpa_refs(obj: Object) -> Iterator[Ref]:
    target = obj["spec"]["scaleTargetRef"]
    yield Ref(target["kind"], target["name"])


REFERENCES: dict[str, Callable[[Object], Iterator[Ref]]] = {
    "Ingress": _ingress_refs,
    "HorizontalPodAutoscaler": _hpa_refs,
}
# What each kind's selector must select: (its selector, the kinds selected, their labels).
SELECTORS: dict[str, tuple[Callable[[Object], Object], tuple[str, ...]]] = {
    "Service": (
        lambda o: {"matchLabels": o["spec"].get("selector")},
        ("Deployment", "StatefulSet"),
    ),
    "PodDisruptionBudget": (lambda o: o["spec"]["selector"], ("Deployment",)),
    "ServiceMonitor": (lambda o: o["spec"]["selector"], ("Service",)),
}
KEYS: dict[str, Callable[[Object], Any]] = {
    "ConfigMap": lambda o: o.get("data") or {},
    "Secret": lambda o: o.get("data") or {},
    "Service": lambda o: {p.get("name") for p in o["spec"].get("ports", [])},
}


def _ref_problem(objects: list[Object], external: set[tuple[str, str]], ref: Ref) -> str | None:
    target = find(objects, ref.kind, ref.name)
    if target is None:
        ignored = ref.optional or (ref.kind, ref.name) in external
        return None if ignored else f"{ref.kind} {ref.name} missing"
    if ref.key is not None and ref.key not in KEYS.get(ref.kind, lambda o: {ref.key})(target):
        return f"{ref.kind} {ref.name} has no {ref.key}"
    if ref.kind in ("ConfigMap", "Secret") and not has_hash_suffix(ref.name):
        return f"{ref.kind} {ref.name} has no content hash in its name: use a generator"
    return None


def check_references(objects: list[Object], external: set[tuple[str, str]]) -> list[str]:
    """References to objects the overlay does not render (but the ``external`` ones), to
    keys or ports they lack, to ConfigMaps and Secrets without a content hash in their name
    (pods would not restart when they change), and selectors that select nothing."""
    problems: list[str] = []
    for obj in objects:
        for ref in REFERENCES.get(obj["kind"], _pod_refs)(obj):
            problem = _ref_problem(objects, external, ref)
            problems += [f"{label(obj)}: {problem}"] if problem else []
        if obj["kind"] in SELECTORS:
            selector, kinds = SELECTORS[obj["kind"]]
            candidates = [o for o in objects if o["kind"] in kinds]
            if not any(selector_matches(selector(obj), labels_of(o)) for o in candidates):
                problems.append(f"{label(obj)}: selects no {'/'.join(kinds)}")
    return problems
