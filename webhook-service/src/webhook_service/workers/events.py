"""The platform's event streams, read by the consumer group ``webhook`` (the fan-out,
usecases/fanout.py): one consumer of each service's stream."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web
from coupon_core.consumer import consumer_task

from webhook_service.keys import DELIVERIES_QUEUED
from webhook_service.usecases import fanout

GROUP = "webhook"
STREAMS = ("redemption", "issuance", "promotion")

Work = Callable[[web.Application], Coroutine[Any, Any, None]]


def _consumer(stream: str) -> Work:
    async def consume(app: web.Application) -> None:
        run = consumer_task(
            stream_service=stream, consumer=GROUP, handler=fanout.handler(app[DELIVERIES_QUEUED])
        )
        await run(app)

    return consume


consumers: tuple[tuple[str, Work], ...] = tuple(
    (f"{stream}-events", _consumer(stream)) for stream in STREAMS
)
