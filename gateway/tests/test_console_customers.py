"""The console's series and customer pages against a real gateway, issuance-service and
redemption-service: a marketer creates, edits and issues a series through the forms, staff
find the customer by any identifier and see the coupon and its redemption, and each role
sees only the actions it may take (the API refuses the others anyway)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from coupon_dev.gateway_fixtures import TEST_PASSWORD
from coupon_dev.testing.console import (
    ConsoleStack,
    Page,
    StaffBrowser,
    console_stack,
    new_mobile,
    unique,
)
from coupon_dev.testing.provision import Infra

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERIES_FORM = {
    "description": "Console welcome",
    "discountCode": "cw10",
    "discountType": "PERC",
    "discountValue": "10",
    "discountUpto": "300",
    "discountOn": "BILL",
    "detailedInfo": "Ten percent, at most 300",
    "validTillDate": "2031-06-30T12:00",
    "validDaysFromCreation": "90",
    "maxCreate": "50",
    "maxRedeem": "40",
    "redemptionPerCouponMaxLimit": "1",
    "maxRedemptionsInSeriesPerUser": "2",
    "maxVouchersPerUser": "3",
    "minDaysBetweenVouchers": "-1",
    "couponPrefix": "CW",
    "couponSuffix": "",
    "randomCodeLength": "8",
    "anyUser": "true",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(infra: Infra) -> AsyncIterator[ConsoleStack]:
    async with console_stack(infra) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def marketer(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("marketer")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def support(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("support")


async def _series(stack: ConsoleStack, series_id: int) -> Any:
    return await stack.call("GET", f"/v2/coupon/series/{series_id}")


async def _series_count(stack: ConsoleStack) -> int:
    return len((await stack.call("GET", "/v2/coupon/series?limit=500"))["series"])


async def _create_series(marketer: StaffBrowser, **overrides: str | None) -> int:
    form = await marketer.get("/console/series/new")
    created = await marketer.submit(form, "/console/series/new", **{**SERIES_FORM, **overrides})
    assert created.status == 200, created.text
    found = re.search(r"/console/series/(\d+)$", created.url)
    assert found, created.url
    return int(found.group(1))


def _customer_id(page: Page) -> int:
    found = re.search(r"/console/customers/(\d+)$", page.url)
    assert found, page.url
    return int(found.group(1))


async def test_a_marketer_creates_edits_and_issues_a_series_through_the_forms(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    series_id = await _create_series(marketer)
    series = await _series(stack, series_id)
    assert series["description"] == "Console welcome"
    assert series["discountType"] == "PERC"
    assert series["discountValue"] == 10.0
    assert series["discountUpto"] == 300.0
    assert series["validTillDate"] == "2031-06-30T12:00:00Z"
    assert series["validDaysFromCreation"] == 90
    assert series["maxCreate"] == 50
    assert series["maxRedemptionsInSeriesPerUser"] == 2
    assert series["couponPrefix"] == "CW"
    assert series["randomCodeLength"] == 8
    assert series["anyUser"] is True
    assert series["sameUserMultipleRedeem"] is False

    edit = await marketer.get(f"/console/series/{series_id}/edit")
    values = edit.form(f"/console/series/{series_id}/edit").values
    assert values["description"] == "Console welcome"
    assert values["validTillDate"] == "2031-06-30T12:00"
    assert values["maxCreate"] == "50"
    assert values["discountType"] == "PERC"
    assert values["anyUser"] == "true"
    saved = await marketer.submit(
        edit,
        f"/console/series/{series_id}/edit",
        maxCreate="60",
        anyUser=None,
        sameUserMultipleRedeem="true",
    )
    assert saved.status == 200
    assert saved.url.endswith(f"/console/series/{series_id}")
    assert "saved" in saved.text
    series = await _series(stack, series_id)
    assert (series["maxCreate"], series["anyUser"], series["sameUserMultipleRedeem"]) == (
        60,
        False,
        True,
    )
    assert series["description"] == "Console welcome"  # what the form did not change stays

    listing = await marketer.get("/console/series")
    assert f"/console/series/{series_id}" in listing.hrefs()
    assert "0 of 60" in listing.text

    who = new_mobile()
    issue = await marketer.get(f"/console/series/{series_id}/issue")
    issued = await marketer.submit(issue, f"/console/series/{series_id}/issue", mobile=who)
    assert issued.status == 200, issued.text
    customer_id = _customer_id(issued)
    coupons = await stack.call("GET", f"/v2/customers/{customer_id}/coupons")
    [coupon] = coupons["coupons"]
    assert coupon["code"].startswith("CW")
    assert f"Issued {coupon['code']}" in issued.text  # the flash names the code
    assert coupon["code"] in issued.text  # and the customer's coupons list it
    series_page = await marketer.get(f"/console/series/{series_id}")
    assert "1 of 60" in series_page.text


def _discount_cap(page: Page) -> str:
    found = re.search(r'<th scope="row">Discount cap</th>\s*<td>(.*?)</td>', page.html)
    assert found is not None, page.html
    return found.group(1)


async def test_a_series_without_a_discount_cap_says_so_not_0(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    capped = await _create_series(marketer)
    assert _discount_cap(await marketer.get(f"/console/series/{capped}")) == "300"
    uncapped = await _create_series(marketer, discountUpto="0")
    page = await marketer.get(f"/console/series/{uncapped}")
    assert _discount_cap(page) == "no cap"
    assert "Discount cap 0" not in page.text


async def test_series_errors_are_shown_on_their_field_and_nothing_is_created(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    before = await _series_count(stack)
    form = await marketer.get("/console/series/new")
    typo = await marketer.submit(form, "/console/series/new", **{**SERIES_FORM, "maxCreate": "x"})
    assert typo.status == 400
    attrs, _ = typo.by_id("f-maxCreate")
    assert attrs.get("aria-invalid") == "true"
    assert "f-maxCreate-error" in attrs.get("aria-describedby", "")
    assert typo.by_id("f-maxCreate-error")[1] == "Enter a whole number."
    # The summary names the field in words, and links to it.
    assert typo.links().get("Max create: Enter a whole number.") == "#f-maxCreate"
    assert typo.form("/console/series/new").values["description"] == "Console welcome"

    refused = await marketer.submit(
        form, "/console/series/new", **{**SERIES_FORM, "couponPrefix": "no spaces"}
    )
    assert refused.status == 400
    attrs, _ = refused.by_id("f-couponPrefix")
    assert attrs.get("aria-invalid") == "true"  # the API's error, on the field it names
    assert 'role="alert"' in refused.html

    # A refusal of the whole body that names a field is shown on that field, in words.
    over = await marketer.submit(
        form, "/console/series/new", **{**SERIES_FORM, "discountValue": "150"}
    )
    assert over.status == 400
    attrs, _ = over.by_id("f-discountValue")
    assert attrs.get("aria-invalid") == "true", over.text
    error = over.by_id("f-discountValue-error")[1]
    assert "percentage" in error
    assert "Value error" not in over.text
    assert "body:" not in over.text
    assert await _series_count(stack) == before


async def test_customers_are_found_by_each_identifier_with_coupons_and_redemptions(
    stack: ConsoleStack, marketer: StaffBrowser, support: StaffBrowser
) -> None:
    series_id = await _create_series(marketer, anyUser=None)
    phone, email, external = new_mobile(), f"{unique('c')}@shop.example", unique("ext-")
    customer = await stack.call(
        "POST",
        "/v2/customers",
        json={
            "firstName": "Mira",
            "lastName": "Sen",
            "mobile": phone,
            "email": email,
            "externalId": external,
        },
        expect=201,
    )
    issue = await marketer.get(f"/console/series/{series_id}/issue")
    issued = await marketer.submit(issue, f"/console/series/{series_id}/issue", email=email)
    assert _customer_id(issued) == customer["id"]
    code = re.search(r"Issued (\S+)", issued.text)
    assert code
    coupon = code.group(1).rstrip(".")

    for by, value in (
        ("mobile", phone),
        ("email", email.upper()),
        ("externalId", external),
        ("id", str(customer["id"])),
    ):
        found = await support.get("/console/customers", by=by, value=value)
        assert found.status == 200, (by, found.text)
        assert _customer_id(found) == customer["id"], by
        assert "Mira Sen" in found.text
        assert coupon in found.text

    number = unique("T-")
    redeemed = await stack.redeem(coupon, {"mobile": phone}, amount="2000", number=number)
    redemption_id = redeemed["redemption_id"]
    page = await support.get(f"/console/customers/{customer['id']}")
    assert f"/console/redemptions/{redemption_id}" in page.hrefs()
    assert number in page.text
    assert "Subscriptions" in page.text  # the customer has an email: its subscriptions show


async def test_an_unknown_customer_is_said_in_words(support: StaffBrowser) -> None:
    missing = await support.get("/console/customers", by="mobile", value="100000000000")
    assert missing.status == 404
    assert "No customer with mobile 100000000000" in missing.text
    empty = await support.get("/console/customers", by="email", value="")
    assert empty.status == 400
    assert empty.by_id("f-value")[0].get("aria-invalid") == "true"


async def test_support_sees_no_series_actions_and_the_api_refuses_them(
    stack: ConsoleStack, marketer: StaffBrowser, support: StaffBrowser
) -> None:
    series_id = await _create_series(marketer)
    listing = await support.get("/console/series")
    assert f"/console/series/{series_id}" in listing.hrefs()
    assert "/console/series/new" not in listing.hrefs()
    detail = await support.get(f"/console/series/{series_id}")
    assert f"/console/series/{series_id}/edit" not in detail.hrefs()
    assert f"/console/series/{series_id}/issue" not in detail.hrefs()

    for path, words in (
        ("/console/series/new", "may not create series"),
        (f"/console/series/{series_id}/edit", "may not change series"),
        (f"/console/series/{series_id}/issue", "may not issue coupons"),
    ):
        form = await support.get(path)
        assert form.status == 403, path
        assert f"The role 'support' {words}." in form.text
        assert not form.has_form(path)

    before = await _series_count(stack)
    csrf = listing.forms[0].values["csrf_token"]  # the sign-out form's: the session's token
    refused = await support.post("/console/series/new", {**SERIES_FORM, "csrf_token": csrf})
    assert refused.status == 403
    assert "The role 'support' does not allow POST /v2/coupon/series." in refused.text
    assert await _series_count(stack) == before
    issue = await support.post(
        f"/console/series/{series_id}/issue", {"mobile": new_mobile(), "csrf_token": csrf}
    )
    assert issue.status == 403
    assert "does not allow POST /v2/coupon/issue" in issue.text
    assert (await _series(stack, series_id))["numIssued"] == 0


async def test_the_series_list_pages(stack: ConsoleStack, marketer: StaffBrowser) -> None:
    for _ in range(3):
        await _create_series(marketer)
    first = await marketer.get("/console/series", limit="2")
    shown = [href for href in first.hrefs() if re.fullmatch(r"/console/series/\d+", href)]
    assert len(shown) == 2
    nav = [attrs for tag, attrs, _ in first.elements if tag == "nav"]
    assert {"aria-label": "Pagination"} in [{"aria-label": a.get("aria-label")} for a in nav]
    following = first.links()["Next page"]
    second = await marketer.get(following)
    more = [href for href in second.hrefs() if re.fullmatch(r"/console/series/\d+", href)]
    assert more
    assert not set(more) & set(shown)


async def test_the_customer_page_shows_the_subscriptions_of_their_email(
    stack: ConsoleStack, support: StaffBrowser
) -> None:
    email = f"{unique('reader-')}@shop.example"
    customer = await stack.call("POST", "/v2/customers", json={"email": email}, expect=201)
    promotion, code = unique("month-"), unique("MONTH-")
    grant = {"subscriptionTypeId": 7, "subscriptionTypeName": "Month of news", "lengthDays": 30}
    await stack.call(
        "POST",
        "/api/v1/promotions/",
        json={
            "code": promotion,
            "name": "A month of news",
            "couponBased": True,
            "actions": [{"type": "grant_subscription", "configuration": grant}],
        },
        expect=201,
    )
    await stack.call(
        "POST", f"/api/v1/promotions/{promotion}/coupons", json={"code": code}, expect=201
    )
    await stack.call(
        "POST",
        "/api/v1/users/register",
        json={"email": email, "password": TEST_PASSWORD},
        expect=201,
    )
    login = await stack.call(
        "POST", "/api/v1/users/login", json={"email": email, "password": TEST_PASSWORD}
    )
    user = {"Authorization": f"Bearer {login['access']['token']}"}
    await stack.call("POST", "/api/v1/coupon/activate", json={"code": code}, headers=user)

    page = await support.get(f"/console/customers/{customer['id']}")
    assert "Month of news" in page.text
    without = await stack.call("POST", "/v2/customers", json={"mobile": new_mobile()}, expect=201)
    page = await support.get(f"/console/customers/{without['id']}")
    assert "This customer has no email" in page.text


async def test_an_issue_the_api_refuses_is_said_on_the_form(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    series_id = await _create_series(marketer, maxCreate="1")
    action = f"/console/series/{series_id}/issue"
    form = await marketer.get(action)
    first = await marketer.submit(form, action, mobile=new_mobile())
    assert first.status == 200
    limited = await marketer.submit(form, action, mobile=new_mobile())
    assert limited.status == 400
    assert "Issual limit exceeded: maxCreate" in limited.text
    assert 'role="alert"' in limited.html
    unknown = await marketer.submit(form, action, id="999999")
    assert unknown.status == 404
    assert unknown.form(action).values["id"] == "999999"  # kept for a correction
    nobody = await marketer.submit(form, action)
    assert nobody.status == 400
    assert nobody.by_id("f-mobile")[0].get("aria-invalid") == "true"
    assert (await _series(stack, series_id))["numIssued"] == 1


async def test_several_coupons_are_issued_at_once(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    series_id = await _create_series(marketer, maxVouchersPerUser="-1")
    action = f"/console/series/{series_id}/issue"
    form = await marketer.get(action)
    issued = await marketer.submit(form, action, externalId=unique("ext-"), count="7")
    assert issued.status == 200, issued.text
    assert f"Issued 7 coupons of series {series_id}" in issued.text
    coupons = await stack.call("GET", f"/v2/customers/{_customer_id(issued)}/coupons")
    assert len(coupons["coupons"]) == 7
    assert all(coupon["code"] in issued.text for coupon in coupons["coupons"])
