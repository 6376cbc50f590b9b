"""Helpers the handlers share."""

from __future__ import annotations

from aiohttp import web
from coupon_core.errors import BadRequest
from coupon_core.http import bigint
from coupon_core.keys import PG_POOL, REDIS

from issuance_service.keys import SCRIPTS
from issuance_service.usecases.stores import Stores

INT32 = 2**31 - 1


def stores(request: web.Request) -> Stores:
    app = request.app
    return Stores(pool=app[PG_POOL], redis=app[REDIS], scripts=app[SCRIPTS])


def path_id(request: web.Request, name: str = "id") -> int | None:
    """The numeric path parameter, or None when it cannot name anything."""
    return bigint(request.match_info[name])


def query_int(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    value = bigint(raw)
    if value is None or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer between {low} and {high}")
    return value
