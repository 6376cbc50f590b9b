"""The gateway's own endpoints (CRM family) on bad input (SPEC section 7): strict types, a
NUL in a query parameter, and bodies that are not JSON, except the login's form."""

from __future__ import annotations

from typing import Any

import pytest
from coupon_dev.gateway_fixtures import ADMIN, TEST_PASSWORD, StartGateway, register_and_login


async def _crm_error(response: Any, status: int, code: str) -> None:
    assert response.status == status, await response.text()
    body = await response.json()
    assert (body["status"], body["code"]) == ("error", code)
    assert body["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "rateLimit": "12"},
        {"name": "x", "rateLimit": True},
        {"name": "x", "rateLimit": 12.0},
    ],
)
async def test_a_number_is_a_number(gateways: StartGateway, body: dict[str, Any]) -> None:
    client = await gateways()
    response = await client.post("/api/v1/api-tokens", json=body, headers=ADMIN)
    await _crm_error(response, 400, "invalid_input")
    listed = await (await client.get("/api/v1/api-tokens", headers=ADMIN)).json()
    assert listed["total"] == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
async def test_a_body_that_is_not_json_is_415(gateways: StartGateway, content_type: str) -> None:
    client = await gateways()
    headers = {"Content-Type": content_type}
    response = await client.post(
        "/api/v1/api-tokens", data=b'{"name": "plain"}', headers={**ADMIN, **headers}
    )
    await _crm_error(response, 415, "unsupported_media_type")
    registered = await client.post(
        "/api/v1/users/register",
        data=b'{"email": "plain@example.com", "password": "long enough pass"}',
        headers=headers,
    )
    await _crm_error(registered, 415, "unsupported_media_type")
    await register_and_login(client, "json@example.com")
    login = await client.post(
        "/api/v1/users/login",
        data=b'{"email": "json@example.com", "password": "%s"}' % TEST_PASSWORD.encode(),
        headers=headers,
    )
    await _crm_error(login, 415, "unsupported_media_type")
    listed = await (await client.get("/api/v1/api-tokens", headers=ADMIN)).json()
    assert listed["total"] == 1


async def test_login_still_takes_a_form_or_json(gateways: StartGateway) -> None:
    client = await gateways()
    await register_and_login(client, "both@example.com")
    fields = {"email": "both@example.com", "password": TEST_PASSWORD}
    assert (await client.post("/api/v1/users/login", data=fields)).status == 200
    assert (await client.post("/api/v1/users/login", json=fields)).status == 200


async def test_nul_in_a_query_parameter_is_400(gateways: StartGateway) -> None:
    client = await gateways()
    response = await client.get("/api/v1/api-tokens?page=%00", headers=ADMIN)
    await _crm_error(response, 400, "invalid_input")
    assert "NUL" in (await response.json())["message"]
