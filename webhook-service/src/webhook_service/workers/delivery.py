"""The deliverer: claims due deliveries and attempts them."""

from __future__ import annotations

import asyncio

from aiohttp import web

from webhook_service.keys import DELIVERIES_QUEUED


async def deliver(app: web.Application) -> None:
    await asyncio.Event().wait()
    app[DELIVERIES_QUEUED].clear()
