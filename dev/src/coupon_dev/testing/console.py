"""Console tests: a gateway (console included) in front of real services, in this process,
and staff members' browsers (cookies, CSRF tokens, forms) signed in to it.

``console_stack(infra, services=...)`` starts the services named (issuance, redemption,
promotion) on their own databases and the shared Redis, then a gateway whose console calls
the API through the gateway's own listener (``console_api_url``: the port is bound before
the gateway is made, so the setting names it). ``stack.staff(role)`` creates a staff account
of that role and signs it in through ``/console/sign-in``, as a browser would. ``Page`` reads
what a test needs from an HTML page (forms, links, text) and ``assert_accessible`` checks
what every console page owes a screen reader.
"""

from __future__ import annotations

import contextlib
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import asyncpg
from aiohttp import ClientResponse, ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from coupon_core.keys import PG_POOL
from coupon_core.lifecycle import redis_from_url
from coupon_dev.gateway_fixtures import TEST_ADMIN_TOKEN, TEST_PASSWORD, settings_in_front_of
from coupon_dev.testing.plugin import create_database, database_url_for, settings_env
from coupon_dev.testing.provision import Infra
from gateway.app import create_app as gateway_app
from gateway.db import staff as staff_db
from gateway.domain.roles import RoleName
from gateway.keys import PASSWORDS

ServiceFactory = Callable[[dict[str, Any]], web.Application]
NOWHERE = "http://127.0.0.1:1"
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
# The whole stack shares one Redis: a console test's load is tiny, the limits are not its topic.
GENEROUS = {
    "rate_limit_per_minute": 10_000_000,
    "user_rate_limit_per_minute": 10_000_000,
    "anonymous_rate_limit_per_minute": 10_000_000,
    "auth_failures_per_minute": 10_000,
}


def _issuance(env: dict[str, Any]) -> web.Application:
    from issuance_service.app import create_app
    from issuance_service.settings import Settings

    return create_app(Settings(**env))


def _redemption(env: dict[str, Any]) -> web.Application:
    from redemption_service.app import create_app
    from redemption_service.settings import Settings

    return create_app(Settings(**env))


def _promotion(env: dict[str, Any]) -> web.Application:
    from promotion_service.app import create_app
    from promotion_service.settings import Settings

    return create_app(Settings(**env))


def _webhook(env: dict[str, Any]) -> web.Application:
    from webhook_service.app import create_app
    from webhook_service.settings import Settings

    return create_app(Settings(**env))


SERVICES: dict[str, ServiceFactory] = {
    "issuance": _issuance,
    "redemption": _redemption,
    "promotion": _promotion,
    "webhook": _webhook,
}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def new_mobile() -> str:
    return "9" + str(uuid.uuid4().int)[:11]


