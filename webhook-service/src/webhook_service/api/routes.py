"""The routes of the webhook-service (CRM family)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    del app
