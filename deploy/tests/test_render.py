"""The manifests are rendered by the real kustomize, a missing kubectl is a clear error,
and a changed setting or secret changes the pod templates that use it (so they roll)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import check
from render import containers, find, kustomize

TOOLS = Path(check.__file__).resolve().parent


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_without_kubectl_the_check_says_how_to_install_it(tmp_path: Path) -> None:
    # An empty PATH: no kubectl.
    result = _run([sys.executable, str(TOOLS / "check.py")], {**os.environ, "PATH": str(tmp_path)})
    assert result.returncode == 2, result
    assert "kubectl was not found on PATH" in result.stderr
    assert "make kubectl" in result.stderr


def test_make_kubectl_says_how_to_install_it_where_it_cannot(tmp_path: Path) -> None:
    # A machine without kubectl or apt-get: only the shell and the tools the script uses.
    for tool in ("sh", "id", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (tmp_path / tool).symlink_to(found)
    result = _run([str(tmp_path / "sh"), str(TOOLS / "ensure-kubectl")], {"PATH": str(tmp_path)})
    assert result.returncode == 1, result
    assert "apt-get install" in result.stderr
    assert "kubectl 1.27 or newer" in result.stderr


def _config_and_secret_of(k8s: Path, process: str) -> tuple[str, set[str]]:
    objects = kustomize(k8s / "overlays" / "dev")
    deployment = find(objects, "Deployment", process)
    assert deployment is not None
    (container,) = containers(deployment)
    (config,) = [s["configMapRef"]["name"] for s in container["envFrom"]]
    secrets = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    return config, secrets


def test_a_changed_setting_or_secret_changes_the_pod_template(tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    shutil.copytree(check.K8S, k8s)
    config, secrets = _config_and_secret_of(k8s, "redemption-service")

    settings = k8s / "overlays" / "dev" / "settings.env"
    settings.write_text(settings.read_text().replace("LOG_LEVEL=DEBUG", "LOG_LEVEL=INFO"))
    changed_config, same_secrets = _config_and_secret_of(k8s, "redemption-service")
    assert changed_config != config
    assert same_secrets == secrets

    secret = k8s / "overlays" / "dev" / "config" / "kustomization.yaml"
    secret.write_text(secret.read_text().replace("dev-postgres@", "rotated-postgres@"))
    same_config, changed_secrets = _config_and_secret_of(k8s, "redemption-service")
    assert same_config == changed_config
    assert len(changed_secrets) == 1
    assert changed_secrets != secrets
