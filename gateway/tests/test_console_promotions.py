"""The console's promotion pages against a real gateway in front of a real promotion-service.

Forms post the API's JSON and show its field errors next to the fields; the list searches,
filters, sorts and pages through the API's index options; coupons are added, edited and
deleted; a generation above the API's synchronous limit runs as a job whose progress the
console serves as JSON; the export downloads the API's CSV. Actions appear only for roles
that may take them, and the gateway refuses the others anyway.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from coupon_dev.testing.console import ConsoleStack, Page, StaffBrowser, console_stack
from coupon_dev.testing.poll import until
from coupon_dev.testing.provision import Infra

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROMOTION_PAGE = re.compile(r"/console/promotions/([^/?]+)")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(infra: Infra) -> AsyncIterator[ConsoleStack]:
    # Above 10 codes a generation is a job (the API's 202), so 50 codes make one.
    settings = {"promotion": {"generation_sync_limit": 10, "job_poll_s": 0.05}}
    async with console_stack(infra, services=("promotion",), service_settings=settings) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def marketer(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("marketer")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def support(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("support")


async def api_get(stack: ConsoleStack, path: str) -> tuple[int, Any]:
    async with stack.api.get(path) as response:
        json = response.content_type == "application/json"
        return response.status, (await response.json()) if json else None


async def api_create(stack: ConsoleStack, **body: Any) -> None:
    async with stack.api.post("/api/v1/promotions/", json=body) as response:
        assert response.status == 201, await response.text()


def field_error(page: Page, name: str) -> str:
    """The error text a control (or a group of them) named ``name`` is described by."""
    for tag, attrs, _ in page.elements:
        named = attrs.get("name") == name and tag in ("input", "select", "textarea")
        if named or (tag == "fieldset" and attrs.get("id") == f"f-{name}"):
            for described in attrs.get("aria-describedby", "").split():
                if described.endswith("-error"):
                    return page.by_id(described)[1]
            raise AssertionError(f"{name} is described by no error: {attrs}")
    raise AssertionError(f"no control {name!r}")


def value_of(page: Page, name: str) -> str:
    for form in page.forms:
        if name in form.values:
            return form.values[name]
    raise AssertionError(f"no field {name!r} in {[f.action for f in page.forms]}")


def listed(page: Page) -> list[str]:
    """The promotion codes the page links to, in their order."""
    found = [PROMOTION_PAGE.fullmatch(href) for href in page.hrefs()]
    return [m.group(1) for m in found if m and m.group(1) != "new"]


def coupons_listed(page: Page, code: str) -> list[str]:
    pattern = re.compile(rf"/console/promotions/{code}/coupons/([^/]+)/edit")
    return [m.group(1) for m in (pattern.fullmatch(h) for h in page.hrefs()) if m]


def coupon_row(page: Page, code: str) -> str:
    """The HTML of the coupon table's row for ``code``."""
    found = re.search(rf'<th scope="row">{re.escape(code)}</th>(.*?)</tr>', page.html, re.S)
    assert found is not None, page.html
    return found.group(1)


def refresh(page: Page) -> str | None:
    for tag, attrs, _ in page.elements:
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            return attrs.get("content")
    return None


def progress(page: Page) -> tuple[str, str]:
    bars = [attrs for tag, attrs, _ in page.elements if tag == "progress"]
    assert len(bars) == 1, page.text
    return bars[0].get("value", ""), bars[0].get("max", "")


def csrf(page: Page) -> str:
    return page.form("/console/sign-out").values["csrf_token"]


SPRING = {
    "code": "SPRING-SALE",
    "name": "Spring sale",
    "description": "Ten days of spring",
    "priority": "3",
    "exclusive": "true",
    "usageLimit": "100",
    "startsAt": "2030-03-01T00:00",
    "endsAt": "2030-03-31T23:30",
    "couponBased": "true",
    "channels": "web, mobile",
    "item_total_amount": "50",
    "percentage": "15",
}


