"""The console in a real browser: headless Chromium (Debian's, through chromium-driver)
against the stack ``make run`` starts, every page visited checked by axe-core (zero
violations) and photographed into docs/console/ (docs/console.md shows the pictures).

The tests run in order, one story: each role signs in; a marketer runs a campaign (a
promotion, 20,000 generated coupons, their export, a series coupon issued to a customer); a
checkout redeems that coupon through the API; it shows on the dashboard and the customer's
page; support finds and reverses it; what a marketer and support may not do is refused by
the UI and by the API; an admin manages staff and tokens and reads the audit log of it all.

``make browser`` installs what this needs (deploy/tools/ensure-chromium, ensure-axe-core)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from coupon_dev.stack import Stack
from coupon_dev.testing.poll import until
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support.api import call, item, mobile, redeem_body, unique
from support.browser import (
    checked,
    chromium,
    download,
    fill,
    flash,
    follow,
    open_page,
    sign_in,
    submit,
    wait_for,
)
from support.stacks import ADMIN_TOKEN

ROLES = ("admin", "marketer", "support")
GENERATED = 20_000
GENERATION_DEADLINE_S = 90.0
# The dashboard's and the customer page's numbers follow a redemption within moments.
FOLLOW_DEADLINE_S = 30.0
PASSWORD = "console-e2e-password-1"
# What each role's navigation offers (gateway/console/render.py: the pages its whitelist
# lists from).
NAVIGATION = {
    "admin": [
        "Dashboard",
        "Promotions",
        "Series",
        "Customers",
        "Redemptions",
        "API tokens",
        "Webhooks",
        "Staff",
        "Audit log",
    ],
    "marketer": ["Dashboard", "Promotions", "Series", "Customers"],
    "support": ["Dashboard", "Promotions", "Series", "Customers", "Redemptions"],
}


@dataclass
class Console:
    """One browser, signed in as one staff member at a time, and what the story made."""

    driver: WebDriver
    base: str
    emails: dict[str, str]
    made: dict[str, Any] = field(default_factory=dict)

    def as_role(self, role: str) -> None:
        self.driver.delete_all_cookies()
        sign_in(self.driver, self.base, self.emails[role], PASSWORD)

    def visit(self, path: str, shot: str | None = None) -> None:
        """``path`` opened, checked by axe-core, and photographed as ``shot`` if named."""
        open_page(self.driver, self.base + path)
        checked(self.driver, shot)

    def h1(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def nav(self) -> list[str]:
        links = self.driver.find_elements(By.CSS_SELECTOR, "nav[aria-label=Console] a")
        return [str(link.text) for link in links]


async def _create_staff(gateway: str, emails: dict[str, str]) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as s:
        for role, email in emails.items():
            body = {"email": email, "password": PASSWORD, "role": role, "name": role.title()}
            await call(s, "POST", f"{gateway}/api/v1/staff", json=body, expect=201)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def console(stack: Stack, downloads: Path) -> Iterator[Console]:
    """The shared e2e stack loads no demo data: the three staff accounts (named as
    ``make run``'s demo ones, for the screenshots) are made here, through the API with the
    bootstrap admin token, as an admin would."""
    emails = {role: f"{role}@example.com" for role in ROLES}
    asyncio.run(_create_staff(stack.gateway_url, emails))
    with chromium(downloads) as driver:
        yield Console(driver, stack.gateway_url, emails)


def test_a_wrong_password_is_refused_in_words(console: Console) -> None:
    console.visit("/console/sign-in", "sign-in")
    assert console.h1() == "Sign in to the console"
    fill(console.driver, {"email": console.emails["support"], "password": "not-the-password"})
    submit(console.driver, "Sign in")
    assert "/console/sign-in" in console.driver.current_url
    alert = console.driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert "There is a problem" in alert.text
    checked(console.driver)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_to_its_dashboard(console: Console, role: str) -> None:
    console.as_role(role)
    assert console.h1() == "Dashboard"
    assert console.nav() == NAVIGATION[role]
    whoami = console.driver.find_element(By.CSS_SELECTOR, ".whoami").text
    assert console.emails[role] in whoami
    assert f"({role})" in whoami
    checked(console.driver)


def test_marketer_creates_a_promotion_generates_and_exports_its_coupons(
    console: Console, downloads: Path
) -> None:
    driver = console.driver
    console.as_role("marketer")
    console.visit("/console/promotions", "promotions-list")
    follow(driver, "New promotion")
    checked(driver, "promotion-form")
    code = unique("SPRING-").upper()
    fill(
        driver,
        {"code": code, "name": "Spring sale", "couponBased": "true", "percentage": "10"},
    )
    submit(driver, "Create promotion")
    assert driver.current_url.endswith(f"/console/promotions/{code}"), driver.current_url
    assert "10" in driver.find_element(By.XPATH, "//dt[.='Actions']/following-sibling::dd").text
    checked(driver)

    fill(driver, {"amount": str(GENERATED), "codeLength": "12", "prefix": "SPR-"})
    submit(driver, "Generate")
    assert "/jobs/" in driver.current_url, driver.current_url
    checked(driver, "generation-job")
    # console.js follows the job: the bar fills and the link onwards appears when done.
    wait_for(
        driver,
        lambda d: d.find_element(By.CSS_SELECTOR, ".progress-done").is_displayed(),
        "the generation job's end",
        timeout_s=GENERATION_DEADLINE_S,
    )
    bar = driver.find_element(By.TAG_NAME, "progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(GENERATED)
    assert "(done)" in driver.find_element(By.CSS_SELECTOR, ".progress-text").text
    checked(driver)

    follow(driver, "Continue")
    caption = driver.find_element(By.CSS_SELECTOR, "main table caption").text
    assert caption.startswith(f"Coupons: {GENERATED}"), caption
    checked(driver, "promotion-detail")
    export = download(driver, "Export every coupon (CSV)", downloads, f"{code}-coupons.csv")
    with export.open(newline="") as rows:
        header, *coupons = list(csv.reader(rows))
    assert "code" in header
    assert len(coupons) == GENERATED
    assert all(row[header.index("code")].startswith("SPR-") for row in coupons)
    console.made["promotion"] = code


def test_marketer_creates_a_series_and_issues_a_coupon_to_a_customer(console: Console) -> None:
    console.as_role("marketer")
    console.visit("/console/series", "series-list")
    follow(console.driver, "New series")
    checked(console.driver, "series-form")
    fill(
        console.driver,
        {
            "description": "Console birthday series",
            "discountType": "PERC",
            "discountValue": "15",
            "discountUpto": "2000",
            "validTillDate": "2099-12-31T23:59",
            "maxCreate": "1000",
            "couponPrefix": "BDAY-",
        },
    )
    submit(console.driver, "Create series")
    series_id = console.driver.current_url.rstrip("/").rsplit("/", 1)[-1]
    assert series_id.isdigit(), console.driver.current_url
    assert "Console birthday series" in console.driver.find_element(By.TAG_NAME, "main").text
    checked(console.driver, "series-detail")

    follow(console.driver, "Issue a coupon")
    checked(console.driver, "series-issue")
    customer_mobile = mobile()
    fill(console.driver, {"mobile": customer_mobile, "count": "1"})
    submit(console.driver, "Issue")
    # The customer's page, and the code in the flash: "Issued BDAY-... of series N to ...".
    assert "/console/customers/" in console.driver.current_url
    issued = flash(console.driver)
    code = next(word for word in issued.split() if word.startswith("BDAY-"))
    assert code in console.driver.find_element(By.TAG_NAME, "main").text
    checked(console.driver)
    console.made.update(
        series_id=int(series_id),
        code=code,
        mobile=customer_mobile,
        customer_id=int(console.driver.current_url.rsplit("/", 1)[-1]),
    )


def _hourly_redemptions(driver: WebDriver) -> int:
    """The total of the dashboard's redemptions-per-hour chart, read from its table (the
    same numbers the SVG draws, for screen readers)."""
    table = driver.find_element(
        By.XPATH,
        "//section[@aria-labelledby='panel-redemptions']//table[caption[contains(., 'per hour')]]",
    )
    heads = [
        th.get_attribute("textContent") for th in table.find_elements(By.XPATH, ".//thead//th")
    ]
    column = heads.index("Redemptions")
    total = 0
    for row in table.find_elements(By.XPATH, ".//tbody/tr"):
        cells = row.find_elements(By.XPATH, "./th|./td")
        total += int(str(cells[column].get_attribute("textContent")).replace(",", ""))
    return total


def _reloaded_until(console: Console, path: str, check: Callable[[], Any], what: str) -> Any:
    """``check()`` on ``path``, reloaded until it is true: the numbers behind the console's
    pages follow a redemption within moments (events, tallies), not at once."""

    def reloaded(_: WebDriver) -> Any:
        open_page(console.driver, console.base + path)
        return check()

    try:
        return wait_for(console.driver, reloaded, what, timeout_s=FOLLOW_DEADLINE_S)
    except TimeoutException:
        main = console.driver.find_element(By.TAG_NAME, "main").text
        raise AssertionError(
            f"{what}: not within {FOLLOW_DEADLINE_S} s; the page:\n{main}"
        ) from None


async def test_a_checkout_redemption_shows_on_the_dashboard_and_the_customer_page(
    console: Console,
) -> None:
    made = console.made
    transaction = unique("T-console-")
    body = redeem_body(made["code"], {"mobile": made["mobile"]}, "5000", transaction)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as s:
        _, answer, _ = await call(
            s, "POST", f"{console.base}/v1.1/coupon/redeem", json=body, expect=200
        )
    redeemed = item(answer)
    assert redeemed["item_status"]["code"] == 700, answer
    made.update(redemption_id=int(redeemed["redemption_id"]), transaction=transaction)

    console.as_role("marketer")
    _reloaded_until(
        console,
        "/console",
        lambda: _hourly_redemptions(console.driver) >= 1,
        "the redemption in the dashboard's redemptions-per-hour chart",
    )
    checked(console.driver, "dashboard")

    def coupon_row() -> str:
        main = console.driver.find_element(By.TAG_NAME, "main")
        rows = main.find_elements(By.XPATH, f"//tr[td[normalize-space()='{made['code']}']]")
        return str(rows[0].text) if rows else ""

    customer = f"/console/customers/{made['customer_id']}"
    row = _reloaded_until(
        console, customer, lambda: "Redeemed" in coupon_row() and coupon_row(), "redeemed coupon"
    )
    assert " 1 " in f" {row} ", row  # its redemption count
    checked(console.driver, "customer")


def test_support_finds_and_reverses_the_redemption(console: Console) -> None:
    driver, made = console.driver, console.made
    console.as_role("support")
    console.visit("/console/redemptions", "redemptions-search")
    fill(driver, {"code": made["code"]})
    submit(driver, "Search")
    checked(driver)
    follow(driver, str(made["redemption_id"]))
    assert made["transaction"] in driver.find_element(By.TAG_NAME, "main").text
    checked(driver, "redemption-detail")

    follow(driver, "Reverse this redemption")
    checked(driver, "redemption-reverse")
    submit(driver, "Reverse redemption")  # no reason, no confirmation: refused, in words
    assert driver.find_element(By.CSS_SELECTOR, "[role=alert]").is_displayed()
    assert driver.find_elements(By.CSS_SELECTOR, "[aria-invalid=true]")
    checked(driver)
    fill(driver, {"reason": "Customer returned the order", "confirm": "true"})
    submit(driver, "Reverse redemption")
    assert f"Redemption {made['redemption_id']} reversed." in flash(driver)
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "Reversed" in page or "reversed" in page
    assert "Customer returned the order" in page
    checked(driver)

    # The customer's page lists the redemption, reversed.
    _reloaded_until(
        console,
        f"/console/customers/{made['customer_id']}",
        lambda: (
            "Reversed"
            in driver.find_element(By.ID, "redemptions-heading").find_element(By.XPATH, "./..").text
        ),
        "the reversal on the customer's page",
    )
    checked(driver)


def _session_token(driver: WebDriver) -> str:
    """The staff session's bearer token, as the browser holds it (an HttpOnly cookie that a
    page's script cannot read, but the test's driver can)."""
    cookie = driver.get_cookie("console_session")
    assert cookie is not None
    assert cookie["httpOnly"], cookie
    return str(cookie["value"])


async def test_what_a_marketer_may_not_do_is_refused_by_the_ui_and_the_api(
    console: Console,
) -> None:
    driver, made = console.driver, console.made
    console.as_role("marketer")
    redemption = f"/console/redemptions/{made['redemption_id']}"
    console.visit(redemption)
    assert not driver.find_elements(By.PARTIAL_LINK_TEXT, "Reverse")
    console.visit(redemption + "/reverse")
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Reverse redemption']")
    assert "marketer" in driver.find_element(By.TAG_NAME, "main").text
    token = _session_token(driver)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        _, refused, _ = await call(
            s,
            "POST",
            f"{console.base}/v2/coupon/redemptions/{made['redemption_id']}/reverse",
            json={"reason": "not mine to reverse"},
            expect=403,
        )
    assert "The role 'marketer' does not allow POST" in str(refused), refused


async def test_what_support_may_not_do_is_refused_by_the_ui_and_the_api(console: Console) -> None:
    driver = console.driver
    console.as_role("support")
    console.visit("/console/promotions")
    assert not driver.find_elements(By.LINK_TEXT, "New promotion")
    console.visit(f"/console/promotions/{console.made['promotion']}")
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Generate']")
    assert not driver.find_elements(By.LINK_TEXT, "Edit")
    console.visit("/console/promotions/new")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Forbidden"
    assert not driver.find_elements(By.XPATH, "//button[normalize-space()='Create promotion']")
    token = _session_token(driver)
    body = {"code": unique("NOPE-"), "name": "Not for support", "couponBased": True}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        _, refused, _ = await call(
            s, "POST", f"{console.base}/api/v1/promotions/", json=body, expect=403
        )
    assert "The role 'support' does not allow POST /api/v1/promotions" in str(refused), refused


def test_admin_manages_staff(console: Console) -> None:
    driver = console.driver
    console.as_role("admin")
    console.visit("/console/staff", "staff-list")
    follow(driver, "New staff account")
    checked(driver, "staff-new")
    email = f"{unique('helpdesk-')}@example.com"
    fill(
        driver,
        {
            "email": email,
            "name": "Help desk",
            "role": "support",
            "password": PASSWORD,
            "passwordConfirmation": PASSWORD,
        },
    )
    submit(driver, "Create staff account")
    assert "/console/staff/" in driver.current_url, driver.current_url
    assert email in driver.find_element(By.TAG_NAME, "main").text
    checked(driver, "staff-detail")
    follow(driver, "Disable this account")
    checked(driver)
    submit(driver, f"Disable {email}")
    assert "/console/staff/" in driver.current_url
    checked(driver)
    console.made["disabled_staff"] = email

    # The disabled account cannot sign in.
    driver.delete_all_cookies()
    open_page(driver, f"{console.base}/console/sign-in")
    fill(driver, {"email": email, "password": PASSWORD})
    submit(driver, "Sign in")
    assert "/console/sign-in" in driver.current_url
    assert "Wrong email or password." in driver.find_element(By.CSS_SELECTOR, "[role=alert]").text


async def test_admin_creates_a_token_whose_secret_is_shown_once_then_revokes_it(
    console: Console,
) -> None:
    driver = console.driver
    console.as_role("admin")
    console.visit("/console/tokens", "tokens-list")
    follow(driver, "New API token")
    checked(driver, "token-new")
    name = unique("crm-reader-")
    fill(driver, {"name": name, "whitelist:GET /api/v1/promotions": "true"})
    submit(driver, "Create API token")
    secret = str(driver.find_element(By.ID, "revealed-secret").text)
    assert secret
    checked(driver, "token-secret")
    follow(driver, "Done")
    assert secret not in str(driver.page_source)
    driver.refresh()
    assert secret not in str(driver.page_source)
    checked(driver, "token-detail")
    console.made["token"] = name

    url = f"{console.base}/api/v1/promotions"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as s:
        await call(s, "GET", url, expect=200)
        await call(s, "GET", f"{console.base}/api/v1/staff", expect=403)  # not whitelisted
        follow(driver, "Revoke this token")
        checked(driver)
        submit(driver, f"Revoke {name}")
        assert "Revoked" in driver.find_element(By.TAG_NAME, "main").text
        checked(driver)

        async def refused() -> int:
            status, _, _ = await call(s, "GET", url)
            return status

        # Revoked: refused like an unknown credential (docs/authentication.md).
        await until(refused, "the revoked token refused", FOLLOW_DEADLINE_S, equals=403)


def test_admin_sees_the_webhook_pages(console: Console) -> None:
    console.as_role("admin")
    console.visit("/console/webhooks", "webhooks-list")
    console.visit("/console/webhooks/new", "webhook-new")


def test_admin_reads_the_audit_log_of_the_console_changes(console: Console) -> None:
    driver, made = console.driver, console.made
    console.as_role("admin")
    console.visit("/console/audit", "audit-list")
    changes = {
        ("marketer@example.com", "POST /api/v1/promotions"),
        ("marketer@example.com", "POST /api/v1/promotions/{promotionCode}/coupons/generate"),
        ("marketer@example.com", "POST /v2/coupon/series"),
        ("marketer@example.com", "POST /v2/coupon/issue"),
        ("support@example.com", "POST /v2/coupon/redemptions/{redemptionId}/reverse"),
        ("admin@example.com", "POST /api/v1/staff"),
        ("admin@example.com", "DELETE /api/v1/staff/{id}"),
        ("admin@example.com", "POST /api/v1/api-tokens"),
        ("admin@example.com", "DELETE /api/v1/api-tokens/{id}"),
    }

    def listed() -> set[tuple[str, str]]:
        rows = driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
        found = set()
        for row in rows:
            cells = [str(cell.text) for cell in row.find_elements(By.TAG_NAME, "td")]
            if cells[3] == "console":  # via
                found.add((cells[2], cells[4]))  # actor, action
        return found

    assert changes <= listed(), changes - listed()

    # The reversal, filtered by its actor, in full: the reason support gave.
    fill(driver, {"actor": "support@example.com"})
    submit(driver, "Filter")
    checked(driver)
    follow(driver, f"Record {_audit_record_of(driver, 'reverse')}")
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "support@example.com" in page
    assert "Customer returned the order" in page
    assert str(made["redemption_id"]) in page
    checked(driver, "audit-detail")


def _audit_record_of(driver: WebDriver, action_part: str) -> int:
    for row in driver.find_elements(By.CSS_SELECTOR, "main table tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        if action_part in cells[4].text:
            return int(str(cells[0].get_attribute("textContent")).split()[-1])
    raise AssertionError(f"no audit record of {action_part!r} listed")
