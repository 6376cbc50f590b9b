"""Waiting in tests: poll a condition with a deadline, never sleep a guessed time.

One helper for every test: ``until`` polls a coroutine function (a probe over HTTP, Redis
or PostgreSQL) or a plain one (state that other tasks of the test change), and returns what
it found; ``until_sync`` is the same for synchronous tests.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar, overload

POLL_S = 0.02

T = TypeVar("T")
_TRUE: Final = object()  # the default of ``equals``: any true value will do


@overload
async def until(
    check: Callable[[], Awaitable[T]],
    what: str = ...,
    limit_s: float = ...,
    *,
    equals: object = ...,
) -> T: ...


@overload
async def until(
    check: Callable[[], T], what: str = ..., limit_s: float = ..., *, equals: object = ...
) -> T: ...


async def until(
    check: Callable[[], Any],
    what: str = "the condition",
    limit_s: float = 20.0,
    *,
    equals: object = _TRUE,
) -> Any:
    """Poll ``check()`` until its value is true (or equal to ``equals``, when given) and
    return that value; fail the test, showing the last value, if not within ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if _met(value, equals):
            return value
        assert time.monotonic() < deadline, _late(what, limit_s, value, equals)
        await asyncio.sleep(POLL_S)


def until_sync(check: Callable[[], T], what: str = "the condition", limit_s: float = 20.0) -> T:
    """:func:`until` for synchronous tests (a Hypothesis state machine driving HTTP)."""
    deadline = time.monotonic() + limit_s
    while not (value := check()):
        assert time.monotonic() < deadline, _late(what, limit_s, value, _TRUE)
        time.sleep(POLL_S)
    return value


def _met(value: object, equals: object) -> bool:
    return bool(value) if equals is _TRUE else value == equals


def _late(what: str, limit_s: float, value: object, equals: object) -> str:
    expected = "" if equals is _TRUE else f", expected {equals!r}"
    return f"{what} not within {limit_s}s: last {value!r}{expected}"