async def test_a_promotion_created_through_the_form_is_the_api_json(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    form = await marketer.get("/console/promotions/new")
    assert form.status == 200
    created = await marketer.submit(form, "/console/promotions/new", **SPRING)
    assert created.status == 200, created.text
    assert created.url.endswith("/console/promotions/SPRING-SALE")
    assert "Promotion created." in created.text
    assert "15 % off the order" in created.text
    status, body = await api_get(stack, "/api/v1/promotions/SPRING-SALE")
    assert status == 200
    assert {k: body[k] for k in ("name", "description", "priority", "exclusive")} == {
        "name": "Spring sale",
        "description": "Ten days of spring",
        "priority": 3,
        "exclusive": True,
    }
    assert body["usageLimit"] == 100
    assert body["couponBased"] is True
    assert body["startsAt"] == "2030-03-01T00:00:00+0000"
    assert body["endsAt"] == "2030-03-31T23:30:00+0000"
    assert body["channels"] == ["web", "mobile"]
    assert body["rules"] == [{"type": "item_total", "configuration": {"amount": 50}}]
    assert body["actions"] == [
        {"type": "order_percentage_discount", "configuration": {"percentage": 0.15}}
    ]

    # The edit form shows what is stored and saves the whole promotion back.
    edit = await marketer.get("/console/promotions/SPRING-SALE/edit")
    assert value_of(edit, "name") == "Spring sale"
    assert value_of(edit, "percentage") == "15"
    assert value_of(edit, "startsAt") == "2030-03-01T00:00"
    assert value_of(edit, "exclusive") == "true"
    saved = await marketer.submit(
        edit,
        "/console/promotions/SPRING-SALE/edit",
        name="Spring sale 2030",
        percentage="",
        fixed_amount="5.5",
        exclusive=None,
    )
    assert saved.status == 200
    assert saved.url.endswith("/console/promotions/SPRING-SALE")
    _, body = await api_get(stack, "/api/v1/promotions/SPRING-SALE")
    assert body["name"] == "Spring sale 2030"
    assert body["exclusive"] is False
    assert body["actions"] == [{"type": "order_fixed_discount", "configuration": {"amount": 5.5}}]
    assert body["rules"] == [{"type": "item_total", "configuration": {"amount": 50}}]
    assert body["startsAt"] == "2030-03-01T00:00:00+0000"


async def test_api_field_errors_are_shown_next_to_their_fields(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    form = await marketer.get("/console/promotions/new")
    bad = {**SPRING, "code": "BAD-DATES", "name": " ", "endsAt": "2030-02-01T00:00"}
    page = await marketer.submit(form, "/console/promotions/new", **bad)
    assert page.status == 400
    assert field_error(page, "name") == "Please enter promotion name."
    assert field_error(page, "endsAt") == "End date cannot be set prior start date."
    summary = [h for h in page.hrefs() if h.startswith("#f-")]
    assert set(summary) == {"#f-name", "#f-endsAt"}
    # What was typed stays in the form.
    assert value_of(page, "code") == "BAD-DATES"
    assert value_of(page, "percentage") == "15"
    assert (await api_get(stack, "/api/v1/promotions/BAD-DATES"))[0] == 404

    # Text where a number belongs is caught before the API is asked.
    numbers = {**SPRING, "code": "BAD-NUMBERS", "usageLimit": "many", "percentage": "150"}
    page = await marketer.submit(form, "/console/promotions/new", **numbers)
    assert page.status == 400
    assert field_error(page, "usageLimit") == "Enter a whole number."
    assert field_error(page, "percentage") == "Enter a percentage from 0 to 100."
    assert (await api_get(stack, "/api/v1/promotions/BAD-NUMBERS"))[0] == 404

    # An error the API names on a rule shows on the rules.
    page = await marketer.submit(
        form, "/console/promotions/new", **{**SPRING, "code": "BAD-RULE", "nth_order_nth": "0"}
    )
    assert page.status == 400
    assert "greater than or equal to 1" in field_error(page, "rules")

    await api_create(stack, code="TAKEN", name="Taken")
    taken = await marketer.submit(form, "/console/promotions/new", **{**SPRING, "code": "TAKEN"})
    assert taken.status == 400
    assert field_error(taken, "code") == "The promotion with given code already exists."


async def test_the_list_searches_filters_sorts_and_pages(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    for n in range(12):
        await api_create(
            stack,
            code=f"LIST-{n:02d}",
            name=f"Listed {n:02d}",
            priority=(n * 7) % 12,
            couponBased=n % 3 == 0,
        )
    await api_create(stack, code="ELSEWHERE", name="Unrelated")
    by_priority = [f"LIST-{n:02d}" for n in sorted(range(12), key=lambda n: -((n * 7) % 12))]
    first = await marketer.get(
        "/console/promotions", q="list", sort="priority", order="desc", limit="10"
    )
    assert listed(first) == by_priority[:10]
    pages = [h for h in first.hrefs() if "page=" in h]
    assert any("page=2" in h and "sort=priority" in h and "q=list" in h for h in pages), pages
    second = await marketer.get(
        "/console/promotions", q="list", sort="priority", order="desc", limit="10", page="2"
    )
    assert listed(second) == by_priority[10:]
    by_name = await marketer.get("/console/promotions", q="LISTED", sort="name", limit="50")
    assert listed(by_name) == [f"LIST-{n:02d}" for n in range(12)]
    backwards = await marketer.get("/console/promotions", q="LIST", sort="code", order="desc")
    assert listed(backwards) == [f"LIST-{n:02d}" for n in reversed(range(12))]
    coupon_based = await marketer.get(
        "/console/promotions", q="list", coupon_based="yes", sort="code"
    )
    assert listed(coupon_based) == ["LIST-00", "LIST-03", "LIST-06", "LIST-09"]
    past = await marketer.get("/console/promotions", q="list", limit="10", page="9")
    assert past.status == 200  # the first page, saying there is no page 9
    assert len(listed(past)) == 10  # the search and its page size are kept
    assert "There is no page 9" in past.text


async def test_coupons_are_added_edited_and_deleted(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    await api_create(stack, code="COUPONS", name="Coupons", couponBased=True)
    form = await marketer.get("/console/promotions/COUPONS/coupons/new")
    added = await marketer.submit(
        form,
        "/console/promotions/COUPONS/coupons/new",
        code="COUPON-ONE",
        usageLimit="10",
        perCustomerUsageLimit="1",
    )
    assert added.status == 200
    assert added.url.endswith("/console/promotions/COUPONS")
    assert coupons_listed(added, "COUPONS") == ["COUPON-ONE"]
    missing = await marketer.submit(form, "/console/promotions/COUPONS/coupons/new", code="")
    assert missing.status == 400
    assert field_error(missing, "code") == "Please enter coupon code."

    edit = await marketer.get("/console/promotions/COUPONS/coupons/COUPON-ONE/edit")
    assert value_of(edit, "usageLimit") == "10"
    saved = await marketer.submit(
        edit,
        "/console/promotions/COUPONS/coupons/COUPON-ONE/edit",
        usageLimit="30",
        expiresAt="2031-01-01T00:00",
    )
    assert saved.status == 200, saved.text
    _, coupon = await api_get(stack, "/api/v1/promotions/COUPONS/coupons/COUPON-ONE")
    assert coupon["usageLimit"] == 30
    assert coupon["perCustomerUsageLimit"] == 1
    assert coupon["expiresAt"] == "2031-01-01T00:00:00+0000"

    confirm = await marketer.get("/console/promotions/COUPONS/coupons/COUPON-ONE/delete")
    assert confirm.status == 200
    assert "COUPON-ONE" in confirm.text
    assert (await api_get(stack, "/api/v1/promotions/COUPONS/coupons/COUPON-ONE"))[0] == 200
    gone = await marketer.submit(confirm, "/console/promotions/COUPONS/coupons/COUPON-ONE/delete")
    assert gone.status == 200
    assert gone.url.endswith("/console/promotions/COUPONS")
    assert "Coupon COUPON-ONE deleted." in gone.text
    assert (await api_get(stack, "/api/v1/promotions/COUPONS/coupons/COUPON-ONE"))[0] == 404


async def test_the_promotion_pages_say_times_and_limits_as_the_other_pages_do(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    """Times in the console's UTC form (not the API's "+0000"), no "None" where there is no
    limit, and a coupon's Edit and Delete links apart."""
    await api_create(
        stack, code="WORDED", name="Worded", couponBased=True, startsAt="2030-05-01 10:00:00"
    )
    form = await marketer.get("/console/promotions/WORDED/coupons/new")
    await marketer.submit(form, "/console/promotions/WORDED/coupons/new", code="NO-LIMIT")
    form = await marketer.get("/console/promotions/WORDED/coupons/new")
    await marketer.submit(
        form,
        "/console/promotions/WORDED/coupons/new",
        code="EXPIRING",
        expiresAt="2031-01-01T00:00",
    )
    page = await marketer.get("/console/promotions/WORDED")
    assert page.status == 200, page.text
    assert "+0000" not in page.text
    assert "2030-05-01 10:00:00 UTC" in page.text
    assert "2031-01-01 00:00:00 UTC" in page.text
    assert "None" not in page.text
    assert "no limit" in page.text
    # Each row's Edit and Delete links apart, not read as one word "EditDelete".
    assert re.search(r"coupon NO-LIMIT</span></a>\s*·\s*<a", page.html), page.html
    assert "expired" not in coupon_row(page, "EXPIRING")


async def test_an_expired_coupon_is_marked_expired_in_the_coupon_table(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    await api_create(stack, code="AGED", name="Aged", couponBased=True)
    for code, expires in (("LAPSED", "2020-01-01 00:00:00"), ("LASTING", "2031-01-01 00:00:00")):
        async with stack.api.post(
            "/api/v1/promotions/AGED/coupons/", json={"code": code, "expiresAt": expires}
        ) as response:
            assert response.status == 201, await response.text()
    page = await marketer.get("/console/promotions/AGED")
    lapsed = coupon_row(page, "LAPSED")
    assert "2020-01-01 00:00:00 UTC" in lapsed
    assert re.search(r"\(expired\)", lapsed), lapsed
    assert "expired" not in coupon_row(page, "LASTING")
    listing = await marketer.get("/console/promotions", q="WORDED")
    assert "+0000" not in listing.text
    assert "2030-05-01 10:00:00 UTC" in listing.text
    assert "None" not in listing.text


async def test_a_page_past_the_last_shows_the_first_and_says_so(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    """An old link to a page the list no longer has (coupons deleted, a search narrowed)
    is not an error page quoting the API's pager ("The currentPage must be inferior to")."""
    await api_create(stack, code="FEW-COUPONS", name="Few coupons", couponBased=True)
    for path in ("/console/promotions", "/console/promotions/FEW-COUPONS"):
        page = await marketer.get(path, page="999")
        assert page.status == 200, (path, page.text)
        assert "inferior" not in page.text
        assert "There is no page 999" in page.by_id("flash")[1]
        assert page.url.endswith(path), page.url


async def test_generating_50_codes_runs_a_job_and_the_export_holds_them(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    await api_create(stack, code="GENERATED", name="Generated", couponBased=True)
    detail = await marketer.get("/console/promotions/GENERATED")
    job_page = await marketer.submit(
        detail,
        "/console/promotions/GENERATED/generate",
        amount="50",
        codeLength="8",
        prefix="GEN-",
        usageLimit="1",
    )
    assert job_page.status == 200, job_page.text
    found = re.search(r"/console/promotions/GENERATED/jobs/(\d+)$", job_page.url)
    assert found, job_page.url

    async def job() -> dict[str, Any]:
        async with marketer.session.get(f"{found.group(0)}.json") as response:
            assert response.status == 200
            state: dict[str, Any] = await response.json()
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", state.pop("updated"))
            return state

    done = {
        "state": "done",
        "generated": 50,
        "requested": 50,
        "text": "50 of 50 codes generated (done)",
    }
    assert await until(job, "the generation job to finish", 30, equals=done) == done
    finished = await marketer.get(found.group(0))
    assert progress(finished) == ("50", "50")
    assert refresh(finished) is None
    # A finished job is not followed any more, and the page has one way back.
    assert "follows the job" not in finished.text
    assert finished.hrefs().count("/console/promotions/GENERATED") == 1
    onwards = [attrs for _, attrs, _ in finished.elements if attrs.get("class") == "progress-done"]
    assert len(onwards) == 1
    assert "hidden" not in onwards[0]

    async with marketer.session.get("/console/promotions/GENERATED/export.csv") as response:
        assert response.status == 200
        assert response.headers["Content-Disposition"].startswith("attachment")
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == 50
    assert all(re.fullmatch(r"GEN-\w{8}", r["code"]) and r["usageLimit"] == "1" for r in rows)

    refused = await marketer.submit(detail, "/console/promotions/GENERATED/generate", amount="0")
    assert refused.status == 400
    assert field_error(refused, "amount") == "This value should be greater than or equal to 1."


async def test_a_big_job_is_counted_with_thousands_separators(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    """The page and the JSON console.js shows write numbers as the console's other pages
    do ("20,000"), so the text does not change form when the script updates it."""
    await api_create(stack, code="BIG-JOB", name="Big job", couponBased=True)
    conn = await asyncpg.connect(stack.databases["promotion"])
    try:
        job_id = await conn.fetchval(
            "INSERT INTO generation_jobs (promotion_id, state, total, done, code_length, "
            "lease_owner, lease_until) SELECT id, 'running', 20000, 12345, 12, 'elsewhere', "
            "now() + interval '1 hour' FROM promotions WHERE code = 'BIG-JOB' RETURNING id"
        )
    finally:
        await conn.close()
    url = f"/console/promotions/BIG-JOB/jobs/{job_id}"
    words = "12,345 of 20,000 codes generated (running)"
    page = await marketer.get(url)
    assert page.by_id("progress-text")[1] == words
    async with marketer.session.get(f"{url}.json") as response:
        body = await response.json()
    assert body["text"] == words
    assert (body["generated"], body["requested"]) == (12345, 20000)


async def test_a_job_page_refreshes_itself_until_the_job_ends(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    # A job another replica holds (a lease that has not lapsed) and has half done.
    await api_create(stack, code="HALF-DONE", name="Half done", couponBased=True)
    conn = await asyncpg.connect(stack.databases["promotion"])
    try:
        job_id = await conn.fetchval(
            "INSERT INTO generation_jobs (promotion_id, state, total, done, code_length, "
            "lease_owner, lease_until) SELECT id, 'running', 40, 20, 12, 'elsewhere', "
            "now() + interval '1 hour' FROM promotions WHERE code = 'HALF-DONE' RETURNING id"
        )
    finally:
        await conn.close()
    url = f"/console/promotions/HALF-DONE/jobs/{job_id}"
    page = await marketer.get(url)
    assert progress(page) == ("20", "40")
    assert refresh(page) == "2"
    # While it runs the page says it follows the job, in words console.js hides at the end
    # (when it shows its own link onwards).
    running = [text for _, attrs, text in page.elements if "data-progress-running" in attrs]
    assert running
    assert "This page follows the job as it runs." in running[0]
    boxes = [attrs for _, attrs, _ in page.elements if "data-progress-url" in attrs]
    assert [b["data-progress-url"] for b in boxes] == [f"{url}.json"]
    async with marketer.session.get(f"{url}.json") as response:
        body = await response.json()
        assert body.pop("updated").endswith(" UTC")
        assert body == {
            "state": "running",
            "generated": 20,
            "requested": 40,
            "text": "20 of 40 codes generated (running)",
        }
    # The script updates the job's state where the page shows it, in the page's words; the
    # times are the console's UTC form.
    attrs, state = page.by_id("job-state")
    assert state == "running"
    assert "data-progress-state" in attrs
    assert page.by_id("progress-text")[1] == "20 of 40 codes generated (running)"
    assert "+0000" not in page.text
    assert re.search(r"Started \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", page.text), page.text


async def test_support_sees_no_changes_and_the_gateway_refuses_them(
    stack: ConsoleStack, support: StaffBrowser
) -> None:
    await api_create(stack, code="READ-ONLY", name="Read only", couponBased=True)
    listing = await support.get("/console/promotions", q="READ-ONLY")
    assert "READ-ONLY" in listed(listing)
    assert "/console/promotions/new" not in listing.hrefs()
    detail = await support.get("/console/promotions/READ-ONLY")
    assert detail.status == 200
    for action in ("/edit", "/delete", "/coupons/new", "/export.csv"):
        assert not any(href.endswith(action) for href in detail.hrefs()), action
    assert not detail.has_form("/console/promotions/READ-ONLY/generate")
    assert (await support.get("/console/promotions/new")).status == 403

    token = csrf(detail)
    refused = await support.post(
        "/console/promotions/new", {**SPRING, "code": "SNEAKY", "csrf_token": token}
    )
    assert refused.status == 403
    assert "The role 'support' does not allow POST /api/v1/promotions." in refused.text
    assert (await api_get(stack, "/api/v1/promotions/SNEAKY"))[0] == 404
    refused = await support.post("/console/promotions/READ-ONLY/delete", {"csrf_token": token})
    assert refused.status == 403
    assert "does not allow DELETE /api/v1/promotions/{code}" in refused.text
    assert (await api_get(stack, "/api/v1/promotions/READ-ONLY"))[0] == 200


async def test_a_promotion_is_deleted_after_a_confirmation(
    stack: ConsoleStack, marketer: StaffBrowser
) -> None:
    await api_create(stack, code="DOOMED", name="Doomed")
    detail = await marketer.get("/console/promotions/DOOMED")
    assert "/console/promotions/DOOMED/delete" in detail.hrefs()
    confirm = await marketer.get("/console/promotions/DOOMED/delete")
    assert confirm.status == 200
    assert "Doomed" in confirm.text
    assert (await api_get(stack, "/api/v1/promotions/DOOMED"))[0] == 200
    deleted = await marketer.submit(confirm, "/console/promotions/DOOMED/delete")
    assert deleted.status == 200
    assert deleted.url.endswith("/console/promotions")
    assert "Promotion DOOMED deleted." in deleted.text
    assert (await api_get(stack, "/api/v1/promotions/DOOMED"))[0] == 404
    assert (await marketer.get("/console/promotions/DOOMED")).status == 404
