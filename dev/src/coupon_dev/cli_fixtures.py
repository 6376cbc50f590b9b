"""Helpers and fixtures for running ``couponctl`` against the real platform: the same
launcher ``make run`` uses, on free ports (``platform``), and ``ctl`` to run commands.
Every test runs in a directory of its own (``own_directory``), so a ``.data/couponctl.env``
left by ``make run`` in the checkout never supplies a URL or token a test did not give."""

from __future__ import annotations

import io
import json
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from coupon_dev.stack import Stack, StackConfig
from couponctl.__main__ import main

STACK_TOKEN = "cli-bootstrap-admin-token-0123456789"  # noqa: S105
WEBHOOK_TO_LOOPBACK = {
    "WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Couponctl:
    """Runs ``couponctl`` in this process against the stack's gateway."""

    def __init__(self, url: str, token: str = STACK_TOKEN) -> None:
        self.url = url
        self.env = {"COUPONCTL_URL": url, "COUPONCTL_TOKEN": token}

    def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), env=self.env, stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *argv: str) -> Any:
        result = self(*argv, "--json")
        assert result.code == 0, result.err
        return result.json()


@pytest.fixture(scope="session")
def platform() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="couponctl-") as tmp:
        config = StackConfig(
            data_dir=Path(tmp),
            gateway_port=0,
            bootstrap_admin_token=STACK_TOKEN,
            durable=False,
            # Small generation requests run as background jobs, so the job path is tested.
            extra_env={"GENERATION_SYNC_LIMIT": "10"},
            # The webhook tests' receiver listens on loopback over plain http.
            service_env={"webhook": WEBHOOK_TO_LOOPBACK},
        )
        with Stack(config) as running:
            yield running


@pytest.fixture
def ctl(platform: Stack) -> Couponctl:
    return Couponctl(platform.gateway_url)


@pytest.fixture(autouse=True)
def own_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path
