"""Wire shapes of redeem and dry-run answers (Capillary v1.1 and v2): the models of
:mod:`redemption_service.api.responses`, built from what a redeem judged. A redeem answer is
on the hot path: its parts are plain values validated into the model in one call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from coupon_core.facts import GroupFacts

from redemption_service.api.responses import IsRedeemableOut, IsRedeemableV2Out
from redemption_service.api.schemas import CouponIn, CustomerIn
from redemption_service.domain.models import CustomerRef, Judged, RedeemItem
from redemption_service.domain.rules import money, plain
from redemption_service.domain.status import NOT_REDEEMED_MESSAGE, ItemStatus, message


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def customer_ref(customer: CustomerIn) -> CustomerRef:
    given = {
        "mobile": _str(customer.mobile),
        "email": _str(customer.email),
        "external_id": _str(customer.external_id),
        "id": _str(customer.id),
    }
    present = {k: v for k, v in given.items() if v}
    for wire, identifier in (
        ("id", "id"),
        ("mobile", "mobile"),
        ("email", "email"),
        ("external_id", "externalId"),
    ):
        if wire in present:
            return CustomerRef(identifier, present[wire], present)  # type: ignore[arg-type]
    return CustomerRef(None, None, present)


def redeem_item(coupon: CouponIn) -> RedeemItem:
    transaction = coupon.transaction[0] if coupon.transaction else None
    fields = coupon.custom_fields.field if coupon.custom_fields else []
    return RedeemItem(
        code=coupon.code,
        customer=customer_ref(coupon.customer),
        amount=(
            transaction.amount if transaction and transaction.amount is not None else Decimal(0)
        ),
        transaction_number=_str(transaction.number) or "" if transaction else "",
        validation_code=coupon.validation_code,
        custom_fields=tuple((f.name, "" if f.value is None else str(f.value)) for f in fields),
    )


def _customer(ref: CustomerRef) -> dict[str, str]:
    out = {k: ref.given.get(k, "") for k in ("mobile", "email", "external_id")}
    if "id" in ref.given:
        out["id"] = ref.given["id"]
    return out


def item_status(entry: Judged, *, redeemed: bool) -> dict[str, Any]:
    ok = entry.status is ItemStatus.OK
    text = message(entry.status) if redeemed or not ok else NOT_REDEEMED_MESSAGE
    return {
        "success": "true" if ok and redeemed else "false",
        "code": int(entry.status),
        "message": text,
    }


def coupon_body(entry: Judged) -> dict[str, Any]:
    """One coupon of a redeem answer (``RedeemedCouponOut``)."""
    group = entry.group
    discount = group.discount if group else None
    return {
        "customer": _customer(entry.item.customer),
        "redemption_id": "" if entry.redemption_id is None else str(entry.redemption_id),
        "code": entry.item.code,
        "discount_code": group.discount_code if group else "",
        "series_code": group.series_code if group else "",
        "series_info": [],
        "is_absolute": "true" if discount is None or discount.type == "ABS" else "false",
        "coupon_value": plain(entry.value),
        "transaction": {
            "amount": money(entry.item.amount),
            "number": entry.item.transaction_number,
        },
        "side_effects": [],
        "item_status": item_status(entry, redeemed=entry.redemption_id is not None),
    }


def top_status(succeeded: int, total: int) -> dict[str, Any]:
    if succeeded == total:
        return {"success": "true", "code": 200, "message": "Success"}
    if succeeded:
        return {
            "success": "true",
            "code": 201,
            "message": "Some requests have failed due to errors",
        }
    return {"success": "false", "code": 500, "message": "All requests have failed due to errors"}


def redeem_body(judged: list[Judged]) -> dict[str, Any]:
    """The redeem answer, shaped as :class:`RedeemOut` but built as plain values: validating
    it into the model and dumping it again costs more than the rest of the view on the
    hottest path there is. ``tests/test_item_status.py`` holds every item status's answer
    to the model."""
    coupons = [coupon_body(e) for e in judged]
    succeeded = sum(1 for e in judged if e.redemption_id is not None)
    return {
        "response": {
            "status": top_status(succeeded, len(judged)),
            "coupons": {"coupon": coupons[0] if len(coupons) == 1 else coupons},
        }
    }


def isredeemable_v11(entry: Judged) -> IsRedeemableOut:
    ok = entry.status is ItemStatus.OK
    body = coupon_body(entry)
    body.pop("redemption_id")
    body.pop("side_effects")
    body["is_redeemable"] = "true" if ok else "false"
    body["item_status"] = {
        "success": "true" if ok else "false",
        "code": int(entry.status),
        "message": message(entry.status),
    }
    return IsRedeemableOut.model_validate(
        {
            "response": {
                "status": {"success": "true", "code": 200, "message": "Success"},
                "coupons": {"redeemable": body},
            }
        }
    )


def _series(group: GroupFacts | None) -> dict[str, Any]:
    if group is None:
        return {}
    discount = group.discount
    return {
        "group": group.group,
        "seriesCode": group.series_code,
        "discountCode": group.discount_code,
        "description": group.description,
        "discountType": discount.type if discount else None,
        "discountValue": discount.value if discount else None,
        "discountUpto": discount.upto if discount else None,
        "validFrom": group.starts_at,
        "validTill": group.ends_at,
    }


def is_redeemable_v2(judged: list[Judged]) -> IsRedeemableV2Out:
    return IsRedeemableV2Out.model_validate(
        {
            "redemption": [
                {
                    "code": e.item.code,
                    "isRedeemable": e.status is ItemStatus.OK,
                    "errorCode": int(e.status),
                    "errorMessage": message(e.status),
                    "couponValue": plain(e.value),
                    "couponseries": _series(e.group),
                }
                for e in judged
            ],
            "warnings": [],
        }
    )
