"""Reversal (v2) and the on-demand reconcile (admin)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from coupon_core import idempotency
from coupon_core.errors import DomainError, Forbidden, NotFound
from coupon_core.http import bigint, json_response, parse_model, read_json
from coupon_core.keys import METRICS, PG_POOL, PRINCIPAL
from coupon_core.metrics import REVERSALS
from coupon_core.openapi import Doc, documented

from redemption_service.api.responses import Drift, ReconcileOut, ReversalDetail, ReversalOut
from redemption_service.api.schemas import ReverseIn
from redemption_service.domain.models import Redemption
from redemption_service.keys import COUNTERS, RECONCILE_METRICS, SETTINGS
from redemption_service.usecases.reconcile import reconcile
from redemption_service.usecases.reverse import reverse


def reversal_body(redemption: Redemption) -> dict[str, Any]:
    reversal = ReversalDetail(
        redemptionId=str(redemption.id),
        code=redemption.code,
        customerId=redemption.customer_id,
        reversed=True,
        reversedAt=redemption.reversed_at.isoformat() if redemption.reversed_at else None,
        reason=redemption.reversal_reason,
    )
    return ReversalOut(reversal=reversal, warnings=[]).body()


@documented(
    Doc(
        summary="Reverse a redemption",
        description=(
            "Returns the use to every counter it took; a second reversal answers like the "
            "first. Accepts an Idempotency-Key header."
        ),
        tags=("redemption",),
        body=ReverseIn,
        responses={
            200: ReversalOut,
            400: "malformed request",
            404: "no such redemption",
            410: "the redemption's month is archived (LEDGER_ONLINE_MONTHS)",
            409: "same Idempotency-Key still in flight",
            422: "Idempotency-Key reused with another body",
        },
    )
)
async def reverse_handler(request: web.Request) -> web.Response:
    text = request.match_info["redemption_id"]
    redemption_id = bigint(text)
    if redemption_id is None:
        raise NotFound(f"Redemption {text} does not exist.", code="redemption_not_found")
    body = parse_model(ReverseIn, await read_json(request, allow_empty=True))
    app = request.app
    settings = app[SETTINGS]
    retention = settings.idempotency_retention
    async with idempotency.hold(request, operation="reverse", retention=retention) as held:
        if held.replay is not None:
            return held.replay
        try:
            async with reverse(
                app[PG_POOL],
                app[COUNTERS],
                redemption_id,
                reason=body.reason,
                online_months=settings.ledger_online_months,
            ) as reversal:
                answer = reversal_body(reversal.redemption)
                await reversal.commit(held.answer(200, answer))
        except DomainError as exc:
            app[METRICS].counter(REVERSALS).labels(outcome=exc.code).inc()
            raise
    app[METRICS].counter(REVERSALS).labels(outcome="reversed").inc()
    return json_response(answer)


@documented(
    Doc(
        summary="Reconcile redemption counters with the ledgers now",
        tags=("redemption",),
        responses={200: ReconcileOut, 403: "an API token is required"},
    )
)
async def reconcile_handler(request: web.Request) -> web.Response:
    if request[PRINCIPAL].kind not in ("api_token", "staff"):
        raise Forbidden("An API token is required.")
    drift = await reconcile(
        request.app[PG_POOL], request.app[COUNTERS], request.app[RECONCILE_METRICS]
    )
    return json_response(ReconcileOut(reconcile=Drift(drift=drift), warnings=[]).body())
