"""Settings are validated at start-up; a bad value stops the process with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from coupon_core.settings import ServiceSettings, load_settings

GOOD = {
    "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "IDENTITY_SECRET": "x" * 32,
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name in {"DATABASE_URL", "REDIS_URL", "IDENTITY_SECRET", "PORT"}:
            monkeypatch.delenv(name)
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_reads_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("PORT", "9001")
    settings = load_settings(ServiceSettings)
    assert settings.port == 9001
    assert settings.database_url == GOOD["DATABASE_URL"]
    assert settings.identity_secret.get_secret_value() == GOOD["IDENTITY_SECRET"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "70000", "PORT"),
        ("PORT", "eighty", "PORT"),
        ("DATABASE_URL", "mysql://x/y", "postgresql://"),
        ("REDIS_URL", "http://x", "redis://"),
        ("IDENTITY_SECRET", "short", "at least 16"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_bad_values_exit_2_naming_the_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, message: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        load_settings(ServiceSettings)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert name in err
    assert message in err


def test_missing_required_values_are_named(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("DATABASE_URL")
    env.delenv("IDENTITY_SECRET")
    with pytest.raises(SystemExit):
        load_settings(ServiceSettings)
    err = capsys.readouterr().err
    assert "DATABASE_URL" in err
    assert "IDENTITY_SECRET" in err


@pytest.mark.parametrize(
    "module", ["gateway", "promotion_service", "issuance_service", "redemption_service"]
)
def test_every_process_refuses_to_start_on_bad_configuration(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update(GOOD, PORT="not-a-port")
    result = subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "PORT" in result.stderr
