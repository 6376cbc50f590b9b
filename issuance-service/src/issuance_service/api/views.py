"""Response bodies, shaped as the Capillary seed shows them (see `api.responses`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coupon_core.timeseries import Window, filled, per_day

from issuance_service.api.responses import (
    CustomerCouponOut,
    CustomerOut,
    DayIssuesOut,
    HourIssuesOut,
    IdentifierOut,
    IssuedCodeOut,
    IssuedCouponOut,
    IssuedCouponsOut,
    IssueStatsOut,
    LimitedSeriesOut,
    ProfileOut,
    SeriesIssuedOut,
    SeriesOut,
)
from issuance_service.api.schemas import SERIES_FIELDS
from issuance_service.domain.models import Customer, IssuedCoupon, Series, SeriesIssued
from issuance_service.usecases.tally import IssueStats


def timestamp(value: datetime) -> str:
    """``2026-05-09T00:00:00Z``: UTC, whole seconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def customer(c: Customer) -> CustomerOut:
    identifiers = [IdentifierOut(type=kind, value=value) for kind, value in c.identifiers().items()]
    profile = ProfileOut(
        firstName=c.first_name,
        lastName=c.last_name,
        fields={},
        allFields={},
        identifiers=identifiers,
        commChannels=[],
        userId=c.id,
        accountId="",
        autoUpdateTime=timestamp(c.updated_at),
        identifiersAll=identifiers,
    )
    return CustomerOut(id=c.id, profiles=[profile])


def series(s: Series) -> SeriesOut:
    body: dict[str, Any] = {"id": s.id}
    for wire, column in SERIES_FIELDS.items():
        value = getattr(s, column)
        body[wire] = timestamp(value) if isinstance(value, datetime) else value
    body["discountValue"] = float(s.discount_value)
    body["discountUpto"] = float(s.discount_upto)
    body["numIssued"] = s.num_issued or 0
    body["numRedeemed"] = s.num_redeemed
    return SeriesOut.model_validate(body)


def issued(s: Series, coupon: IssuedCoupon, owner: Customer) -> IssuedCouponOut:
    """The seed's ``POST /v2/coupon/issue`` response, field for field."""
    return IssuedCouponOut.model_validate(
        {
            "code": coupon.code,
            "seriesId": s.id,
            "description": s.description,
            "discountCode": s.discount_code,
            "validTill": timestamp(coupon.valid_till),
            "discountType": s.discount_type,
            "discountValue": float(s.discount_value),
            "discountUpto": float(s.discount_upto),
            "discountOn": s.discount_on,
            "detailedInfo": s.detailed_info,
            "customer": customer(owner),
            "redemptionCount": coupon.redemption_count,
            "id": coupon.id,
            "warnings": [],
        }
    )


def issued_many(s: Series, coupons: list[IssuedCoupon], owner: Customer) -> IssuedCouponsOut:
    return IssuedCouponsOut(
        seriesId=s.id,
        count=len(coupons),
        codes=[c.code for c in coupons],
        coupons=[
            IssuedCodeOut(id=c.id, code=c.code, validTill=timestamp(c.valid_till)) for c in coupons
        ],
        customer=customer(owner),
        warnings=[],
    )


def customer_coupon(c: IssuedCoupon, *, now: datetime) -> CustomerCouponOut:
    return CustomerCouponOut(
        id=c.id,
        code=c.code,
        seriesId=c.series_id,
        issuedAt=timestamp(c.issued_at),
        validTill=timestamp(c.valid_till),
        redemptionCount=c.redemption_count,
        redeemed=c.redemption_count > 0,
        expired=c.valid_till <= now,
    )


def _series_issued(s: SeriesIssued) -> dict[str, Any]:
    return {
        "id": s.id,
        "description": s.description,
        "numIssued": s.issued,
        "maxCreate": s.max_create,
    }


def issue_stats(found: IssueStats, window: Window) -> IssueStatsOut:
    days = per_day(found.per_hour.items())
    return IssueStatsOut(
        hours=len(window.hours),
        days=len(window.days),
        issuesPerHour=[
            HourIssuesOut(hour=timestamp(hour), issued=n)
            for hour, n in filled(window.hours, found.per_hour)
        ],
        issuesPerDay=[
            DayIssuesOut(day=day.isoformat(), issued=n) for day, n in filled(window.days, days)
        ],
        limitedSeries=[
            LimitedSeriesOut(
                **_series_issued(s),
                ratio=round(s.issued / s.max_create, 4) if s.max_create else 1.0,
            )
            for s in found.limited
        ],
        topSeries=[SeriesIssuedOut(**_series_issued(s)) for s in found.top],
        warnings=[],
    )
