"""A token can never grant what it cannot do (SPEC section 2): a token creates and edits
whitelists only within its own, and manages only tokens whose whitelist is within its own, so
only a ``*`` token manages ``*`` tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from coupon_dev.gateway_fixtures import ADMIN, StartGateway, bearer, create_token

TOKENS = "/api/v1/api-tokens"


async def assert_refused(response: ClientResponse, code: str) -> None:
    assert response.status == 403
    body = await response.json()
    assert body["status"] == "error"
    assert body["code"] == code
    assert body["message"]


async def stored(client: Any, token_id: int) -> dict[str, Any]:
    response = await client.get(f"{TOKENS}/{token_id}", headers=ADMIN)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_a_token_cannot_widen_its_own_whitelist(gateways: StartGateway) -> None:
    client = await gateways()
    patcher = await create_token(client, "patcher", ["PATCH /api/v1/api-tokens/{id}"])
    auth = bearer(patcher["token"])
    url = f"{TOKENS}/{patcher['id']}"
    for whitelist in (
        ["*"],
        ["GET /api/v1/api-tokens"],
        ["PATCH /api/v1/api-tokens/{id}", "POST /v2/coupon/issue"],
    ):
        response = await client.patch(url, json={"whitelist": whitelist}, headers=auth)
        await assert_refused(response, "whitelist_exceeds_caller")
    assert (await stored(client, patcher["id"]))["whitelist"] == ["PATCH /api/v1/api-tokens/{id}"]
    assert (await client.get(TOKENS, headers=auth)).status == 403
    # Keeping or narrowing its own whitelist is within it.
    kept = await client.patch(
        url, json={"whitelist": ["patch /api/v1/api-tokens/{x}"]}, headers=auth
    )
    assert kept.status == 200
    assert (await kept.json())["whitelist"] == ["PATCH /api/v1/api-tokens/{id}"]


async def test_a_token_creates_tokens_only_within_its_own_whitelist(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    creator = await create_token(
        client, "creator", ["POST /api/v1/api-tokens", "POST /v2/coupon/issue"]
    )
    auth = bearer(creator["token"])
    for body in (
        {"name": "wild", "whitelist": ["*"]},
        {"name": "reader", "whitelist": ["GET /v2/customers/{id}"]},
        {"name": "lister", "whitelist": ["POST /v2/coupon/issue", "GET /api/v1/api-tokens"]},
    ):
        await assert_refused(
            await client.post(TOKENS, json=body, headers=auth), "whitelist_exceeds_caller"
        )
    child = await client.post(
        TOKENS, json={"name": "child", "whitelist": ["POST /v2/coupon/issue"]}, headers=auth
    )
    assert child.status == 201
    bare = await client.post(TOKENS, json={"name": "bare"}, headers=auth)
    assert bare.status == 201
    listed = await (await client.get(TOKENS, headers=ADMIN)).json()
    assert [t["name"] for t in listed["items"]] == ["bootstrap-admin", "creator", "child", "bare"]
    # The admin (*) grants anything, * included.
    assert (await client.post(TOKENS, json={"name": "wild", "whitelist": ["*"]})).status == 401
    wild = await client.post(TOKENS, json={"name": "wild", "whitelist": ["*"]}, headers=ADMIN)
    assert wild.status == 201


async def test_only_a_star_token_manages_a_star_token(gateways: StartGateway) -> None:
    client = await gateways()
    manager = await create_token(
        client, "manager", ["PATCH /api/v1/api-tokens/{id}", "DELETE /api/v1/api-tokens/{id}"]
    )
    auth = bearer(manager["token"])
    star = await create_token(client, "star", ["*"])
    for target in (star["id"], 1):  # 1: the bootstrap admin
        url = f"{TOKENS}/{target}"
        body: object
        for body in ({"whitelist": []}, {"rateLimit": 1}):
            await assert_refused(
                await client.patch(url, json=body, headers=auth), "cannot_manage_token"
            )
        await assert_refused(await client.delete(url, headers=auth), "cannot_manage_token")
        unchanged = await stored(client, target)
        assert (unchanged["whitelist"], unchanged["rateLimit"], unchanged["revokedAt"]) == (
            ["*"],
            None,
            None,
        )
    assert (await client.get("/v2/customers/1", headers=bearer(star["token"]))).status == 200
    # A * token manages it.
    url = f"{TOKENS}/{star['id']}"
    assert (await client.patch(url, json={"whitelist": []}, headers=ADMIN)).status == 200
    assert (await client.delete(url, headers=ADMIN)).status == 200


async def test_a_token_manages_only_tokens_within_its_own_whitelist(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    manager = await create_token(
        client,
        "manager",
        [
            "PATCH /api/v1/api-tokens/{id}",
            "DELETE /api/v1/api-tokens/{id}",
            "POST /v2/coupon/issue",
        ],
    )
    auth = bearer(manager["token"])
    peer = await create_token(client, "peer", ["POST /v2/coupon/issue"])
    stronger = await create_token(client, "stronger", ["GET /v2/customers/{id}"])
    url = f"{TOKENS}/{stronger['id']}"
    await assert_refused(
        await client.patch(url, json={"whitelist": []}, headers=auth), "cannot_manage_token"
    )
    await assert_refused(await client.delete(url, headers=auth), "cannot_manage_token")
    assert (await stored(client, stronger["id"]))["whitelist"] == ["GET /v2/customers/{id}"]
    url = f"{TOKENS}/{peer['id']}"
    patched = await client.patch(url, json={"whitelist": [], "rateLimit": 5}, headers=auth)
    assert patched.status == 200
    assert (await client.delete(url, headers=auth)).status == 200
