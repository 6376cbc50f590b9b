"""The console's admin pages against a real gateway (and a real webhook-service): API tokens
made through the whitelist picker with their secret shown once, and revoked; webhook
endpoints subscribed, tested, disabled, rotated and deleted; staff accounts made, changed,
signed in with and disabled, the API's refusals told in words; the audit log listing those
changes with what they were before and after. Only admins reach these pages: other roles
get the API's refusal in words.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from coupon_core.routes import PLATFORM, Access
from coupon_dev.gateway_fixtures import TEST_PASSWORD
from coupon_dev.testing.console import ConsoleStack, Page, StaffBrowser, console_stack, unique
from coupon_dev.testing.poll import until
from coupon_dev.testing.provision import Infra

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN_SECRET = re.compile(r"cpt_[A-Za-z0-9_-]{60,}")
WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")
NOT_AGAIN = "will not be shown again"
GRANTED = ("GET /api/v1/staff-roles", "GET /api/v1/api-tokens")
PICKED = {f"whitelist:{entry}": entry for entry in GRANTED}
# Delivered to a receiver on this machine over plain http, as `make run` allows.
WEBHOOK_SETTINGS = {
    "webhook_allow_http_loopback": True,
    "webhook_allowed_networks": "127.0.0.0/8",
    "webhook_poll_s": 0.05,
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(infra: Infra) -> AsyncIterator[ConsoleStack]:
    async with console_stack(
        infra, services=("webhook",), service_settings={"webhook": WEBHOOK_SETTINGS}
    ) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("admin")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def marketer(stack: ConsoleStack) -> StaffBrowser:
    return await stack.staff("marketer")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver() -> AsyncIterator[str]:
    """A webhook receiver on loopback that accepts everything; its URL."""

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks", accept)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("/hooks"))
    finally:
        await server.close()


def _checkbox_values(page: Page, prefix: str) -> dict[str, str]:
    """The checkboxes whose name starts with ``prefix``: name -> value."""
    return {
        attrs["name"]: attrs.get("value", "")
        for tag, attrs, _ in page.elements
        if tag == "input"
        and attrs.get("type") == "checkbox"
        and attrs.get("name", "").startswith(prefix)
    }


def _id_from(url: str, area: str) -> int:
    found = re.search(rf"/console/{area}/(\d+)$", url)
    assert found, url
    return int(found.group(1))


async def _answer_to(stack: ConsoleStack, secret: str) -> tuple[int, str]:
    """What the API answers ``secret`` on an endpoint its whitelist names: status, code."""
    async with stack.api.get(
        "/api/v1/staff-roles", headers={"Authorization": f"Bearer {secret}"}
    ) as response:
        body = await response.json()
        return response.status, body.get("code", "") if response.status != 200 else ""


def _secret_page(page: Page, area: str) -> int:
    """``page`` is the answer to the POST that made a secret: shown there, once, never
    stored by the browser, with a "Done" link to the detail page; that page's id."""
    assert page.status == 200, page.text
    assert page.url.endswith("/new") or page.url.endswith("/rotate"), page.url  # not redirected
    assert page.headers.get("Cache-Control") == "no-store"
    assert NOT_AGAIN in page.text
    return _id_from(page.links()["Done"], area)


async def _new_token(admin: StaffBrowser, name: str) -> tuple[int, Page]:
    form = await admin.get("/console/tokens/new")
    created = await admin.submit(form, "/console/tokens/new", name=name, **PICKED)
    return _secret_page(created, "tokens"), created


async def test_the_picker_offers_every_api_token_endpoint_by_service(admin: StaffBrowser) -> None:
    page = await admin.get("/console/tokens/new")
    assert page.status == 200, page.text
    offered = set(_checkbox_values(page, "whitelist:").values())
    wanted = {
        f"{e.method} {e.template}" for e in PLATFORM.endpoints if e.access is Access.API_TOKEN
    }
    assert offered == wanted | {"*"}
    # One group (a fieldset with its legend) per service.
    legends = [text for tag, _, text in page.elements if tag == "legend"]
    for service in ("Gateway", "Promotion", "Issuance", "Redemption", "Webhook"):
        assert any(legend.startswith(service) for legend in legends), legends
    # None checked to begin with: a new token reaches nothing it was not given.
    assert not any(k.startswith("whitelist:") for k in page.form("/console/tokens/new").values)


