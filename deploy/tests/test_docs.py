"""docs/configuration.md lists every setting, and the deployment files set only settings
that exist; docs/console.md lists every role's whitelist and shows the console's pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import check
import pytest
import yaml
from coupon_core.settings import ServiceSettings
from gateway.domain.roles import ROLES
from gateway.settings import Settings as GatewaySettings
from issuance_service.settings import Settings as IssuanceSettings
from promotion_service.settings import Settings as PromotionSettings
from redemption_service.settings import Settings as RedemptionSettings
from render import containers, find
from webhook_service.settings import Settings as WebhookSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[ServiceSettings]] = {
    "gateway": GatewaySettings,
    "promotion-service": PromotionSettings,
    "issuance-service": IssuanceSettings,
    "redemption-service": RedemptionSettings,
    "webhook-service": WebhookSettings,
}


def _env_names(cls: type[ServiceSettings]) -> set[str]:
    return {name.upper() for name in cls.model_fields}


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for process, cls in SETTINGS.items():
        for name in _env_names(cls):
            assert f"`{name}`" in text, f"{process}: {name} missing from docs/configuration.md"


def test_the_configmap_sets_only_real_settings() -> None:
    known = set().union(*(_env_names(cls) for cls in SETTINGS.values()))
    for overlay in ("dev", "prod"):
        config = find(check.render(overlay), "ConfigMap", "coupon-config")
        assert config is not None
        assert set(config["data"]) <= known, set(config["data"]) - known


@pytest.mark.parametrize("overlay", ["dev", "prod", "dev/migrations", "prod/migrations"])
def test_containers_set_only_real_settings(overlay: str) -> None:
    for obj in check.render(overlay):
        for process, cls in SETTINGS.items():
            if obj["metadata"]["name"] not in (process, f"{process}-migrate"):
                continue
            if obj["kind"] not in ("Deployment", "Job"):
                continue
            for container in containers(obj):
                names = {env["name"] for env in container.get("env", [])}
                assert names <= _env_names(cls), (process, names - _env_names(cls))


def test_compose_sets_only_real_settings() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        process = name.removesuffix("-migrate")
        if process not in SETTINGS:
            continue
        names = set(service["environment"])
        assert names <= _env_names(SETTINGS[process]), (name, names - _env_names(SETTINGS[process]))
        missing = {"DATABASE_URL", "REDIS_URL", "IDENTITY_SECRET"} - names
        assert not missing, (name, missing)


def test_the_console_guide_lists_every_role_and_its_whitelist() -> None:
    text = (ROOT / "docs" / "console.md").read_text()
    for role, whitelist in ROLES.items():
        assert f"`{role}`" in text, role
        for entry in whitelist:
            assert f"`{entry}`" in text, f"{role}: {entry} missing from docs/console.md"


def test_the_console_guide_shows_the_screenshots_the_browser_tests_take() -> None:
    text = (ROOT / "docs" / "console.md").read_text()
    shown = set(re.findall(r"!\[[^\]]+\]\(console/([a-z-]+)\.png\)", text))
    # checked(driver, "name") and console.visit(path, "name") take them.
    tests = (ROOT / "tests-e2e" / "test_console.py").read_text()
    taken = set(re.findall(r', "([a-z-]+)"\)', tests))
    assert shown, "docs/console.md shows no screenshot"
    assert shown <= taken, f"not taken by tests-e2e/test_console.py: {shown - taken}"
    pictures = {path.stem for path in (ROOT / "docs" / "console").glob("*.png")}
    assert shown == pictures, f"missing: {shown - pictures}, not shown: {pictures - shown}"
