"""``/api/v1/promotions/{promotionCode}/coupons``: exactly the seed's verbs and bodies."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.openapi import Doc, documented

from promotion_service.api import examples, views
from promotion_service.api.forms import parse_form
from promotion_service.api.pagination import page_request, paginated
from promotion_service.api.queries import CouponListQuery
from promotion_service.api.responses import PromotionCouponOut, PromotionCouponPageOut
from promotion_service.api.schemas import CouponForm, NewCouponForm
from promotion_service.db import coupons as coupon_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.errors import COUPON_FORM, promotion_not_found
from promotion_service.domain.models import Coupon, CouponLimits
from promotion_service.keys import SETTINGS
from promotion_service.usecases import coupons

NO_CONTENT = 204


def _codes(request: web.Request) -> tuple[str, str]:
    return request.match_info["promotion"], request.match_info.get("coupon", "")


@documented(
    Doc(
        summary="List a promotion's coupons (paginated)",
        description="Query: page (default 1), limit or paginate (default 10, at most 100).",
        tags=("promotion coupons",),
        query=CouponListQuery,
        responses={
            200: PromotionCouponPageOut,
            400: "Validation Failed: a paging or sorting parameter",
            404: "no such promotion, or a page past the last",
        },
        examples={200: examples.COUPON_PAGE},
    )
)
async def list_coupons(request: web.Request) -> web.Response:
    promotion_code, _ = _codes(request)
    zone = request.app[SETTINGS].zone
    req = page_request(
        request, sortable=("code", "usageLimit", "expiresAt"), default_sort=("id", "asc")
    )
    async with request.app[PG_POOL].acquire() as conn:
        promo = await promotion_db.get(conn, promotion_code)
        if promo is None:
            raise promotion_not_found(promotion_code)
        total, items = await coupon_db.page(
            conn, promo.id, sort=req.sort, limit=req.limit, offset=req.offset
        )
    base = f"{views.promotion_href(promotion_code)}/coupons/"
    items_out = [views.coupon_item(c, zone) for c in items]
    return json_response(paginated(PromotionCouponPageOut, base, req, total, items_out).body())


@documented(
    Doc(
        summary="Create a promotion coupon",
        tags=("promotion coupons",),
        body=NewCouponForm,
        body_example=examples.NEW_COUPON,
        responses={
            201: PromotionCouponOut,
            400: "Validation Failed: the body of the Sylius error envelope names each field",
            404: "no such promotion",
        },
        examples={201: examples.COUPON_CREATED, 400: examples.COUPON_WITHOUT_CODE},
    )
)
async def create_coupon(request: web.Request) -> web.Response:
    promotion_code, _ = _codes(request)
    zone = request.app[SETTINGS].zone
    form = await parse_form(request, NewCouponForm, COUPON_FORM, zone=zone)
    assert form.code is not None
    limits = CouponLimits(
        usage_limit=form.usageLimit,
        per_customer_usage_limit=form.perCustomerUsageLimit,
        expires_at=form.expiresAt,
    )
    coupon = await coupons.create(
        request.app[PG_POOL], request.app[REDIS], promotion_code, form.code, limits
    )
    return json_response(views.coupon(coupon, zone).body(), status=201)


@documented(
    Doc(
        summary="Show a promotion coupon",
        tags=("promotion coupons",),
        responses={200: PromotionCouponOut, 404: "no such promotion or coupon"},
        examples={200: examples.COUPON},
    )
)
async def get_coupon(request: web.Request) -> web.Response:
    coupon = await coupons.get(request.app[PG_POOL], *_codes(request))
    return json_response(views.coupon(coupon, request.app[SETTINGS].zone).body())


@documented(
    Doc(
        summary="Replace a coupon's limits (fields left out become null)",
        tags=("promotion coupons",),
        body=CouponForm,
        body_example=examples.FULL_UPDATE,
        responses={
            204: "replaced",
            400: "Validation Failed (Sylius envelope)",
            404: "no such promotion or coupon",
        },
    )
)
async def replace_coupon(request: web.Request) -> web.Response:
    """PUT: every field of the form is set; one left out becomes null."""
    form = await parse_form(request, CouponForm, COUPON_FORM, zone=request.app[SETTINGS].zone)
    limits = CouponLimits(
        usage_limit=form.usageLimit,
        per_customer_usage_limit=form.perCustomerUsageLimit,
        expires_at=form.expiresAt,
    )
    await coupons.update(
        request.app[PG_POOL], request.app[REDIS], *_codes(request), lambda _: limits
    )
    return web.Response(status=NO_CONTENT)


@documented(
    Doc(
        summary="Change some limits of a coupon",
        tags=("promotion coupons",),
        body=CouponForm,
        body_example=examples.PARTIAL_UPDATE,
        responses={
            204: "changed",
            400: "Validation Failed (Sylius envelope)",
            404: "no such promotion or coupon",
        },
    )
)
async def patch_coupon(request: web.Request) -> web.Response:
    """PATCH: only the fields the body names change."""
    form = await parse_form(request, CouponForm, COUPON_FORM, zone=request.app[SETTINGS].zone)
    named = form.model_fields_set

    def change(current: Coupon) -> CouponLimits:
        return CouponLimits(
            usage_limit=form.usageLimit if "usageLimit" in named else current.usage_limit,
            per_customer_usage_limit=(
                form.perCustomerUsageLimit
                if "perCustomerUsageLimit" in named
                else current.per_customer_usage_limit
            ),
            expires_at=form.expiresAt if "expiresAt" in named else current.expires_at,
        )

    await coupons.update(request.app[PG_POOL], request.app[REDIS], *_codes(request), change)
    return web.Response(status=NO_CONTENT)


@documented(
    Doc(
        summary="Delete a coupon",
        tags=("promotion coupons",),
        responses={204: "deleted", 404: "no such promotion or coupon"},
    )
)
async def delete_coupon(request: web.Request) -> web.Response:
    await coupons.delete(request.app[PG_POOL], request.app[REDIS], *_codes(request))
    return web.Response(status=NO_CONTENT)
