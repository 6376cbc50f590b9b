"""The platform's event streams, read by the consumer group ``webhook`` (fan-out)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

consumers: tuple[tuple[str, Callable[[web.Application], Coroutine[Any, Any, None]]], ...] = ()