async def test_a_token_made_through_the_picker_shows_its_secret_once_and_is_revoked(
    stack: ConsoleStack, admin: StaffBrowser
) -> None:
    name = unique("console-")
    token_id, created = await _new_token(admin, name)
    secrets = TOKEN_SECRET.findall(created.text)
    assert len(set(secrets)) == 1, created.text
    secret = secrets[0]
    # The token's page (where "Done" leads) never shows it.
    again = await admin.get(f"/console/tokens/{token_id}")
    assert again.status == 200
    assert secret not in again.html
    assert not TOKEN_SECRET.search(again.html)
    assert name in again.text

    token = await stack.call("GET", f"/api/v1/api-tokens/{token_id}")
    assert sorted(token["whitelist"]) == sorted(GRANTED)
    assert await _answer_to(stack, secret) == (200, "")
    listing = await admin.get("/console/tokens")
    assert listing.links().get(name) == f"/console/tokens/{token_id}"

    # The whitelist is edited with the same picker, its entries checked.
    assert set(_checkbox_values(again, "whitelist:")) >= set(PICKED)
    form = again.form(f"/console/tokens/{token_id}")
    assert all(form.values.get(key) == value for key, value in PICKED.items())
    saved = await admin.submit(
        again,
        f"/console/tokens/{token_id}",
        **{"whitelist:GET /api/v1/api-tokens": None, "whitelist:GET /api/v1/status": "on"},
    )
    assert saved.status == 200, saved.text
    token = await stack.call("GET", f"/api/v1/api-tokens/{token_id}")
    assert sorted(token["whitelist"]) == ["GET /api/v1/staff-roles", "GET /api/v1/status"]

    confirm = await admin.get(f"/console/tokens/{token_id}/revoke")
    assert confirm.status == 200
    assert name in confirm.text
    revoked = await admin.submit(confirm, f"/console/tokens/{token_id}/revoke")
    assert revoked.status == 200, revoked.text
    assert "revoked" in revoked.text.lower()
    assert (await stack.call("GET", f"/api/v1/api-tokens/{token_id}"))["revokedAt"]
    refused = (403, "invalid_token")  # SPEC section 2: a revoked token is refused with 403
    await until(lambda: _answer_to(stack, secret), "the revoked bearer refused", equals=refused)


async def test_a_bad_token_name_is_shown_on_its_field(admin: StaffBrowser) -> None:
    form = await admin.get("/console/tokens/new")
    refused = await admin.submit(form, "/console/tokens/new", name="no spaces allowed", **PICKED)
    assert refused.status == 400, refused.text
    attrs, _ = refused.by_id("f-name")
    assert attrs.get("aria-invalid") == "true"
    assert "f-name-error" in attrs.get("aria-describedby", "")
    # What was picked stays picked.
    assert all(refused.form("/console/tokens/new").values.get(k) == v for k, v in PICKED.items())


