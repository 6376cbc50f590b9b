"""The real stack, as separate processes, started by the same launcher `make run` uses."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from coupon_core.stack import Stack, StackConfig

ADMIN_TOKEN = "e2e-bootstrap-admin-token-0123456789"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="coupon-e2e-") as tmp:
        config = StackConfig(
            data_dir=Path(tmp),
            gateway_port=0,
            replicas=2,
            bootstrap_admin_token=ADMIN_TOKEN,
            durable=False,
        )
        with Stack(config) as running:
            yield running


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
