"""``/api/v1/audit-log``: every change through the console or the admin API."""

from __future__ import annotations

from aiohttp import web


def add_audit_routes(app: web.Application) -> None:
    """Wired in app.py; the routes and the recording middleware come with the audit log."""
