"""The real stack, as separate processes, started by the same launcher `make run` uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from coupon_dev.stack import Stack
from support.stacks import ADMIN_TOKEN, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack() as running:
        yield running


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
