"""The environment every overlay gives the gateway makes valid settings of that environment
(dev: local, prod: production): its token hash key comes from the Secret, and it believes
forwarded client addresses only from the ingress controller, the one peer its NetworkPolicy
lets in."""

from __future__ import annotations

import base64
import re
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import check
import pytest
import yaml
from gateway.settings import Settings
from netpol import Peer, allowed
from policies import pods
from render import containers, find

COMPOSE = Path(__file__).resolve().parents[1] / "compose.yaml"
# A pod of the ingress controller, and one of any other namespace (addresses of the pod CIDRs
# the overlays' TRUSTED_PROXIES name).
INGRESS_CONTROLLER = Peer(namespace="ingress-nginx", labels={"app": "ingress-nginx"})
ELSEWHERE = Peer(namespace="other", labels={"app": "anything"})


def _environment(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, str]:
    """The variables a container of ``name`` gets: its ConfigMaps, then its own entries
    (Secret values from the rendered Secret, or a placeholder where it is external)."""
    obj = find(objects, kind, name)
    assert obj is not None
    (container,) = containers(obj)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        config = find(objects, "ConfigMap", source["configMapRef"]["name"])
        assert config is not None
        env.update(config["data"])
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is None:
            env[entry["name"]] = entry["value"]
            continue
        secret = find(objects, "Secret", ref["name"])
        if secret is None:  # prod: created in the namespace beforehand
            env[entry["name"]] = f"{entry['name']}-from-the-secret-store".lower()
        elif ref["key"] in secret.get("data", {}):
            env[entry["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
        else:
            assert ref.get("optional"), (name, ref)
    return env


def _settings(env: dict[str, str]) -> Settings:
    # prod's Secret holds URLs of its own stores; any well-formed ones do here.
    stores = {"DATABASE_URL": "postgresql://coupon@db/coupon_gateway", "REDIS_URL": "redis://r"}
    for key, value in stores.items():
        if env[key].endswith("-from-the-secret-store"):
            env[key] = value
    fields: dict[str, Any] = {key.lower(): value for key, value in env.items()}
    return Settings(**fields)


@pytest.mark.parametrize(
    ("overlay", "kind", "name", "environment"),
    [
        ("dev", "Deployment", "gateway", "local"),
        ("prod", "Deployment", "gateway", "production"),
        ("dev/migrations", "Job", "gateway-migrate", "local"),
        ("prod/migrations", "Job", "gateway-migrate", "production"),
    ],
)
def test_the_gateway_environment_is_valid_settings_of_its_environment(
    overlay: str, kind: str, name: str, environment: str
) -> None:
    settings = _settings(_environment(check.render(overlay), kind, name))
    assert settings.environment == environment
    assert settings.token_hash_key is not None


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_forwarded_addresses_are_believed_from_the_ingress_controller_only(overlay: str) -> None:
    objects = check.render(overlay)
    env = _environment(objects, "Deployment", "gateway")
    proxies = _settings(env).trusted_proxies
    assert proxies, "TRUSTED_PROXIES is empty: every client would share the ingress's address"
    # Pod addresses of the usual pod CIDRs are trusted...
    for pod in ("10.244.1.7", "10.42.0.9", "192.168.3.4", "172.17.0.5"):
        assert any(ip_address(pod) in network for network in proxies), pod
    # ...which is safe because only the ingress controller reaches the gateway at all.
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    gateway = pods(objects)["gateway"]
    port = gateway.ports["http"]
    assert allowed(policies, INGRESS_CONTROLLER, gateway, port)
    assert not allowed(policies, ELSEWHERE, gateway, port)


@pytest.mark.parametrize("service", ["gateway", "gateway-migrate"])
def test_the_compose_gateway_environment_is_valid_production_settings(service: str) -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    env = {
        # ${NAME:-default} as compose reads it with nothing set
        key: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
        for key, value in compose["services"][service]["environment"].items()
    }
    fields: dict[str, Any] = {key.lower(): value for key, value in env.items()}
    settings = Settings(**fields)
    assert settings.environment == "production"
    assert settings.token_hash_key is not None
