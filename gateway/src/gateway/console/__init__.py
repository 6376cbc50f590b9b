"""The console: server-rendered pages under /console for staff (docs/console.md)."""

from __future__ import annotations

from aiohttp import web


def add_console_routes(app: web.Application) -> None:
    """Wired in app.py; the pages come with the console."""