async def test_a_staff_account_made_by_an_admin_signs_in_and_is_disabled(
    stack: ConsoleStack, admin: StaffBrowser
) -> None:
    email = f"{unique('mia-')}@example.com"
    form = await admin.get("/console/staff/new")
    assert form.status == 200, form.text
    roles = [a.get("value") for t, a, _ in form.elements if t == "option"]
    assert roles == ["admin", "marketer", "support"]
    fields = {"email": email, "name": "Mia Rossi", "role": "marketer", "password": TEST_PASSWORD}

    mismatch = await admin.submit(
        form, "/console/staff/new", **fields, passwordConfirmation="something else"
    )
    assert mismatch.status == 400
    assert "f-passwordConfirmation-error" in mismatch.html
    found = await stack.call("GET", "/api/v1/staff")
    assert email not in [s["email"] for s in found["items"]]

    created = await admin.submit(
        form, "/console/staff/new", **fields, passwordConfirmation=TEST_PASSWORD
    )
    assert created.status == 200, created.text
    staff_id = _id_from(created.url, "staff")
    assert email in created.text
    assert "marketer" in created.text

    duplicate = await admin.submit(
        form,
        "/console/staff/new",
        **{**fields, "email": email.upper()},
        passwordConfirmation=TEST_PASSWORD,
    )
    assert duplicate.status == 409
    assert "email" in duplicate.text.lower()

    # The new account signs in, and sees the pages of its role only.
    mia = StaffBrowser(stack.url, email)
    stack.browsers.append(mia)
    sign_in = await mia.get("/console/sign-in")
    home = await mia.submit(sign_in, "/console/sign-in", email=email, password=TEST_PASSWORD)
    assert home.status == 200, home.text
    assert "/console/sign-in" not in home.url, home.text
    assert "Promotions" in home.links()
    assert "Staff" not in home.links()

    detail = await admin.get(f"/console/staff/{staff_id}")
    changed = await admin.submit(
        detail, f"/console/staff/{staff_id}", role="support", name="Mia R."
    )
    assert changed.status == 200, changed.text
    account = await stack.call("GET", f"/api/v1/staff/{staff_id}")
    assert (account["role"], account["name"], account["active"]) == ("support", "Mia R.", True)
    # A new role ends the account's sessions (within the credential cache's second).

    async def signed_out() -> bool:
        return "/console/sign-in" in (await mia.get("/console")).url

    await until(signed_out, "the session of the account whose role changed ended")

    confirm = await admin.get(f"/console/staff/{staff_id}/disable")
    assert confirm.status == 200
    assert email in confirm.text
    disabled = await admin.submit(confirm, f"/console/staff/{staff_id}/disable")
    assert disabled.status == 200, disabled.text
    assert (await stack.call("GET", f"/api/v1/staff/{staff_id}"))["active"] is False
    sign_in = await mia.get("/console/sign-in")
    refused = await mia.submit(sign_in, "/console/sign-in", email=email, password=TEST_PASSWORD)
    assert "/console/sign-in" in refused.url


async def test_the_last_admin_is_refused_in_words(stack: ConsoleStack, admin: StaffBrowser) -> None:
    me = (await stack.call("GET", "/api/v1/staff"))["items"]
    admins = [s for s in me if s["role"] == "admin" and s["active"]]
    assert [s["email"] for s in admins] == [admin.email]
    own = admins[0]["id"]
    confirm = await admin.get(f"/console/staff/{own}/disable")
    refused = await admin.submit(confirm, f"/console/staff/{own}/disable")
    assert refused.status == 409
    assert "is the last active admin" in refused.text
    attrs, _ = refused.by_id("errors-summary")
    assert attrs.get("role") == "alert"
    detail = await admin.get(f"/console/staff/{own}")
    demoted = await admin.submit(detail, f"/console/staff/{own}", role="marketer")
    assert demoted.status == 409
    assert "is the last active admin" in demoted.text
    assert (await stack.call("GET", f"/api/v1/staff/{own}"))["role"] == "admin"


@pytest.mark.parametrize("area", ["staff", "tokens", "webhooks", "audit"])
async def test_other_roles_get_the_apis_refusal_in_words(
    admin: StaffBrowser, marketer: StaffBrowser, area: str
) -> None:
    api = {
        "staff": "GET /api/v1/staff",
        "tokens": "GET /api/v1/api-tokens",
        "webhooks": "GET /api/v1/webhooks",
        "audit": "GET /api/v1/audit-log",
    }[area]
    page = await marketer.get(f"/console/{area}")
    assert page.status == 403
    assert f"The role 'marketer' does not allow {api}." in page.text
    label = {"staff": "Staff", "tokens": "API tokens", "webhooks": "Webhooks", "audit": "Audit log"}
    assert label[area] not in (await marketer.get("/console")).links()
    assert (await admin.get("/console")).links()[label[area]] == f"/console/{area}"
    assert (await admin.get(f"/console/{area}")).status == 200


