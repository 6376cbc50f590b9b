"""The ledger's reads for the console and support (Capillary v2): the search, one
redemption in full, and the statistics (docs/redemption.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from coupon_core import redis_keys
from coupon_core.dates import iso_or_none
from coupon_core.errors import Forbidden, ValidationFailed
from coupon_core.http import bigint, json_response
from coupon_core.keys import PG_POOL, PRINCIPAL, REDIS
from coupon_core.openapi import Doc, documented
from coupon_core.redis_keys import CustomerIdentifier

from redemption_service.api.queries import (
    RedemptionSearchQuery,
    StatsQuery,
    parse_query,
)
from redemption_service.api.responses import (
    CustomFieldOut,
    DayOut,
    HourOut,
    OutcomeOut,
    RedemptionDetail,
    RedemptionItem,
    RedemptionOut,
    RedemptionsOut,
    RedemptionStatsOut,
    SearchPage,
    TopPromotionOut,
    TopSeriesOut,
)
from redemption_service.domain.models import Redemption, SearchFilters, group_parts
from redemption_service.domain.status import NOT_REDEEMED_MESSAGE, ItemStatus, message
from redemption_service.usecases import search, stats

TAGS = ("redemption",)


def require_client(request: web.Request) -> None:
    """These reads are for API tokens and staff (the gateway's whitelists), never a user."""
    if request[PRINCIPAL].kind in ("user", "anonymous"):
        raise Forbidden("An API token or a staff session is required.")


def item_fields(r: Redemption) -> dict[str, Any]:
    promotion, series = group_parts(r.group_ref)
    return {
        "id": str(r.id),
        "code": r.code,
        "group": r.group_ref,
        "promotionCode": promotion,
        "seriesId": series,
        "customerId": r.customer_id,
        "transactionNumber": r.transaction_number or None,
        "amount": str(r.amount),
        "couponValue": str(r.coupon_value),
        "redeemedAt": r.redeemed_at.isoformat(),
        "reversed": r.reversed_at is not None,
        "reversedAt": iso_or_none(r.reversed_at),
        "reversalReason": r.reversal_reason,
    }


def _filters(query: RedemptionSearchQuery, customer: str | None) -> SearchFilters:
    if query.promotionCode is not None and query.seriesId is not None:
        raise ValidationFailed({"promotionCode": ["give promotionCode or seriesId, not both"]})
    if query.since is not None and query.until is not None and query.until <= query.since:
        raise ValidationFailed({"until": ["must be later than since"]})
    if query.page * query.limit > search.MAX_DEPTH:
        raise ValidationFailed(
            {
                "page": [
                    f"page x limit may reach the {search.MAX_DEPTH}th redemption at most: "
                    "narrow the search (until, a filter)"
                ]
            }
        )
    group = None
    if query.promotionCode is not None:
        group = redis_keys.group_ref(redis_keys.PROMOTION, query.promotionCode)
    elif query.seriesId is not None:
        group = redis_keys.group_ref(redis_keys.SERIES, query.seriesId)
    return SearchFilters(
        redemption_id=query.id,
        code=query.code,
        customer_id=customer,
        transaction_number=query.transactionNumber,
        group=group,
        since=query.since,
        until=query.until,
    )


@documented(
    Doc(
        summary="Search the redemptions ledger",
        description=(
            "Every filter given must hold; newest first (redeemedAt, then id). The customer "
            "by customerId, or by mobile, email or externalId as a redeem resolves them. "
            "since is inclusive, until exclusive. page x limit reaches 10000 at most."
        ),
        tags=TAGS,
        query=RedemptionSearchQuery,
        responses={200: RedemptionsOut, 400: "a bad filter (the message names it)"},
    )
)
async def search_handler(request: web.Request) -> web.Response:
    require_client(request)
    query = parse_query(RedemptionSearchQuery, request)
    given: dict[CustomerIdentifier, str | None] = {
        "mobile": query.mobile,
        "email": query.email,
        "externalId": query.externalId,
    }
    identifiers = {name: value for name, value in given.items() if value is not None}
    customer = await search.customer_id(request.app[REDIS], query.customerId, identifiers)
    filters = _filters(query, customer)
    page = await search.find(request.app[PG_POOL], filters, page=query.page, limit=query.limit)
    return json_response(
        RedemptionsOut(
            redemptions=[RedemptionItem(**item_fields(r)) for r in page.found],
            pagination=SearchPage(page=query.page, limit=query.limit, hasMore=page.more),
            warnings=[],
        ).body()
    )


@documented(
    Doc(
        summary="One redemption in full, with its reversal",
        tags=TAGS,
        responses={
            200: RedemptionOut,
            404: "no such redemption",
            410: "the redemption's month is archived (LEDGER_ONLINE_MONTHS)",
        },
    )
)
async def detail_handler(request: web.Request) -> web.Response:
    require_client(request)
    text = request.match_info["redemption_id"]
    redemption_id = bigint(text)
    if redemption_id is None:
        raise search.not_found(text)
    found = await search.one(request.app[PG_POOL], redemption_id)
    detail = RedemptionDetail(
        **item_fields(found),
        customFields=[
            CustomFieldOut(name=f["name"], value=f["value"]) for f in found.custom_fields
        ],
    )
    return json_response(RedemptionOut(redemption=detail, warnings=[]).body())


def _outcome(o: stats.Outcome) -> OutcomeOut:
    status = ItemStatus(o.status)
    text = NOT_REDEEMED_MESSAGE if status is ItemStatus.OK and not o.redeemed else message(status)
    return OutcomeOut(status=o.status, success=o.redeemed, message=text, count=o.count)


@documented(
    Doc(
        summary="Redemption statistics",
        description=(
            "Redemptions and reversals per UTC hour (the last hours, the current one last) "
            "and per UTC day (the last days, today last), zero-filled; what redeem answered "
            "per item per day (refusals included); the top 10 promotions and series by "
            "redemptions over the days."
        ),
        tags=TAGS,
        query=StatsQuery,
        responses={200: RedemptionStatsOut, 400: "hours or days out of bounds"},
    )
)
async def stats_handler(request: web.Request) -> web.Response:
    require_client(request)
    query = parse_query(StatsQuery, request)
    found = await stats.read(
        request.app[PG_POOL], hours=query.hours, days=query.days, now=datetime.now(UTC)
    )
    return json_response(
        RedemptionStatsOut(
            hours=query.hours,
            days=query.days,
            hourly=[
                HourOut(hour=h.hour.isoformat(), redemptions=h.redemptions, reversals=h.reversals)
                for h in found.hours
            ],
            daily=[
                DayOut(
                    day=d.day.isoformat(),
                    redemptions=d.redemptions,
                    reversals=d.reversals,
                    outcomes=[_outcome(o) for o in d.outcomes],
                )
                for d in found.days
            ],
            outcomes=[_outcome(o) for o in found.outcomes],
            topPromotions=[
                TopPromotionOut(promotionCode=p, redemptions=n) for p, n in found.top_promotions
            ],
            topSeries=[TopSeriesOut(seriesId=s, redemptions=n) for s, n in found.top_series],
            warnings=[],
        ).body()
    )
