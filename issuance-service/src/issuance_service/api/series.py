"""``/v2/coupon/series``: create, list, read and change coupon series."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from coupon_core.errors import BadRequest
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.openapi import Doc, documented

from issuance_service.api import views
from issuance_service.api.common import INT32, path_id, query_int, stores
from issuance_service.api.queries import SeriesListQuery
from issuance_service.api.responses import SeriesListOut, SeriesOut
from issuance_service.api.schemas import SERIES_FIELDS, SeriesIn
from issuance_service.db import series as series_db
from issuance_service.domain.errors import series_not_found
from issuance_service.usecases import series_admin


def _settings(body: SeriesIn) -> dict[str, Any]:
    return {column: getattr(body, wire) for wire, column in SERIES_FIELDS.items()}


def _series_id(request: web.Request) -> int:
    series_id = path_id(request)
    if series_id is None or series_id > INT32:
        raise series_not_found(0 if series_id is None else series_id)
    return series_id


@documented(
    Doc(
        summary="Create a coupon series",
        tags=("series",),
        body=SeriesIn,
        responses={
            201: SeriesOut,
            400: "invalid input (Capillary v2 envelope: errors[].code, message)",
        },
    )
)
async def create(request: web.Request) -> web.Response:
    body = parse_model(SeriesIn, await read_json(request))
    series = await series_admin.create(stores(request), _settings(body))
    return json_response(views.series(series).body(), status=201)


@documented(
    Doc(
        summary="List coupon series",
        description="Query: after (an id; default 0), limit (1..500, default 100).",
        tags=("series",),
        query=SeriesListQuery,
        responses={200: SeriesListOut, 400: "after or limit out of range"},
    )
)
async def list_all(request: web.Request) -> web.Response:
    after = query_int(request, "after", default=0, low=0, high=INT32)
    limit = query_int(request, "limit", default=100, low=1, high=500)
    async with stores(request).pool.acquire() as conn:
        page = await series_db.list_page(conn, after=after, limit=limit)
    listing = SeriesListOut(series=[views.series(s) for s in page], warnings=[])
    return json_response(listing.body())


@documented(
    Doc(
        summary="Show a coupon series",
        tags=("series",),
        responses={200: SeriesOut, 404: "no such series"},
    )
)
async def get(request: web.Request) -> web.Response:
    series = await series_admin.get(stores(request), _series_id(request))
    return json_response(views.series(series).body())


@documented(
    Doc(
        summary="Change a coupon series (fields left out keep their value)",
        tags=("series",),
        body=SeriesIn,
        responses={
            200: SeriesOut,
            400: "invalid input (Capillary v2 envelope: errors[].code, message)",
            404: "no such series",
        },
    )
)
async def update(request: web.Request) -> web.Response:
    """Fields left out keep their value; the result is validated as a whole."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    series_id = _series_id(request)
    current = await series_admin.get(stores(request), series_id)
    merged = {**views.series(current).body(), **data}
    body = parse_model(SeriesIn, merged)
    series = await series_admin.update(stores(request), series_id, _settings(body))
    return json_response(views.series(series).body())
