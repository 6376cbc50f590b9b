"""The connections an environment's NetworkPolicies must allow, and those they must refuse
(docs/operations.md, "Network policies"), checked with :mod:`netpol` on the rendered pods.

Each expectation names a source group, a destination group, a port (a number, or ``"http"``
for the destination's HTTP port) and a protocol; groups are the rendered pods (the five
processes, their migration Jobs, dev's data stores) and the peers outside the namespace
listed below. Only the webhook-service reaches the internet, on 443 alone, and never a
private, link-local or shared address there (its receivers are outside the cluster; the
cluster's own addresses, the data stores' among them, and the cloud's metadata are not).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netpol import Peer, allowed
from processes import PROCESSES
from render import containers, pod_template

Object = dict[str, Any]

# Peers outside the namespace. The data stores' addresses in prod are inside the CIDRs its
# NetworkPolicy names (deploy/k8s/overlays/prod/datastore-policies.yaml).
OUTSIDE = {
    "ingress-controller": Peer(namespace="ingress-nginx", labels={"app": "ingress-nginx"}),
    "prometheus": Peer(namespace="monitoring", labels={"app.kubernetes.io/name": "prometheus"}),
    "dns": Peer(namespace="kube-system", labels={"k8s-app": "kube-dns"}),
    "stranger": Peer(namespace="default", labels={"app": "curl"}),
    "internet": Peer(ip="203.0.113.9"),
    "internet-v6": Peer(ip="2001:db8::9"),
    # Addresses the webhook-service must not reach on 443: the cluster's pod, service and
    # node ranges, link-local (the cloud's metadata service), shared address space, and the
    # IPv6 unique-local and link-local ranges.
    "private-10": Peer(ip="10.96.0.1"),
    "private-172": Peer(ip="172.16.5.4"),
    "private-192": Peer(ip="192.168.1.10"),
    "metadata": Peer(ip="169.254.169.254"),
    "shared-100": Peer(ip="100.64.0.10"),
    "unique-local-v6": Peer(ip="fd00:ec2::254"),
    "link-local-v6": Peer(ip="fe80::1"),
}
PROD_STORES = {"postgres": Peer(ip="10.20.0.5"), "redis": Peer(ip="10.20.1.5")}
SERVICES = [p for p in PROCESSES if p != "gateway"]
# The one process that talks to the world outside the cluster (its webhook receivers).
OUTBOUND = "webhook-service"
JOBS = [f"{p}-migrate" for p in PROCESSES]
GROUPS = {
    "gateway": ["gateway"],
    "services": SERVICES,
    "processes": list(PROCESSES),
    "jobs": JOBS,
    "processes+jobs": [*PROCESSES, *JOBS],
    "inbound-only+jobs": [*(p for p in PROCESSES if p != OUTBOUND), *JOBS],
    "internet": ["internet", "internet-v6"],
    "private": [
        "private-10",
        "private-172",
        "private-192",
        "metadata",
        "shared-100",
        "unique-local-v6",
        "link-local-v6",
    ],
}
ALLOW, DENY = True, False
# (from, to, port, protocol, allowed)
EXPECTED: list[tuple[str, str, int | str, str, bool]] = [
    ("ingress-controller", "gateway", "http", "TCP", ALLOW),
    ("ingress-controller", "gateway", 22, "TCP", DENY),
    ("ingress-controller", "services", "http", "TCP", DENY),
    ("stranger", "processes", "http", "TCP", DENY),
    ("gateway", "services", "http", "TCP", ALLOW),
    ("services", "services", "http", "TCP", DENY),  # one service to another
    ("services", "gateway", "http", "TCP", DENY),
    ("jobs", "services", "http", "TCP", DENY),
    ("processes+jobs", "dns", 53, "UDP", ALLOW),
    ("processes+jobs", "dns", 53, "TCP", ALLOW),
    ("processes+jobs", "dns", 80, "TCP", DENY),
    ("prometheus", "processes", "http", "TCP", ALLOW),
    ("prometheus", "jobs", 8000, "TCP", DENY),
    ("processes+jobs", "postgres", 5432, "TCP", ALLOW),
    ("processes+jobs", "redis", 6379, "TCP", ALLOW),
    ("processes+jobs", "postgres", 6379, "TCP", DENY),
    ("processes+jobs", "internet", 5432, "TCP", DENY),
    ("processes+jobs", "internet", 6379, "TCP", DENY),
    ("inbound-only+jobs", "internet", 443, "TCP", DENY),
    ("webhook-service", "internet", 443, "TCP", ALLOW),
    ("webhook-service", "internet", 80, "TCP", DENY),
    ("webhook-service", "internet", 443, "UDP", DENY),
    ("webhook-service", "private", 443, "TCP", DENY),
    ("webhook-service", "postgres", 443, "TCP", DENY),
    ("webhook-service", "redis", 443, "TCP", DENY),
    ("internet", "webhook-service", "http", "TCP", DENY),
    ("stranger", "postgres", 5432, "TCP", DENY),
    ("stranger", "redis", 6379, "TCP", DENY),
    ("ingress-controller", "redis", 6379, "TCP", DENY),
]
# Where the data stores are outside the namespace (prod): a managed Redis's TLS port too.
EXPECTED_OUTSIDE_STORES: list[tuple[str, str, int | str, str, bool]] = [
    ("processes+jobs", "redis", 6380, "TCP", ALLOW),
    ("stranger", "redis", 6380, "TCP", DENY),
]


def pods(objects: list[Object]) -> dict[str, Peer]:
    """A peer for each rendered pod template, by the name of its workload."""
    found = {}
    for obj in objects:
        template = pod_template(obj)
        if template is not None:
            found[obj["metadata"]["name"]] = Peer(
                namespace=obj["metadata"]["namespace"],
                labels=template["metadata"]["labels"],
                ports={
                    p["name"]: p["containerPort"]
                    for c in containers(obj)
                    for p in c.get("ports", [])
                    if "name" in p
                },
            )
    return found


def _members(group: str, peers: dict[str, Peer]) -> Iterator[tuple[str, Peer]]:
    for name in GROUPS.get(group, [group]):
        yield name, peers[name]


def check_policies(objects: list[Object]) -> list[str]:
    """Every expectation that the rendered NetworkPolicies contradict."""
    inside = pods(objects)
    peers = {**OUTSIDE, **PROD_STORES, **inside}
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    problems = []
    rows = EXPECTED if "redis" in inside else EXPECTED + EXPECTED_OUTSIDE_STORES
    for source, target, port, protocol, expected in rows:
        for src_name, src in _members(source, peers):
            for dst_name, dst in _members(target, peers):
                if src_name == dst_name or not {src_name, dst_name} & inside.keys():
                    continue  # one peer, or none whose policies are the namespace's
                number = dst.ports.get("http", 0) if port == "http" else int(port)
                if allowed(policies, src, dst, number, protocol) != expected:
                    verb = "allowed" if not expected else "refused"
                    problems.append(f"{src_name} -> {dst_name}:{port}/{protocol} is {verb}")
    return problems