async def test_the_audit_page_lists_the_changes_with_before_and_after(
    stack: ConsoleStack, admin: StaffBrowser
) -> None:
    token_id, _ = await _new_token(admin, unique("audited-"))
    await admin.submit(
        await admin.get(f"/console/tokens/{token_id}"),
        f"/console/tokens/{token_id}",
        **{"whitelist:GET /api/v1/api-tokens": None, "whitelist:GET /api/v1/status": "on"},
    )
    listing = await admin.get(
        "/console/audit", action="PATCH /api/v1/api-tokens/{id}", target=str(token_id)
    )
    assert listing.status == 200, listing.text
    assert admin.email in listing.text
    assert "console" in listing.text
    records = [h for h in listing.hrefs() if re.fullmatch(r"/console/audit/\d+", h)]
    assert len(records) == 1, listing.text
    # The filters are a form whose fields hold what was asked.
    filters = listing.form("/console/audit")
    assert filters.values["target"] == str(token_id)
    assert filters.values["action"] == "PATCH /api/v1/api-tokens/{id}"

    record = await admin.get(records[0])
    assert record.status == 200, record.text
    before, _ = record.by_id("before")
    after, _ = record.by_id("after")
    before_text = next(t for tag, a, t in record.elements if a.get("id") == "before-json")
    after_text = next(t for tag, a, t in record.elements if a.get("id") == "after-json")
    assert "GET /api/v1/api-tokens" in before_text
    assert "GET /api/v1/status" not in before_text
    assert "GET /api/v1/status" in after_text
    assert "GET /api/v1/api-tokens" not in after_text
    assert before
    assert after

    # The creation is there too, with no before and the secret redacted in the answer.
    made = await admin.get(
        "/console/audit", action="POST /api/v1/api-tokens", target="", actor=admin.email
    )
    creations = [h for h in made.hrefs() if re.fullmatch(r"/console/audit/\d+", h)]
    assert creations
    creation = await admin.get(creations[0])
    assert next(t for _, a, t in creation.elements if a.get("id") == "before-json") == "null"
    after_json = next(t for _, a, t in creation.elements if a.get("id") == "after-json")
    assert '"token": "[redacted]"' in after_json
    assert not TOKEN_SECRET.search(creation.html)

    bad = await admin.get("/console/audit", since="2030-01-02T00:00", until="2030-01-01T00:00")
    assert bad.status == 400
    assert "f-until-error" in bad.html


async def test_a_webhook_endpoint_through_the_console(
    stack: ConsoleStack, admin: StaffBrowser, receiver: str
) -> None:
    form = await admin.get("/console/webhooks/new")
    assert form.status == 200, form.text
    events = _checkbox_values(form, "event:")
    assert "event:coupon.redeemed" in events
    assert "event:*" in events
    assert "event:webhook.test" not in events  # only the test sends it
    created = await admin.submit(
        form,
        "/console/webhooks/new",
        url=receiver,
        description="console test",
        **{"event:coupon.redeemed": "coupon.redeemed", "event:limit.reached": "limit.reached"},
    )
    hook = _secret_page(created, "webhooks")
    secret = WEBHOOK_SECRET.findall(created.text)
    assert len(set(secret)) == 1, created.text
    again = await admin.get(f"/console/webhooks/{hook}")
    assert not WEBHOOK_SECRET.search(again.html)
    endpoint = await stack.call("GET", f"/api/v1/webhooks/{hook}")
    assert sorted(endpoint["events"]) == ["coupon.redeemed", "limit.reached"]
    assert endpoint["description"] == "console test"

    tested = await admin.submit(again, f"/console/webhooks/{hook}/test")
    assert tested.status == 200, tested.text
    assert "Test event evt_" in tested.text

    async def delivered() -> bool:
        page = await admin.get(f"/console/webhooks/{hook}")
        return "webhook.test" in page.text and "delivered" in page.text

    await until(delivered, "the test event's delivery listed")

    disabled = await admin.submit(again, f"/console/webhooks/{hook}/enabled", enabled="false")
    assert disabled.status == 200, disabled.text
    assert (await stack.call("GET", f"/api/v1/webhooks/{hook}"))["enabled"] is False
    enabled = await admin.submit(disabled, f"/console/webhooks/{hook}/enabled", enabled="true")
    assert (await stack.call("GET", f"/api/v1/webhooks/{hook}"))["enabled"] is True
    assert enabled.status == 200

    confirm = await admin.get(f"/console/webhooks/{hook}/rotate")
    rotated = await admin.submit(confirm, f"/console/webhooks/{hook}/rotate", graceHours="0")
    assert _secret_page(rotated, "webhooks") == hook
    new_secret = WEBHOOK_SECRET.findall(rotated.text)
    assert len(set(new_secret)) == 1
    assert new_secret[0] != secret[0]
    assert not WEBHOOK_SECRET.search((await admin.get(f"/console/webhooks/{hook}")).html)

    listing = await admin.get("/console/webhooks")
    assert listing.links().get(receiver) == f"/console/webhooks/{hook}"

    confirm = await admin.get(f"/console/webhooks/{hook}/delete")
    assert receiver in confirm.text
    deleted = await admin.submit(confirm, f"/console/webhooks/{hook}/delete")
    assert deleted.status == 200, deleted.text
    assert deleted.url.endswith("/console/webhooks")
    await stack.call("GET", f"/api/v1/webhooks/{hook}", expect=404)


