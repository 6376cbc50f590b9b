"""``/api/v1/staff`` and ``/api/v1/staff-roles``: staff accounts of the console."""

from __future__ import annotations

from aiohttp import web


def add_staff_routes(app: web.Application) -> None:
    """Wired in app.py; the routes come with the staff accounts."""
