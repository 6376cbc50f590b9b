"""What the gateway's admin endpoints (API tokens, staff) share: the ``{id}`` of a path."""

from __future__ import annotations

from aiohttp import web
from coupon_core.errors import NotFound
from coupon_core.http import bigint


def path_id(request: web.Request, what: str, code: str) -> int:
    """The path's ``{id}`` as a bigint; one that cannot be an id is a ``what`` not found
    (``code``), as an id no row has would be."""
    raw = request.match_info["id"]
    found = bigint(raw)
    if found is None:
        raise NotFound(f"No {what} with id {raw!r}.", code=code)
    return found