async def test_a_refused_webhook_url_is_shown_on_its_field(admin: StaffBrowser) -> None:
    form = await admin.get("/console/webhooks/new")
    refused = await admin.submit(
        form,
        "/console/webhooks/new",
        url="https://10.0.0.7/hooks",
        **{"event:coupon.redeemed": "coupon.redeemed"},
    )
    assert refused.status == 400, refused.text
    assert "private address" in refused.text
    attrs, _ = refused.by_id("f-url")
    assert attrs.get("aria-invalid") == "true"


async def test_error_pages_are_titled_by_what_happened(
    admin: StaffBrowser, marketer: StaffBrowser
) -> None:
    """The same kind of error has the same title, whether the console or the API said it
    (not "The API refused" on one page and "Forbidden" on the next)."""
    for browser, path, status, title in (
        (marketer, "/console/tokens", 403, "Forbidden"),  # the API's refusal
        (marketer, "/console/tokens/new", 403, "Forbidden"),  # the console's
        (admin, "/console/tokens/999999", 404, "Not found"),  # the API has none
        (admin, "/console/tokens/abc", 404, "Not found"),  # not an id at all
        (admin, "/console/no-such-page", 404, "Not found"),
    ):
        page = await browser.get(path)
        assert page.status == status, (path, page.text)
        h1 = [text for tag, _, text in page.elements if tag == "h1"]
        assert h1 == [title], (path, h1)


async def test_the_apis_validation_errors_are_said_in_plain_words(admin: StaffBrowser) -> None:
    """The API's own validation messages ("List should have at least 1 item after
    validation, not 0", "String should match pattern '^[^@...'") are put in the words a
    person filling the form reads, on their fields."""
    form = await admin.get("/console/webhooks/new")
    empty = await admin.submit(form, "/console/webhooks/new")
    assert empty.status == 400, empty.text
    assert empty.by_id("f-url-error")[1] == "Required: fill this in."
    assert empty.by_id("f-events-error")[1] == "Choose at least one."
    assert empty.links().get("URL: Required: fill this in.") == "#f-url"

    form = await admin.get("/console/staff/new")
    bad = await admin.submit(
        form,
        "/console/staff/new",
        email="not-an-email",
        role="support",
        password="short",
        passwordConfirmation="short",
    )
    assert bad.status == 400, bad.text
    assert bad.by_id("f-email-error")[1] == "Enter an email address, such as name@example.com."
    assert bad.by_id("f-password-error")[1] == "Use at least 8 characters."
    for raw in ("String should", "pattern", "Value error"):
        assert raw not in bad.text


async def test_every_admin_page_lists(admin: StaffBrowser) -> None:
    """Each list renders (and passes the page checks) when it has something to show."""
    for path in ("/console/tokens", "/console/webhooks", "/console/staff", "/console/audit"):
        page = await admin.get(path)
        assert page.status == 200, (path, page.text)
        assert any(tag == "table" for tag, _, _ in page.elements) or "No " in page.text
