"""What a set of NetworkPolicies allows, by the Kubernetes rules.

A connection from ``src`` to ``dst`` on a port is allowed when both ends allow it:

* egress: no policy of the source's namespace selects the source for Egress, or a rule of
  one that does matches the destination and port;
* ingress: likewise for the destination, its namespace's Ingress policies and the source.

Peers are pods (namespace, namespace labels, pod labels, named container ports) or
addresses outside the cluster (``ip``). Supported: podSelector and namespaceSelector with
matchLabels and matchExpressions, ipBlock with except, numeric and named ports, protocols.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]
# matchExpressions operators: (is the key present, its value, the expression's values) -> match
OPERATORS: dict[str, Callable[[bool, str | None, list[str]], bool]] = {
    "In": lambda present, value, values: present and value in values,
    "NotIn": lambda present, value, values: not (present and value in values),
    "Exists": lambda present, value, values: present,
    "DoesNotExist": lambda present, value, values: not present,
}
# Which rules and peers apply in each direction: (rules field, peers field).
DIRECTIONS = {"Egress": ("egress", "to"), "Ingress": ("ingress", "from")}
# A rule without peers: every pod of every namespace, and every address.
ANYONE: list[Object] = [
    {"namespaceSelector": {}},
    {"ipBlock": {"cidr": "0.0.0.0/0"}},
    {"ipBlock": {"cidr": "::/0"}},
]


@dataclass(frozen=True)
class Peer:
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)  # container port names
    ip: str | None = None  # set for an address outside the cluster

    def ns_labels(self) -> Mapping[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (``matchLabels``, ``matchExpressions``) selects ``labels``."""
    if selector is None:
        return False
    expressions = [
        {"key": key, "operator": "In", "values": [value]}
        for key, value in (selector.get("matchLabels") or {}).items()
    ] + list(selector.get("matchExpressions") or [])
    return all(
        OPERATORS[e["operator"]](e["key"] in labels, labels.get(e["key"]), e.get("values") or [])
        for e in expressions
    )


def _in_block(block: Mapping[str, Any], ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    excluded = any(address in ipaddress.ip_network(c) for c in block.get("except", []))
    return address in ipaddress.ip_network(block["cidr"]) and not excluded


def _peer_matches(rule_peer: Mapping[str, Any], policy_ns: str, other: Peer) -> bool:
    if other.ip is not None:  # outside the cluster: only ipBlock peers match
        return "ipBlock" in rule_peer and _in_block(rule_peer["ipBlock"], other.ip)
    if "ipBlock" in rule_peer:
        return False  # pods are matched by selectors here, not by their addresses
    ns_selector = rule_peer.get("namespaceSelector")
    in_namespace = (
        other.namespace == policy_ns
        if ns_selector is None
        else selector_matches(ns_selector, other.ns_labels())
    )
    pod_selector = rule_peer.get("podSelector")
    return in_namespace and (pod_selector is None or selector_matches(pod_selector, other.labels))


@dataclass(frozen=True)
class Connection:
    src: Peer
    dst: Peer
    port: int
    protocol: str = "TCP"

    def ends(self, direction: str) -> tuple[Peer, Peer]:
        """(the pod whose policies decide, the peer it talks to) for ``direction``."""
        return (self.src, self.dst) if direction == "Egress" else (self.dst, self.src)


def _port_matches(entry: Mapping[str, Any], conn: Connection) -> bool:
    wanted = entry.get("port")
    if entry.get("protocol", "TCP") != conn.protocol:
        return False
    if isinstance(wanted, str):
        return conn.dst.ports.get(wanted) == conn.port
    return wanted is None or wanted <= conn.port <= entry.get("endPort", wanted)


def _policy_types(policy: Object) -> list[str]:
    spec = policy["spec"]
    return spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])


def _side_allows(policies: list[Object], direction: str, conn: Connection) -> bool:
    """Whether the policies of one end let the connection through in ``direction``."""
    pod, peer = conn.ends(direction)
    if pod.ip is not None:
        return True  # outside the cluster: no policy applies
    rules_field, peers_field = DIRECTIONS[direction]
    rules = [
        rule
        for policy in policies
        if policy["metadata"].get("namespace", "") == pod.namespace
        and direction in _policy_types(policy)
        and selector_matches(policy["spec"].get("podSelector", {}), pod.labels)
        for rule in policy["spec"].get(rules_field) or [None]
    ]
    # No policy selects the pod in this direction: everything is allowed.
    return not rules or any(
        rule is not None
        and any(_port_matches(p, conn) for p in rule.get("ports") or [{"protocol": conn.protocol}])
        and any(_peer_matches(p, pod.namespace, peer) for p in rule.get(peers_field) or ANYONE)
        for rule in rules
    )


def allowed(
    policies: Iterable[Object], src: Peer, dst: Peer, port: int, protocol: str = "TCP"
) -> bool:
    chosen = [p for p in policies if p.get("kind") == "NetworkPolicy"]
    conn = Connection(src, dst, port, protocol)
    return all(_side_allows(chosen, direction, conn) for direction in DIRECTIONS)
