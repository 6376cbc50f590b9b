"""``POST .../coupons/generate`` and ``GET .../coupons/generate/{jobId}``."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL, REDIS

from promotion_service.api import render
from promotion_service.api.forms import parse_form
from promotion_service.api.schemas import GenerateForm
from promotion_service.domain.errors import GENERATE_FORM, invalid, job_not_found
from promotion_service.domain.models import CouponLimits
from promotion_service.keys import JOBS_QUEUED, SETTINGS
from promotion_service.usecases import generation


async def generate(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    promotion_code = request.match_info["promotion"]
    form = await parse_form(request, GenerateForm, GENERATE_FORM, zone=settings.zone)
    assert form.amount is not None
    if form.amount > settings.generation_max_amount:
        raise invalid(
            GENERATE_FORM,
            {"amount": [f"At most {settings.generation_max_amount} coupons per request."]},
        )
    req = generation.Request(
        amount=form.amount,
        code_length=form.codeLength,
        prefix=form.prefix,
        suffix=form.suffix,
        limits=CouponLimits(
            usage_limit=form.usageLimit,
            per_customer_usage_limit=form.perCustomerUsageLimit,
            expires_at=form.expiresAt,
        ),
    )
    pool, redis = request.app[PG_POOL], request.app[REDIS]
    if req.amount <= settings.generation_sync_limit:
        count = await generation.generate_now(pool, redis, promotion_code, req)
        return json_response({"amount": count}, status=201)
    job = await generation.start_job(pool, promotion_code, req)
    request.app[JOBS_QUEUED].set()
    body = render.job(job, settings.zone)
    return json_response(body, status=202, headers={"Location": body["_links"]["self"]["href"]})


async def job_status(request: web.Request) -> web.Response:
    raw_id = request.match_info["job"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise job_not_found(raw_id)
    job = await generation.job_status(
        request.app[PG_POOL], request.match_info["promotion"], int(raw_id)
    )
    if job is None:
        raise job_not_found(raw_id)
    return json_response(render.job(job, request.app[SETTINGS].zone))
