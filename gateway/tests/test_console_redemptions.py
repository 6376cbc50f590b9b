"""The console's redemption pages against a real gateway, issuance-service and
redemption-service: support finds a redemption by code, customer, transaction number or id,
reverses it with a reason and an explicit confirmation, and sees it reversed everywhere; a
marketer is shown no reverse action and the API refuses one posted anyway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from coupon_dev.testing.console import (
    ConsoleStack,
    StaffBrowser,
    console_stack,
    new_mobile,
    unique,
)
from coupon_dev.testing.provision import Infra

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Redeemed:
    id: str
    code: str
    customer_id: int
    mobile: str
    number: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(infra: Infra) -> AsyncIterator[ConsoleStack]:
    async with console_stack(infra) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def support(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("support")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def marketer(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("marketer")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def series_id(stack: ConsoleStack) -> int:
    series = await stack.call(
        "POST",
        "/v2/coupon/series",
        json={
            "description": "Reversal test",
            "discountType": "ABS",
            "discountValue": 250,
            "validTillDate": "2031-12-31",
        },
        expect=201,
    )
    return int(series["id"])


async def _redeem(stack: ConsoleStack, series_id: int) -> Redeemed:
    """A new customer, a coupon issued to them, redeemed through the API."""
    phone = new_mobile()
    issued = await stack.call(
        "POST", "/v2/coupon/issue", json={"seriesId": series_id, "customer": {"mobile": phone}}
    )
    number = unique("T-")
    redeemed = await stack.redeem(issued["code"], {"mobile": phone}, amount="1200", number=number)
    return Redeemed(
        redeemed["redemption_id"], issued["code"], int(issued["customer"]["id"]), phone, number
    )


async def _ledger(stack: ConsoleStack, redemption_id: str) -> Any:
    return await stack.call("GET", f"/v2/coupon/redemptions/{redemption_id}")


def _reversed(body: Any) -> bool:
    found = body.get("redemption", body)
    return bool(found.get("reversed"))


async def test_support_finds_a_redemption_by_code_customer_number_and_id(
    stack: ConsoleStack, support: StaffBrowser, series_id: int
) -> None:
    redeemed = await _redeem(stack, series_id)
    other = await _redeem(stack, series_id)
    detail = f"/console/redemptions/{redeemed.id}"
    for query in (
        {"code": redeemed.code},
        {"transactionNumber": redeemed.number},
        {"customerId": str(redeemed.customer_id)},
        {"customerBy": "mobile", "customer": redeemed.mobile},
        {"id": redeemed.id},
    ):
        found = await support.get("/console/redemptions", **query)
        assert found.status == 200, (query, found.text)
        assert detail in found.hrefs(), query
        assert f"/console/redemptions/{other.id}" not in found.hrefs(), query
    page = await support.get(detail)
    assert page.status == 200
    for shown in (redeemed.code, redeemed.number, "1200", "250"):
        assert shown in page.text, shown
    assert f"/console/customers/{redeemed.customer_id}" in page.hrefs()
    assert f"{detail}/reverse" in page.hrefs()


async def test_a_missing_reason_or_confirmation_is_a_field_error_and_changes_nothing(
    stack: ConsoleStack, support: StaffBrowser, series_id: int
) -> None:
    redeemed = await _redeem(stack, series_id)
    action = f"/console/redemptions/{redeemed.id}/reverse"
    form = await support.get(action)
    assert form.status == 200
    assert redeemed.code in form.text

    no_reason = await support.submit(form, action, reason="  ", confirm="yes")
    assert no_reason.status == 400
    assert no_reason.by_id("f-reason")[0].get("aria-invalid") == "true"
    assert "f-reason-error" in no_reason.by_id("f-reason")[0]["aria-describedby"]
    assert 'role="alert"' in no_reason.html

    unconfirmed = await support.submit(form, action, reason="Order cancelled", confirm=None)
    assert unconfirmed.status == 400
    assert unconfirmed.by_id("f-confirm")[0].get("aria-invalid") == "true"
    assert unconfirmed.form(action).values["reason"] == "Order cancelled"  # kept for a retry

    assert not _reversed(await _ledger(stack, redeemed.id))


async def test_support_reverses_a_redemption_with_a_reason(
    stack: ConsoleStack, support: StaffBrowser, series_id: int
) -> None:
    redeemed = await _redeem(stack, series_id)
    detail = f"/console/redemptions/{redeemed.id}"
    form = await support.get(f"{detail}/reverse")
    done = await support.submit(
        form, f"{detail}/reverse", reason="Order 4711 cancelled", confirm="yes"
    )
    assert done.status == 200, done.text
    assert done.url.endswith(detail)
    assert f"Redemption {redeemed.id} reversed." in done.text  # the flash
    assert "Order 4711 cancelled" in done.text
    assert re.search(r"Reversed at \d{4}-\d{2}-\d{2}", done.text), done.text
    assert f"{detail}/reverse" not in done.hrefs()
    assert not done.has_form(f"{detail}/reverse")
    assert _reversed(await _ledger(stack, redeemed.id))

    again = await support.get(f"{detail}/reverse")
    assert not again.has_form(f"{detail}/reverse")
    assert "already reversed" in again.text

    customer = await support.get(f"/console/customers/{redeemed.customer_id}")
    assert detail in customer.hrefs()
    assert "Reversed" in customer.text
    found = await support.get("/console/redemptions", code=redeemed.code)
    assert "Reversed" in found.text


async def test_a_redemption_reversed_meanwhile_is_said_so_not_reversed_again(
    stack: ConsoleStack, support: StaffBrowser, series_id: int
) -> None:
    """Two agents on the same redemption: the API answers the second reversal like the
    first (SPEC section 5); the console tells the second agent it was already reversed, and
    with what reason, instead of "reversed"."""
    redeemed = await _redeem(stack, series_id)
    action = f"/console/redemptions/{redeemed.id}/reverse"
    form = await support.get(action)
    await stack.call(
        "POST",
        f"/v2/coupon/redemptions/{redeemed.id}/reverse",
        json={"reason": "Refunded at the till"},
    )
    late = await support.submit(form, action, reason="Customer called", confirm="yes")
    assert late.status == 200, late.text
    flash = late.by_id("flash")[1]
    assert f"Redemption {redeemed.id} was already reversed" in flash, flash
    assert "Refunded at the till" in flash
    assert f"Redemption {redeemed.id} reversed." not in late.text


async def test_a_marketer_sees_no_reverse_and_the_api_refuses_a_posted_one(
    stack: ConsoleStack, marketer: StaffBrowser, series_id: int
) -> None:
    redeemed = await _redeem(stack, series_id)
    detail = f"/console/redemptions/{redeemed.id}"
    home = await marketer.get("/console")
    assert "/console/redemptions" not in home.hrefs()
    customer = await marketer.get(f"/console/customers/{redeemed.customer_id}")
    assert customer.status == 200
    assert redeemed.code in customer.text
    assert not [href for href in customer.hrefs() if href.endswith("/reverse")]

    page = await marketer.get(detail)
    assert page.status == 403
    assert f"{detail}/reverse" not in page.hrefs()
    form = await marketer.get(f"{detail}/reverse")
    assert form.status == 403
    assert "The role 'marketer' may not reverse redemptions." in form.text
    assert not form.has_form(f"{detail}/reverse")
    csrf = home.forms[0].values["csrf_token"]
    refused = await marketer.post(
        f"{detail}/reverse", {"csrf_token": csrf, "reason": "trying", "confirm": "yes"}
    )
    assert refused.status == 403
    assert (
        "The role 'marketer' does not allow POST /v2/coupon/redemptions/{redemptionId}/reverse."
        in refused.text
    )
    assert not _reversed(await _ledger(stack, redeemed.id))


async def test_the_search_pages(stack: ConsoleStack, support: StaffBrowser, series_id: int) -> None:
    first, second = await _redeem(stack, series_id), await _redeem(stack, series_id)
    newest = await support.get("/console/redemptions", limit="1")
    assert f"/console/redemptions/{second.id}" in newest.hrefs()
    assert f"/console/redemptions/{first.id}" not in newest.hrefs()
    assert "Pagination" in newest.html
    older = await support.get(newest.links()["Next page"])
    assert f"/console/redemptions/{first.id}" in older.hrefs()


async def test_an_unknown_redemption_is_said_in_words(support: StaffBrowser) -> None:
    missing = await support.get("/console/redemptions/999999999")
    assert missing.status == 404
    assert "999999999" in missing.text
