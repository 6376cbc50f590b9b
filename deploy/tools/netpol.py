"""What a set of NetworkPolicies allows: a small evaluator of the Kubernetes semantics.

A connection from ``src`` to ``dst`` on a port is allowed when both sides allow it:

* egress: no policy of the source's namespace selects the source for Egress, or one of
  those that do has an egress rule matching the destination and port;
* ingress: likewise for the destination, its namespace's Ingress policies and the source.

Peers are pods (namespace, namespace labels, pod labels, named container ports) or
addresses outside the cluster (``ip``). Supported: podSelector / namespaceSelector with
matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist), ipBlock with except,
numeric and named ports, protocols.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Peer:
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)  # container port names
    ip: str | None = None  # set for an address outside the cluster

    @property
    def is_pod(self) -> bool:
        return self.ip is None

    def ns_labels(self) -> Mapping[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in {"In", "NotIn", "Exists", "DoesNotExist"}:
            raise ValueError(f"unknown selector operator {op}")
    return True


def _peer_matches(rule_peer: Mapping[str, Any], policy_ns: str, other: Peer) -> bool:
    if "ipBlock" in rule_peer:
        if other.is_pod:
            return False  # pods are matched by selectors here, not by their addresses
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(other.ip or "")
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(c) for c in block.get("except", []))
    if not other.is_pod:
        return False
    ns_selector = rule_peer.get("namespaceSelector")
    pod_selector = rule_peer.get("podSelector")
    if ns_selector is None:
        if other.namespace != policy_ns:
            return False
    elif not selector_matches(ns_selector, other.ns_labels()):
        return False
    return pod_selector is None or selector_matches(pod_selector, other.labels)


def _port_matches(
    rule_ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str, dst: Peer
) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            if dst.ports.get(wanted) == port:
                return True
            continue
        end = entry.get("endPort", wanted)
        if wanted <= port <= end:
            return True
    return False


def _selecting(policies: Iterable[Object], pod: Peer, direction: str) -> list[Object]:
    chosen = []
    for policy in policies:
        if policy.get("kind") != "NetworkPolicy":
            continue
        spec = policy.get("spec", {})
        if policy["metadata"].get("namespace", "") != pod.namespace:
            continue
        types = spec.get("policyTypes") or (
            ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]
        )
        if direction in types and selector_matches(spec.get("podSelector", {}), pod.labels):
            chosen.append(policy)
    return chosen


def allowed(
    policies: Iterable[Object], src: Peer, dst: Peer, port: int, protocol: str = "TCP"
) -> bool:
    policies = list(policies)
    if src.is_pod:
        egress = _selecting(policies, src, "Egress")
        if egress and not any(
            _port_matches(rule.get("ports"), port, protocol, dst)
            and (
                not rule.get("to") or any(_peer_matches(p, src.namespace, dst) for p in rule["to"])
            )
            for policy in egress
            for rule in policy["spec"].get("egress") or []
        ):
            return False
    if dst.is_pod:
        ingress = _selecting(policies, dst, "Ingress")
        if ingress and not any(
            _port_matches(rule.get("ports"), port, protocol, dst)
            and (
                not rule.get("from")
                or any(_peer_matches(p, dst.namespace, src) for p in rule["from"])
            )
            for policy in ingress
            for rule in policy["spec"].get("ingress") or []
        ):
            return False
    return True
