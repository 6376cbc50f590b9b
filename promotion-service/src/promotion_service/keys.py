"""Typed application keys of the promotion-service."""

from __future__ import annotations

import asyncio

from aiohttp import web

from promotion_service.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
# Set when a generation job was queued, so that an idle job runner starts it at once.
JOBS_QUEUED = web.AppKey("jobs_queued", asyncio.Event)
