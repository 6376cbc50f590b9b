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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from coupon_dev.stack import Stack
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support.api import call
from support.browser import checked, chromium, fill, open_page, sign_in, submit
from support.stacks import ADMIN_TOKEN

ROLES = ("admin", "marketer", "support")
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
