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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from coupon_dev.stack import Stack
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support.api import call, mobile, unique
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
    checked(console.driver, "dashboard" if role == "admin" else None)


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
    console.made.update(
        series_id=int(series_id),
        code=code,
        mobile=customer_mobile,
        customer_id=int(console.driver.current_url.rsplit("/", 1)[-1]),
    )
