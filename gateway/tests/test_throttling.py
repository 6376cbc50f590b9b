"""Failed credentials are throttled per client address and per account, and throttling never
refuses a valid credential; the client address is the forwarded one only behind a trusted
proxy (SPEC section 2)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_dev.gateway_fixtures import (
    ADMIN,
    TEST_ADMIN_TOKEN,
    TEST_PASSWORD,
    StartGateway,
    basic,
    bearer,
    create_token,
    register_and_login,
    settings_in_front_of,
    upstream_url,
)
from coupon_dev.testing.prometheus import by_label
from gateway.app import create_app

PATH = "/v2/customers/1"
TRUSTED = {"trusted_proxies": "127.0.0.1/32"}


def sent_by(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a request the trusted proxy (this test, on 127.0.0.1) forwards for
    ``address``."""
    return {**(headers or {}), "X-Forwarded-For": address}


async def lookups(client: TestClient[Any, Any]) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    return by_label(text, "gateway_credential_lookups_total", "result")


async def test_valid_credentials_are_served_from_an_address_over_its_failure_budget(
    gateways: StartGateway,
) -> None:
    first = await gateways(auth_failures_per_minute=3)
    second = await gateways(auth_failures_per_minute=3)
    token = await create_token(first, "pos", ["GET /v2/customers/{id}"])
    user_token = await register_and_login(first, "ann@example.com")
    for guess in ("wrong-1", "wrong-2", "wrong-3"):
        assert (await first.get(PATH, headers=bearer(guess))).status == 403
    for client in (first, second):
        refused = await client.get(PATH, headers=bearer("wrong-4"))
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await refused.json())["errors"][0]["code"] == 429
    # The second replica has never resolved these credentials (nothing cached there).
    for client in (second, first):
        for headers in (
            ADMIN,
            basic("bootstrap-admin", TEST_ADMIN_TOKEN),
            bearer(token["token"]),
            basic("pos", token["token"]),
        ):
            assert (await client.get(PATH, headers=headers)).status == 200, headers
        me = await client.get("/api/v1/users/me", headers=bearer(user_token))
        assert me.status == 200
    # What stays throttled is guessing: the next wrong secret is still refused.
    for headers in (basic("bootstrap-admin", "wrong-5"), basic("pos", "wrong-6")):
        assert (await second.get(PATH, headers=headers)).status == 429


async def test_unknown_secrets_from_a_throttled_address_are_refused_without_a_lookup(
    gateways: StartGateway,
) -> None:
    client = await gateways(auth_failures_per_minute=2)
    token = await create_token(client, "late", ["GET /v2/customers/{id}"])
    for guess in ("wrong-1", "wrong-2"):
        assert (await client.get(PATH, headers=bearer(guess))).status == 403
    before = await lookups(client)
    assert before["unknown"] == 2
    forged = token["token"][:-4] + "AAAA"  # a generated token's shape, not one the gateway made
    for headers in (
        bearer("wrong-3"),
        bearer(forged),
        basic("late", forged),
        basic("bootstrap-admin", "wrong-4"),
        {"Authorization": "Basic !!!"},
    ):
        assert (await client.get(PATH, headers=headers)).status == 429, headers
    assert await lookups(client) == before
    # A token the gateway made is still looked up, and passes.
    assert (await client.get(PATH, headers=bearer(token["token"]))).status == 200
    assert (await lookups(client))["found"] == before.get("found", 0) + 1


async def test_per_address_limits_use_the_client_a_trusted_proxy_forwards_for(
    gateways: StartGateway,
) -> None:
    client = await gateways(auth_failures_per_minute=2, **TRUSTED)
    for guess in ("wrong-1", "wrong-2"):
        response = await client.get(PATH, headers=sent_by("198.51.100.7", bearer(guess)))
        assert response.status == 403
    assert (await client.get(PATH, headers=sent_by("198.51.100.7", bearer("x")))).status == 429
    # Another client behind the same proxy is not throttled for it...
    assert (await client.get(PATH, headers=sent_by("198.51.100.8", bearer("x")))).status == 403
    # ...and a client cannot get out by naming another address before its own: the right-most
    # address the trusted proxy did not add is the client.
    spoofed = sent_by("203.0.113.1, 198.51.100.7", bearer("x"))
    assert (await client.get(PATH, headers=spoofed)).status == 429
    # Proxies in the trusted set are skipped from the right.
    chained = await gateways(auth_failures_per_minute=2, trusted_proxies="127.0.0.1,10.0.0.0/8")
    hops = sent_by("198.51.100.7, 10.1.2.3", bearer("x"))
    assert (await chained.get(PATH, headers=hops)).status == 429


async def test_forwarded_addresses_are_ignored_unless_the_peer_is_a_trusted_proxy(
    gateways: StartGateway,
) -> None:
    client = await gateways(auth_failures_per_minute=2)
    for address in ("198.51.100.1", "198.51.100.2"):
        response = await client.get(PATH, headers=sent_by(address, bearer("x")))
        assert response.status == 403
    # All three came from 127.0.0.1, whatever they claimed.
    refused = await client.get(PATH, headers=sent_by("198.51.100.3", bearer("x")))
    assert refused.status == 429