class Page:
    """An HTML page as a test reads it: its text, forms, links and elements' attributes."""

    def __init__(
        self, status: int, url: str, html: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.url = url
        self.html = html
        self.headers = dict(headers or {})
        parser = _Reader()
        parser.feed(html)
        parser.close()
        self.elements = parser.elements
        self.forms = parser.forms
        self.text = " ".join(" ".join(parser.text).split())

    def links(self) -> dict[str, str]:
        """Each link's href by its text (the last one of a text wins)."""
        return {text: attrs.get("href", "") for tag, attrs, text in self.elements if tag == "a"}

    def hrefs(self) -> list[str]:
        return [attrs.get("href", "") for tag, attrs, _ in self.elements if tag == "a"]

    def form(self, action: str) -> Form:
        """The form posting to ``action`` (a path, without the query)."""
        for found in self.forms:
            if found.action.split("?")[0] == action:
                return found
        raise AssertionError(f"no form posts to {action}; forms: {[f.action for f in self.forms]}")

    def has_form(self, action: str) -> bool:
        return any(found.action.split("?")[0] == action for found in self.forms)

    def by_id(self, element_id: str) -> tuple[dict[str, str], str]:
        for _, attrs, text in self.elements:
            if attrs.get("id") == element_id:
                return attrs, text
        raise AssertionError(f"no element with id {element_id!r}")


@dataclass
class Form:
    action: str
    method: str
    # What a browser would send as the form stands: hidden fields, values, checked boxes,
    # selected options.
    values: dict[str, str] = field(default_factory=dict)
    controls: list[dict[str, str]] = field(default_factory=list)


class _Reader(HTMLParser):
    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "wbr", "area", "col"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], str]] = []
        self.forms: list[Form] = []
        self.text: list[str] = []
        self._open: list[tuple[int, str]] = []  # (index in elements, tag)
        self._select: str | None = None
        self._first_option: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.elements.append((tag, found, ""))
        if tag == "form":
            self.forms.append(Form(found.get("action", ""), found.get("method", "get").lower()))
        elif tag in ("input", "select", "textarea", "button") and self.forms:
            self._control(tag, found)
        if tag not in self.VOID:
            self._open.append((len(self.elements) - 1, tag))

    def _control(self, tag: str, attrs: dict[str, str]) -> None:
        form = self.forms[-1]
        form.controls.append({"tag": tag, **attrs})
        name = attrs.get("name")
        if not name:
            return
        if tag == "select":
            self._select = name
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    form.values[name] = attrs.get("value", "on")
            elif kind not in ("submit", "button", "reset"):
                form.values[name] = attrs.get("value", "")
        elif tag == "textarea":
            form.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            if self._select is not None and self._select not in self.forms[-1].values:
                self.forms[-1].values[self._select] = self._first_option.get(self._select, "")
            self._select = None
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position][1] == tag:
                del self._open[position:]
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for index, _ in self._open:
            name, attrs, text = self.elements[index]
            self.elements[index] = (name, attrs, (text + data).strip())
        if self._open and self._open[-1][1] == "textarea" and self.forms:
            attrs = self.elements[self._open[-1][0]][1]
            if attrs.get("name"):
                self.forms[-1].values[attrs["name"]] += data
        if self._open and self._open[-1][1] == "option" and self._select is not None:
            attrs = self.elements[self._open[-1][0]][1]
            value = attrs.get("value", data.strip())
            self._first_option.setdefault(self._select, value)
            if "selected" in attrs:
                self.forms[-1].values[self._select] = value


def assert_accessible(page: Page) -> None:
    """What every console page owes a screen reader: a language, one h1, a label for every
    control, and tables with a caption and headers that say what they head."""
    html_tags = [attrs for tag, attrs, _ in page.elements if tag == "html"]
    assert html_tags, f"{page.url}: no <html>"
    assert html_tags[0].get("lang"), f"{page.url}: <html> without lang"
    h1 = [text for tag, _, text in page.elements if tag == "h1"]
    assert len(h1) == 1, f"{page.url}: {len(h1)} h1 elements"
    labelled = {attrs.get("for") for tag, attrs, _ in page.elements if tag == "label"}
    for tag, attrs, _ in page.elements:
        if tag in ("input", "select", "textarea") and attrs.get("type") not in (
            "hidden",
            "submit",
            "button",
            "reset",
        ):
            has_label = attrs.get("id") in labelled or attrs.get("aria-label")
            assert has_label, f"{page.url}: {tag} {attrs.get('name')!r} has no label"
        if tag == "th":
            assert attrs.get("scope") in ("col", "row"), f"{page.url}: <th> without scope"
    tables = sum(1 for tag, _, _ in page.elements if tag == "table")
    captions = sum(1 for tag, _, _ in page.elements if tag == "caption")
    assert tables == captions, f"{page.url}: {tables} tables, {captions} captions"


CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


class StaffBrowser:
    """One staff member's browser: its own cookies; every page it reads is checked with
    :func:`assert_accessible` when it is HTML."""

    def __init__(self, base_url: str, email: str) -> None:
        self.email = email
        self.session = ClientSession(base_url=base_url, cookie_jar=CookieJar(unsafe=True))

    async def get(self, path: str, **params: Any) -> Page:
        async with self.session.get(path, params=params or None) as response:
            return await self._page(response)

    async def post(self, path: str, data: Mapping[str, str]) -> Page:
        """A form post as a browser sends it (same origin); redirects are followed."""
        headers = {"Origin": str(self.session._base_url).rstrip("/")}
        async with self.session.post(path, data=dict(data), headers=headers) as response:
            return await self._page(response)

    async def submit(self, page: Page, action: str, **values: str | None) -> Page:
        """Submit ``page``'s form for ``action`` with ``values`` over what it holds (None
        removes a field: an unchecked box, a field the browser would not send)."""
        form = page.form(action)
        sent = {**form.values, **values}
        return await self.post(action, {k: v for k, v in sent.items() if v is not None})

    async def _page(self, response: ClientResponse) -> Page:
        text = await response.text()
        page = Page(response.status, str(response.url), text, response.headers)
        if response.content_type == "text/html":
            assert_accessible(page)
        return page

    async def close(self) -> None:
        await self.session.close()


