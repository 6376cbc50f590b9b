"""The console's session (SPEC section 11): the cookie's attributes, CSRF and same-origin
checks on every POST, idle expiry, sign-out, throttled sign-in and safe redirects after it."""

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import asyncpg
import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient
from coupon_core.keys import PG_POOL
from coupon_dev.gateway_fixtures import (
    TEST_PASSWORD,
    StartGateway,
    bearer,
    echo_app,
    settings_in_front_of,
    upstream_url,
)
from gateway.app import create_app
from gateway.console.session import safe_next
from gateway.db import staff as staff_db
from gateway.domain.roles import RoleName
from gateway.keys import PASSWORDS
from yarl import URL

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STATUS = "/api/v1/status"


@pytest.fixture
async def gateways(
    aiohttp_server: Any, aiohttp_client: Any, service_env: dict[str, Any]
) -> StartGateway:
    """A gateway whose client keeps no cookies: each request carries exactly the cookies
    the test gives it, as it names them."""
    url = upstream_url(await aiohttp_server(echo_app()))

    async def start(**overrides: Any) -> TestClient[Any, Any]:
        settings = settings_in_front_of(url, **{**service_env, **overrides})
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(settings), cookie_jar=DummyCookieJar()
        )
        return client

    return start


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app = client.app
    assert isinstance(app, web.Application)
    return app


async def add_staff(client: TestClient[Any, Any], email: str, role: RoleName = "support") -> None:
    app = app_of(client)
    password_hash = await app[PASSWORDS].hash(TEST_PASSWORD)
    async with app[PG_POOL].acquire() as conn:
        await staff_db.create(conn, email=email, name=None, role=role, password_hash=password_hash)


def cookies_of(response: Any) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.getall("Set-Cookie", ()):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            found[name] = jar
    return found


def attributes(response: Any, name: str) -> tuple[str, dict[str, str]]:
    """The value and attributes (lower-case names) of the cookie ``name`` set by
    ``response``, as its raw Set-Cookie header says them."""
    for header in response.headers.getall("Set-Cookie", ()):
        parts = [part.strip() for part in header.split(";")]
        key, _, value = parts[0].partition("=")
        if key == name:
            attrs = {}
            for part in parts[1:]:
                attr, _, attr_value = part.partition("=")
                attrs[attr.lower()] = attr_value
            return value.strip('"'), attrs
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getall('Set-Cookie', [])}")


