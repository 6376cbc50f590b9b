"""``/api/v1/promotions``: the promotions themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from coupon_core.errors import ValidationFailed
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.openapi import Doc, documented

from promotion_service.api import views
from promotion_service.api.forms import parse_form
from promotion_service.api.pagination import page_request, paginated
from promotion_service.api.queries import PromotionListQuery
from promotion_service.api.responses import PromotionOut, PromotionPageOut
from promotion_service.api.schemas import PromotionForm
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.errors import PROMOTION_FORM, invalid
from promotion_service.domain.models import Promotion
from promotion_service.keys import SETTINGS
from promotion_service.usecases import promotions

NO_CONTENT = 204
_FIELDS = {
    "name": "name",
    "description": "description",
    "exclusive": "exclusive",
    "usageLimit": "usage_limit",
    "startsAt": "starts_at",
    "endsAt": "ends_at",
    "priority": "priority",
    "couponBased": "coupon_based",
    "rules": "rules",
    "actions": "actions",
    "channels": "channels",
}
_DEFAULTS: dict[str, Any] = {
    "description": None,
    "exclusive": False,
    "usage_limit": None,
    "starts_at": None,
    "ends_at": None,
    "priority": 0,
    "coupon_based": False,
    "rules": [],
    "actions": [],
    "channels": [],
}


def _values(form: PromotionForm, names: set[str]) -> dict[str, Any]:
    dumped = form.model_dump(mode="python")
    values: dict[str, Any] = {}
    for field in names & _FIELDS.keys():
        value = dumped[field]
        if field in ("rules", "actions"):
            value = [] if value is None else form.model_dump(mode="json")[field]
        elif value is None and field in ("exclusive", "couponBased", "priority", "channels"):
            value = _DEFAULTS[_FIELDS[field]]
        values[_FIELDS[field]] = value
    return values


def _checked(promo: Promotion) -> Promotion:
    errors: dict[str, list[str]] = {}
    if not promo.name or not promo.name.strip():
        errors["name"] = ["Please enter promotion name."]
    if promo.starts_at and promo.ends_at and promo.ends_at < promo.starts_at:
        errors["endsAt"] = ["End date cannot be set prior start date."]
    if errors:
        raise invalid(PROMOTION_FORM, errors)
    return promo


@documented(
    Doc(
        summary="List promotions (paginated)",
        description=(
            "Query: page, limit, sorting[code|name|priority]=asc|desc, criteria[search], "
            "criteria[couponBased]."
        ),
        tags=("promotions",),
        query=PromotionListQuery,
        responses={
            200: PromotionPageOut,
            400: "Validation Failed: a paging, sorting or criteria parameter",
            404: "a page past the last",
        },
    )
)
async def list_promotions(request: web.Request) -> web.Response:
    zone = request.app[SETTINGS].zone
    req = page_request(request, sortable=("code", "name", "priority"), default_sort=("id", "asc"))
    query = request.rel_url.query
    search = query.get("criteria[search]") or None
    flag = query.get("criteria[couponBased]")
    if flag not in (None, "", "true", "false", "1", "0"):
        raise ValidationFailed({"criteria[couponBased]": ["This value should be true or false."]})
    coupon_based = None if flag in (None, "") else flag in ("true", "1")
    async with request.app[PG_POOL].acquire() as conn:
        total, items = await promotion_db.page(
            conn,
            search=search,
            coupon_based=coupon_based,
            sort=req.sort,
            limit=req.limit,
            offset=req.offset,
        )
    items_out = [views.promotion(p, zone) for p in items]
    return json_response(
        paginated(PromotionPageOut, f"{views.BASE}/", req, total, items_out).body()
    )


@documented(
    Doc(
        summary="Create a promotion",
        tags=("promotions",),
        body=PromotionForm,
        responses={201: PromotionOut, 400: "Validation Failed: the form names each field"},
    )
)
async def create_promotion(request: web.Request) -> web.Response:
    zone = request.app[SETTINGS].zone
    form = await parse_form(request, PromotionForm, PROMOTION_FORM, zone=zone)
    if form.code is None:
        errors = {"code": ["Please enter promotion code."]}
        if not form.name:
            errors["name"] = ["Please enter promotion name."]
        raise invalid(PROMOTION_FORM, errors)
    now = datetime.now(UTC)
    draft = Promotion(
        **{
            "id": 0,
            "code": form.code,
            "name": "",
            "used": 0,
            "created_at": now,
            "updated_at": now,
            **_DEFAULTS,
            **_values(form, set(_FIELDS)),
        }
    )
    promo = await promotions.create(request.app[PG_POOL], request.app[REDIS], _checked(draft))
    return json_response(views.promotion(promo, zone).body(), status=201)


@documented(
    Doc(
        summary="Show a promotion",
        tags=("promotions",),
        responses={200: PromotionOut, 404: "no such promotion"},
    )
)
async def get_promotion(request: web.Request) -> web.Response:
    promo = await promotions.get(request.app[PG_POOL], request.match_info["promotion"])
    return json_response(views.promotion(promo, request.app[SETTINGS].zone).body())


async def _update(request: web.Request, *, full: bool) -> web.Response:
    form = await parse_form(request, PromotionForm, PROMOTION_FORM, zone=request.app[SETTINGS].zone)
    names = set(_FIELDS) if full else set(form.model_fields_set)

    def change(current: Promotion) -> Promotion:
        base = {field: getattr(current, field) for field in Promotion.__dataclass_fields__}
        return _checked(Promotion(**{**base, **_values(form, names)}))

    await promotions.update(
        request.app[PG_POOL], request.app[REDIS], request.match_info["promotion"], change
    )
    return web.Response(status=NO_CONTENT)


@documented(
    Doc(
        summary="Replace a promotion (fields left out become null)",
        tags=("promotions",),
        body=PromotionForm,
        responses={
            204: "replaced",
            400: "Validation Failed: the body of the Sylius error envelope names each field",
            404: "no such promotion",
        },
    )
)
async def replace_promotion(request: web.Request) -> web.Response:
    return await _update(request, full=True)


@documented(
    Doc(
        summary="Change some fields of a promotion",
        tags=("promotions",),
        body=PromotionForm,
        responses={
            204: "changed",
            400: "Validation Failed: the body of the Sylius error envelope names each field",
            404: "no such promotion",
        },
    )
)
async def patch_promotion(request: web.Request) -> web.Response:
    return await _update(request, full=False)


@documented(
    Doc(
        summary="Delete a promotion",
        tags=("promotions",),
        responses={204: "deleted", 404: "no such promotion"},
    )
)
async def delete_promotion(request: web.Request) -> web.Response:
    await promotions.delete(
        request.app[PG_POOL], request.app[REDIS], request.match_info["promotion"]
    )
    return web.Response(status=NO_CONTENT)