async def test_the_forwarded_header_is_ignored_unless_the_peer_is_a_trusted_proxy(
    gateways: StartGateway,
) -> None:
    client = await gateways(
        auth_failures_per_minute=2, trusted_proxies="10.0.0.0/8", trusted_proxy_header="Forwarded"
    )
    for forwarded in ("for=198.51.100.1", "for=198.51.100.2"):
        headers = {"Forwarded": forwarded, **bearer("x")}
        assert (await client.get(PATH, headers=headers)).status == 403
    headers = {"Forwarded": "for=198.51.100.3", **bearer("x")}
    assert (await client.get(PATH, headers=headers)).status == 429


async def test_the_forwarded_header_is_read_when_the_proxies_write_it(
    gateways: StartGateway,
) -> None:
    client = await gateways(auth_failures_per_minute=1, trusted_proxy_header="Forwarded", **TRUSTED)
    first = {"Forwarded": 'for="[2001:db8::7]:4711";proto=https', **bearer("x")}
    assert (await client.get(PATH, headers=first)).status == 403
    again = {"Forwarded": 'for=198.51.100.1, for="[2001:db8::7]"', **bearer("x")}
    assert (await client.get(PATH, headers=again)).status == 429
    # In this mode X-Forwarded-For is the client's own word: not believed.
    elsewhere = {"Forwarded": "for=198.51.100.9", **sent_by("2001:db8::7", bearer("x"))}
    assert (await client.get(PATH, headers=elsewhere)).status == 403


async def test_the_anonymous_limit_is_per_client_behind_a_trusted_proxy(
    gateways: StartGateway,
) -> None:
    client = await gateways(anonymous_rate_limit_per_minute=2, **TRUSTED)
    body = {"email": "cat@example.com", "password": TEST_PASSWORD}
    register = await client.post("/api/v1/users/register", json=body, headers=sent_by("192.0.2.1"))
    assert register.status == 201
    login = "/api/v1/users/login"
    assert (await client.post(login, json=body, headers=sent_by("192.0.2.1"))).status == 200
    assert (await client.post(login, json=body, headers=sent_by("192.0.2.1"))).status == 429
    assert (await client.post(login, json=body, headers=sent_by("192.0.2.2"))).status == 200


async def test_upstreams_see_only_forwarded_addresses_the_gateway_vouches_for(
    aiohttp_server: Any, aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    async def seen(request: web.Request) -> web.Response:
        return web.json_response({"forwardedFor": request.headers.get("X-Forwarded-For")})

    upstream = web.Application()
    upstream.router.add_route("*", "/{tail:.*}", seen)
    url = upstream_url(await aiohttp_server(upstream))
    cases = [
        ({}, "6.6.6.6", "127.0.0.1"),
        (TRUSTED, "6.6.6.6, 198.51.100.7", "198.51.100.7, 127.0.0.1"),
        (TRUSTED, None, "127.0.0.1"),
    ]
    for extra, sent, expected in cases:
        client = await aiohttp_client(create_app(settings_in_front_of(url, **service_env, **extra)))
        headers = ADMIN if sent is None else sent_by(sent, ADMIN)
        response = await client.get(PATH, headers=headers)
        assert response.status == 200
        assert (await response.json())["forwardedFor"] == expected, (extra, sent)


WRONG = "guess-guess"


def _login(email: str, password: str = WRONG) -> dict[str, str]:
    return {"email": email, "password": password}


async def test_failed_logins_are_throttled_per_account_across_addresses(
    gateways: StartGateway,
) -> None:
    # The finding: 40 wrong passwords spread over 10 addresses were never throttled.
    client = await gateways(**TRUSTED)
    await register_and_login(client, "eve@example.com")
    statuses = []
    for attempt in range(40):
        address = f"198.51.100.{attempt % 10}"
        response = await client.post(
            "/api/v1/users/login", json=_login("eve@example.com"), headers=sent_by(address)
        )
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert (await response.json())["status"] == "error"
    assert statuses == [401] * 10 + [429] * 30
    # An address that guessed wrong on this account gets no more tries, right or wrong...
    right = _login("eve@example.com", TEST_PASSWORD)
    guessed = await client.post("/api/v1/users/login", json=right, headers=sent_by("198.51.100.3"))
    assert guessed.status == 429
    # ...while the owner, from an address that did not, still logs in: a stranger's guesses
    # do not lock the account.
    owner = await client.post("/api/v1/users/login", json=right, headers=sent_by("203.0.113.5"))
    assert owner.status == 200


async def test_an_unknown_email_is_throttled_exactly_like_a_wrong_password(
    gateways: StartGateway,
) -> None:
    client = await gateways(login_failures_per_account_per_minute=3, **TRUSTED)
    await register_and_login(client, "bob@example.com")
    answers: dict[str, list[tuple[int, Any, bool]]] = {}
    for email in ("bob@example.com", "nobody@example.com"):
        answers[email] = []
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.1"):
            response = await client.post(
                "/api/v1/users/login", json=_login(email), headers=sent_by(address)
            )
            answers[email].append(
                (response.status, await response.json(), "Retry-After" in response.headers)
            )
    assert answers["bob@example.com"] == answers["nobody@example.com"]
    assert [status for status, _, _ in answers["bob@example.com"]] == [401, 401, 401, 429, 429]