async def sign_in_form(
    client: TestClient[Any, Any], headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The sign-in form's CSRF token and the cookies a browser holds after loading it."""
    page = await client.get("/console/sign-in", headers=headers)
    assert page.status == 200, await page.text()
    match = CSRF.search(await page.text())
    assert match is not None
    value, _ = attributes(page, "console_csrf")
    return match.group(1), {"console_csrf": value}


async def post_sign_in(
    client: TestClient[Any, Any],
    email: str,
    password: str = TEST_PASSWORD,
    *,
    next_path: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    csrf, cookies = await sign_in_form(client, headers)
    data = {"csrf_token": csrf, "email": email, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return await client.post(
        "/console/sign-in",
        data=data,
        headers={**(headers or {}), "Cookie": f"console_csrf={cookies['console_csrf']}"},
        allow_redirects=False,
    )


async def signed_in(client: TestClient[Any, Any], email: str, role: RoleName = "support") -> str:
    """A staff account of ``role`` signed in through the form: its session token."""
    await add_staff(client, email, role)
    response = await post_sign_in(client, email)
    assert response.status == 303, await response.text()
    token, _ = attributes(response, "console_session")
    return token


def session_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"console_session={token}"}


async def csrf_of(client: TestClient[Any, Any], token: str) -> str:
    page = await client.get("/console", headers=session_cookie(token), allow_redirects=False)
    assert page.status == 200, await page.text()
    match = CSRF.search(await page.text())
    assert match is not None
    return match.group(1)


async def session_rows(client: TestClient[Any, Any]) -> int:
    async with app_of(client)[PG_POOL].acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM staff_sessions")
    return count


async def test_sign_in_sets_a_strict_http_only_cookie_for_the_console_only(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    await add_staff(client, "ada@example.com")
    response = await post_sign_in(client, "Ada@Example.com")
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/console"
    token, attrs = attributes(response, "console_session")
    assert token.startswith("gst_")
    assert "httponly" in attrs
    assert attrs["samesite"] == "Strict"
    assert attrs["path"] == "/console"
    assert "secure" not in attrs  # 127.0.0.1 over http, console_cookie_secure=auto
    assert "max-age" not in attrs  # the server ends it
    assert "expires" not in attrs
    page = await client.get("/console", headers=session_cookie(token))
    assert page.status == 200
    assert "ada@example.com" in await page.text()


@pytest.mark.parametrize(
    ("mode", "host", "secure"),
    [
        ("auto", "console.example.com", True),
        ("auto", "localhost:8080", False),
        ("auto", "[::1]:8080", False),
        ("always", None, True),
        ("never", "console.example.com", False),
    ],
)
async def test_the_cookie_is_secure_unless_on_loopback_or_turned_off(
    gateways: StartGateway, mode: str, host: str | None, secure: bool
) -> None:
    client = await gateways(console_cookie_secure=mode)
    await add_staff(client, "ada@example.com")
    headers = {"Host": host} if host else {}
    response = await post_sign_in(client, "ada@example.com", headers=headers)
    assert response.status == 303, await response.text()
    _, attrs = attributes(response, "console_session")
    assert ("secure" in attrs) is secure
    _, csrf_attrs = attributes(
        await client.get("/console/sign-in", headers=headers), "console_csrf"
    )
    assert ("secure" in csrf_attrs) is secure


@pytest.mark.parametrize("csrf", [None, "", "0" * 32])
async def test_a_sign_in_without_the_csrf_token_is_refused(
    gateways: StartGateway, csrf: str | None
) -> None:
    client = await gateways()
    await add_staff(client, "ada@example.com")
    _, cookies = await sign_in_form(client)
    data = {"email": "ada@example.com", "password": TEST_PASSWORD}
    if csrf is not None:
        data["csrf_token"] = csrf
    response = await client.post(
        "/console/sign-in",
        data=data,
        headers={"Cookie": f"console_csrf={cookies['console_csrf']}"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert "console_session" not in cookies_of(response)
    assert await session_rows(client) == 0


@pytest.mark.parametrize("csrf", [None, "", "0" * 32])
async def test_a_console_post_without_the_sessions_csrf_token_changes_nothing(
    gateways: StartGateway, csrf: str | None
) -> None:
    client = await gateways()
    token = await signed_in(client, "ada@example.com")
    data = {} if csrf is None else {"csrf_token": csrf}
    response = await client.post(
        "/console/sign-out", data=data, headers=session_cookie(token), allow_redirects=False
    )
    assert response.status == 403
    assert "console_session" not in cookies_of(response)
    assert (await client.get(STATUS, headers=bearer(token))).status == 200
    page = await client.get("/console", headers=session_cookie(token), allow_redirects=False)
    assert page.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_cross_site_post_is_refused_even_with_the_token(
    gateways: StartGateway, headers: dict[str, str]
) -> None:
    client = await gateways()
    token = await signed_in(client, "ada@example.com")
    csrf = await csrf_of(client, token)
    response = await client.post(
        "/console/sign-out",
        data={"csrf_token": csrf},
        headers={**session_cookie(token), **headers},
        allow_redirects=False,
    )
    assert response.status == 403
    assert (await client.get(STATUS, headers=bearer(token))).status == 200


async def test_a_same_origin_post_with_the_token_is_served(gateways: StartGateway) -> None:
    client = await gateways()
    token = await signed_in(client, "ada@example.com")
    csrf = await csrf_of(client, token)
    origin = str(client.make_url("")).rstrip("/")
    response = await client.post(
        "/console/sign-out",
        data={"csrf_token": csrf},
        headers={**session_cookie(token), "Origin": origin, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert response.status == 303


async def test_an_idle_session_goes_back_to_sign_in_and_returns_after(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways(staff_session_idle_minutes=30, auth_cache_ttl_s=0)
    token = await signed_in(client, "ada@example.com")
    wanted = "/console?panel=health"
    assert (await client.get(wanted, headers=session_cookie(token))).status == 200
    conn = await asyncpg.connect(service_env["database_url"])
    try:
        await conn.execute(
            "UPDATE staff_sessions SET last_seen_at = now() - $1::interval",
            timedelta(minutes=31),
        )
    finally:
        await conn.close()
    response = await client.get(wanted, headers=session_cookie(token), allow_redirects=False)
    assert response.status == 303
    location = URL(response.headers["Location"])
    assert location.path == "/console/sign-in"
    assert location.query["next"] == wanted
    form = await client.get(response.headers["Location"])
    assert 'name="next" value="/console?panel=health"' in await form.text()
    again = await post_sign_in(client, "ada@example.com", next_path="/console?panel=health")
    assert again.headers["Location"] == wanted


async def test_sign_out_ends_the_session_and_its_bearer(gateways: StartGateway) -> None:
    client = await gateways(auth_cache_ttl_s=0)
    token = await signed_in(client, "ada@example.com")
    assert (await client.get(STATUS, headers=bearer(token))).status == 200
    csrf = await csrf_of(client, token)
    response = await client.post(
        "/console/sign-out",
        data={"csrf_token": csrf},
        headers=session_cookie(token),
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/console/sign-in"
    value, attrs = attributes(response, "console_session")
    assert value == ""
    assert attrs["path"] == "/console"
    assert attrs.get("max-age") == "0"
    assert (await client.get(STATUS, headers=bearer(token))).status == 403
    after = await client.get("/console", headers=session_cookie(token), allow_redirects=False)
    assert after.status == 303
    assert after.headers["Location"] == "/console/sign-in"


async def test_a_wrong_password_is_told_in_words(gateways: StartGateway) -> None:
    client = await gateways()
    await add_staff(client, "ada@example.com")
    for email, password in (("ada@example.com", "wrong password"), ("nobody@example.com", "x")):
        response = await post_sign_in(client, email, password)
        assert response.status == 401
        text = await response.text()
        assert "Wrong email or password." in text
        assert 'role="alert"' in text
        assert "console_session" not in cookies_of(response)


@pytest.mark.parametrize(
    ("email", "password", "missing", "words"),
    [
        ("", "a password", "email", "Enter your email."),
        ("ada@example.com", "", "password", "Enter your password."),
    ],
)
async def test_an_empty_field_is_named_next_to_it(
    gateways: StartGateway, email: str, password: str, missing: str, words: str
) -> None:
    client = await gateways()
    await add_staff(client, "ada@example.com")
    response = await post_sign_in(client, email, password)
    assert response.status == 400
    text = await response.text()
    assert "Wrong email or password." not in text
    assert f'<p class="field-error" id="f-{missing}-error">{words}</p>' in text
    assert f'aria-describedby="f-{missing}-error"' in text
    assert f'href="#f-{missing}"' in text  # the alert summary links to the field
    assert "console_session" not in cookies_of(response)


async def test_a_throttled_sign_in_is_told_in_words(gateways: StartGateway) -> None:
    client = await gateways(login_failures_per_account_per_minute=2)
    await add_staff(client, "ada@example.com")
    statuses = []
    for _ in range(3):
        response = await post_sign_in(client, "ada@example.com", "wrong password")
        statuses.append(response.status)
    assert statuses == [401, 401, 429]
    assert int(response.headers["Retry-After"]) >= 1
    text = await response.text()
    assert "Too many sign-in attempts" in text
    assert "try again" in text
    # Throttled: even the right password is not checked until the window ends.
    right = await post_sign_in(client, "ada@example.com")
    assert right.status == 429
    assert "console_session" not in cookies_of(right)


@pytest.mark.parametrize(
    "wanted",
    [
        "https://evil.example/console",
        "//evil.example/console",
        "/\\evil.example",
        "\\\\evil.example",
        "/api/v1/status",
        "javascript:alert(1)",
        "/console/../api/v1/status",
        "/console/%2e%2e/api",
        "/consolex",
        "/console/sign-out",
    ],
)
async def test_next_never_leaves_the_console(gateways: StartGateway, wanted: str) -> None:
    client = await gateways()
    await add_staff(client, "ada@example.com")
    page = await client.get("/console/sign-in", params={"next": wanted})
    assert 'name="next" value="/console"' in await page.text()
    response = await post_sign_in(client, "ada@example.com", next_path=wanted)
    assert response.status == 303
    assert response.headers["Location"] == "/console"


def test_safe_next_keeps_a_console_path_with_its_query() -> None:
    assert safe_next("/console/promotions?page=2&q=x") == "/console/promotions?page=2&q=x"
    assert safe_next("/console") == "/console"
    assert safe_next(None) == "/console"
    assert safe_next("/console/sign-in?next=//evil") == "/console"


async def test_a_page_without_a_session_goes_to_sign_in(gateways: StartGateway) -> None:
    client = await gateways()
    for cookie in ({}, {"Cookie": "console_session=gst_forged"}, {"Cookie": "console_session=x"}):
        response = await client.get("/console", headers=cookie, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/console/sign-in"