@dataclass
class ConsoleStack:
    url: str
    gateway: web.Application
    api: ClientSession  # the admin API client (bootstrap admin token)
    browsers: list[StaffBrowser] = field(default_factory=list)
    # Each service's database URL, for what a test sets up or reads directly.
    databases: dict[str, str] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        *,
        expect: int = 200,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """An API call (the admin's, unless ``headers`` name other credentials) that must
        answer ``expect``; its JSON body."""
        async with self.api.request(method, path, json=json, headers=headers) as response:
            body = await response.json(content_type=None)
            assert response.status == expect, f"{method} {path}: {response.status} {body}"
            return body

    async def redeem(
        self, code: str, customer: dict[str, str], *, amount: str, number: str
    ) -> dict[str, Any]:
        """Redeem ``code`` through the API (seed 003's body); the coupon's answer, a success."""
        coupon = {
            "code": code,
            "customer": customer,
            "transaction": [{"number": number, "amount": amount}],
        }
        answer = await self.call("POST", "/v1.1/coupon/redeem", json={"root": {"coupon": [coupon]}})
        redeemed: dict[str, Any] = answer["response"]["coupons"]["coupon"]
        assert redeemed["item_status"]["code"] == 700, answer
        return redeemed

    async def staff(self, role: RoleName, email: str | None = None) -> StaffBrowser:
        """A new staff account of ``role`` (written straight to the gateway's database: the
        staff API has tests of its own), signed in through the console's sign-in form."""
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        password_hash = await self.gateway[PASSWORDS].hash(TEST_PASSWORD)
        async with self.gateway[PG_POOL].acquire() as conn:
            await staff_db.create(
                conn, email=email, name=role, role=role, password_hash=password_hash
            )
        browser = StaffBrowser(self.url, email)
        self.browsers.append(browser)
        form = await browser.get("/console/sign-in")
        signed_in = await browser.submit(
            form, "/console/sign-in", email=email, password=TEST_PASSWORD
        )
        assert signed_in.status == 200, signed_in.text
        assert "/console/sign-in" not in signed_in.url, signed_in.text
        return browser


@contextlib.asynccontextmanager
async def console_stack(
    infra: Infra,
    *,
    services: tuple[str, ...] = ("issuance", "redemption", "promotion"),
    service_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[ConsoleStack]:
    """The gateway with its console in front of ``services``, each on a database of its own
    (dropped on the way out) and the session's Redis (emptied first); ``service_settings``
    adds to a service's settings by its name (``{"promotion": {"job_poll_s": 0.05}}``)."""
    redis = redis_from_url(infra.redis_url)
    try:
        await redis.flushall()
    finally:
        await redis.aclose()
    databases: list[str] = []
    servers: list[TestServer] = []

    async def database() -> str:
        name = await create_database(infra.postgres_url, "test_console_")
        databases.append(name)
        return database_url_for(infra.postgres_url, name)

    try:
        upstreams: dict[str, str] = {}
        service_databases: dict[str, str] = {}
        for name in services:
            service_databases[name] = await database()
            env = settings_env(service_databases[name], infra.redis_url)
            app = SERVICES[name]({**env, **(service_settings or {}).get(name, {})})
            server = TestServer(app)
            await server.start_server()
            servers.append(server)
            upstreams[f"{name}_upstreams"] = str(server.make_url("")).rstrip("/")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = settings_in_front_of(
            NOWHERE,
            **settings_env(await database(), infra.redis_url),
            **GENEROUS,
            **upstreams,
            console_api_url=url,
        )
        app = gateway_app(settings)
        gateway = TestServer(app, socket_factory=lambda *_: listener)
        await gateway.start_server()
        servers.append(gateway)
        async with ClientSession(base_url=url, headers=ADMIN) as api:
            stack = ConsoleStack(url=url, gateway=app, api=api, databases=service_databases)
            try:
                yield stack
            finally:
                for browser in stack.browsers:
                    await browser.close()
    finally:
        for server in reversed(servers):
            await server.close()
        admin = await asyncpg.connect(infra.postgres_url)
        try:
            for name in databases:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
