"""``POST .../coupons/generate`` and ``GET .../coupons/generate/{jobId}``."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import bigint, json_response
from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.metrics import GENERATED_CODES
from coupon_core.openapi import Doc, documented

from promotion_service.api import views
from promotion_service.api.forms import parse_form
from promotion_service.api.responses import GeneratedOut, GenerationJobOut
from promotion_service.api.schemas import GenerateForm
from promotion_service.domain.errors import GENERATE_FORM, invalid, job_not_found
from promotion_service.domain.models import CouponLimits
from promotion_service.keys import JOBS_QUEUED, SETTINGS
from promotion_service.usecases import generation


@documented(
    Doc(
        summary="Generate random coupon codes",
        description=(
            "Up to the synchronous limit (10,000 by default) the codes exist when the answer "
            "comes (201 with the amount); above it a background job is started (202, "
            "Location: the job)."
        ),
        tags=("promotion coupons",),
        body=GenerateForm,
        responses={
            201: GeneratedOut,
            202: GenerationJobOut,
            400: "Validation Failed: the body of the Sylius error envelope names each field",
            404: "no such promotion",
        },
    )
)
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
        request.app[METRICS].counter(GENERATED_CODES).inc(count)
        return json_response(GeneratedOut(amount=count).body(), status=201)
    job = await generation.start_job(pool, promotion_code, req)
    request.app[JOBS_QUEUED].set()
    body = views.job(job, settings.zone)
    return json_response(body.body(), status=202, headers={"Location": body.links.self_.href})


@documented(
    Doc(
        summary="Follow a generation job",
        tags=("promotion coupons",),
        responses={
            200: GenerationJobOut,
            404: "no such job",
        },
    )
)
async def job_status(request: web.Request) -> web.Response:
    raw_id = request.match_info["job"]
    job_id = bigint(raw_id)
    if job_id is None:
        raise job_not_found(raw_id)
    job = await generation.job_status(request.app[PG_POOL], request.match_info["promotion"], job_id)
    if job is None:
        raise job_not_found(raw_id)
    return json_response(views.job(job, request.app[SETTINGS].zone).body())
