"""``/api/v1/staff`` and ``/api/v1/staff-roles`` (SPEC section 11): staff accounts whose roles
are named whitelists; a caller grants no role beyond its own whitelist; the last active admin
stays; a change of role, password or standing ends the account's sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, get_args

import asyncpg
import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from coupon_core.routes import PLATFORM
from coupon_dev.gateway_fixtures import ADMIN, TEST_PASSWORD, StartGateway, bearer, create_token
from coupon_dev.testing.poll import until
from gateway.domain.roles import ROLES, RoleName
from gateway.domain.whitelist import normalize_entries
from gateway.sessions import sign_in

STAFF = "/api/v1/staff"
OUT_FIELDS = {"id", "email", "name", "role", "active", "createdAt", "lastSignInAt"}


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app: web.Application | None = client.app
    assert app is not None
    return app


async def create(
    client: TestClient[Any, Any],
    email: str,
    role: str,
    headers: dict[str, str] = ADMIN,
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        STAFF,
        json={"email": email, "password": TEST_PASSWORD, "role": role, **extra},
        headers=headers,
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def crm_error(response: ClientResponse, status: int, code: str) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"status", "message", "code"}
    assert (body["status"], body["code"]) == ("error", code)
    message: str = body["message"]
    return message


def test_every_role_entry_is_an_endpoint_in_the_tables_spelling() -> None:
    assert list(ROLES) == list(get_args(RoleName)) == ["admin", "marketer", "support"]
    for role, whitelist in ROLES.items():
        assert normalize_entries(whitelist, PLATFORM) == list(whitelist), role
    assert ROLES["admin"] == ("*",)
    assert "POST /v2/coupon/redemptions/{redemptionId}/reverse" in ROLES["support"]
    assert "POST /v2/coupon/redemptions/{redemptionId}/reverse" not in ROLES["marketer"]
    # Only admins reach the staff accounts, the tokens and the audit log.
    for role in ("marketer", "support"):
        assert not [e for e in ROLES[role] if "/staff" in e or "tokens" in e or "audit" in e]


async def test_create_list_show_update_and_delete(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways()
    created = await create(client, "Mia@Example.com", "marketer", name="Mia Rossi")
    assert set(created) == OUT_FIELDS
    assert created["email"] == "mia@example.com"
    assert (created["name"], created["role"], created["active"]) == ("Mia Rossi", "marketer", True)
    assert created["createdAt"]
    assert created["lastSignInAt"] is None
    conn = await asyncpg.connect(service_env["database_url"])
    try:
        stored = await conn.fetchval("SELECT password_hash FROM staff WHERE id = $1", created["id"])
    finally:
        await conn.close()
    assert stored.startswith("$argon2")
    assert TEST_PASSWORD not in stored

    shown = await client.get(f"{STAFF}/{created['id']}", headers=ADMIN)
    assert shown.status == 200
    assert await shown.json() == created

    for index in range(3):
        await create(client, f"sam{index}@example.com", "support")
    first = await (await client.get(STAFF, params={"limit": "2"}, headers=ADMIN)).json()
    assert [s["email"] for s in first["items"]] == ["mia@example.com", "sam0@example.com"]
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 4, "pages": 2}
    second = await (
        await client.get(STAFF, params={"limit": "2", "page": "2"}, headers=ADMIN)
    ).json()
    assert [s["email"] for s in second["items"]] == ["sam1@example.com", "sam2@example.com"]
    found = await (await client.get(STAFF, params={"email": "SAM1"}, headers=ADMIN)).json()
    assert [s["email"] for s in found["items"]] == ["sam1@example.com"]
    assert found["pagination"]["total"] == 1

    url = f"{STAFF}/{created['id']}"
    patched = await client.patch(url, json={"name": "Mia R.", "role": "support"}, headers=ADMIN)
    assert patched.status == 200
    assert {k: v for k, v in (await patched.json()).items() if k in ("name", "role")} == {
        "name": "Mia R.",
        "role": "support",
    }
    cleared = await (await client.patch(url, json={"name": None}, headers=ADMIN)).json()
    assert cleared["name"] is None
    assert cleared["role"] == "support"

    deleted = await client.delete(url, headers=ADMIN)
    assert deleted.status == 200
    assert (await deleted.json())["active"] is False
    assert (await (await client.get(url, headers=ADMIN)).json())["active"] is False
    # A disabled account comes back by PATCH.
    back = await client.patch(url, json={"active": True}, headers=ADMIN)
    assert (await back.json())["active"] is True

    for missing in (f"{STAFF}/999", f"{STAFF}/abc", f"{STAFF}/99999999999999999999"):
        for method in ("GET", "PATCH", "DELETE"):
            answer = await client.request(method, missing, json={}, headers=ADMIN)
            await crm_error(answer, 404, "staff_not_found")


async def test_bad_input_gets_a_400_in_the_crm_envelope(gateways: StartGateway) -> None:
    client = await gateways()
    good = {"email": "ok@example.com", "password": TEST_PASSWORD, "role": "support"}
    for body, field in (
        ({k: v for k, v in good.items() if k != "email"}, "email"),
        ({**good, "email": "not-an-email"}, "email"),
        ({**good, "password": "short"}, "password"),
        ({**good, "role": "root"}, "role"),
        ({**good, "role": None}, "role"),
        ({**good, "name": 5}, "name"),
        ({**good, "active": True}, "active"),
        ({**good, "name": "a\x07b"}, "name"),
    ):
        message = await crm_error(
            await client.post(STAFF, json=body, headers=ADMIN), 400, "invalid_input"
        )
        assert field in message, (body, message)
    not_json = await client.post(STAFF, data=b"{", headers=ADMIN)
    await crm_error(not_json, 400, "invalid_input")
    account = await create(client, good["email"], good["role"])
    url = f"{STAFF}/{account['id']}"
    for body, field in (
        ({"active": "yes"}, "active"),
        ({"role": "owner"}, "role"),
        ({"password": "short"}, "password"),
        ({"email": "new@example.com"}, "email"),
    ):
        message = await crm_error(
            await client.patch(url, json=body, headers=ADMIN), 400, "invalid_input"
        )
        assert field in message, (body, message)
    for params in ({"limit": "0"}, {"limit": "101"}, {"page": "0"}, {"page": "x"}, {"sort": "id"}):
        await crm_error(await client.get(STAFF, params=params, headers=ADMIN), 400, "invalid_input")


async def test_an_email_is_taken_whatever_its_case(gateways: StartGateway) -> None:
    client = await gateways()
    await create(client, "Dup@example.com", "support")
    again = await client.post(
        STAFF,
        json={"email": "dup@EXAMPLE.com", "password": TEST_PASSWORD, "role": "marketer"},
        headers=ADMIN,
    )
    message = await crm_error(again, 409, "staff_exists")
    assert "dup@example.com" in message


async def test_roles_lists_each_role_with_its_whitelist(gateways: StartGateway) -> None:
    client = await gateways()
    response = await client.get("/api/v1/staff-roles", headers=ADMIN)
    assert response.status == 200
    assert await response.json() == {
        "items": [{"name": name, "whitelist": list(whitelist)} for name, whitelist in ROLES.items()]
    }


async def test_a_caller_grants_no_role_beyond_its_own_whitelist(gateways: StartGateway) -> None:
    client = await gateways()
    manager = await create_token(
        client,
        "staff-manager",
        [
            *ROLES["marketer"],
            "POST /api/v1/staff",
            "PATCH /api/v1/staff/{id}",
            "DELETE /api/v1/staff/{id}",
        ],
    )
    auth = bearer(manager["token"])
    marketer = await create(client, "m@example.com", "marketer", headers=auth)
    for role in ("admin", "support"):
        refused = await client.post(
            STAFF,
            json={"email": f"{role}@example.com", "password": TEST_PASSWORD, "role": role},
            headers=auth,
        )
        message = await crm_error(refused, 403, "role_exceeds_caller")
        assert f"'{role}'" in message
    promote = await client.patch(f"{STAFF}/{marketer['id']}", json={"role": "admin"}, headers=auth)
    await crm_error(promote, 403, "role_exceeds_caller")
    # An account whose role reaches beyond the caller's whitelist is not the caller's to
    # change, rename or disable.
    admin = await create(client, "a@example.com", "admin")
    for method, body in (
        ("PATCH", {"name": "x"}),
        ("PATCH", {"password": "another password"}),
        ("DELETE", None),
    ):
        answer = await client.request(method, f"{STAFF}/{admin['id']}", json=body, headers=auth)
        await crm_error(answer, 403, "cannot_manage_staff")
    assert (await (await client.get(f"{STAFF}/{admin['id']}", headers=ADMIN)).json())["active"]
    # A '*' caller makes admins; so does an admin's session.
    session = await sign_in(app_of(client), "a@example.com", TEST_PASSWORD, "192.0.2.1", None)
    await create(client, "b@example.com", "admin", headers=bearer(session.token))
    # A marketer's session reaches no staff endpoint at all.
    own = await sign_in(app_of(client), "m@example.com", TEST_PASSWORD, "192.0.2.1", None)
    listing = await client.get(STAFF, headers=bearer(own.token))
    assert listing.status == 403


async def test_the_last_active_admin_stays(gateways: StartGateway) -> None:
    client = await gateways()
    first = await create(client, "first@example.com", "admin")
    url = f"{STAFF}/{first['id']}"
    for method, body in (
        ("PATCH", {"role": "marketer"}),
        ("PATCH", {"active": False}),
        ("DELETE", None),
    ):
        answer = await client.request(method, url, json=body, headers=ADMIN)
        message = await crm_error(answer, 409, "last_admin")
        assert "last active admin" in message
    # Its own session cannot do it either.
    session = await sign_in(app_of(client), "first@example.com", TEST_PASSWORD, "192.0.2.1", None)
    own = await client.delete(url, headers=bearer(session.token))
    await crm_error(own, 409, "last_admin")
    # Other changes are fine.
    assert (await client.patch(url, json={"name": "First"}, headers=ADMIN)).status == 200
    second = await create(client, "second@example.com", "admin")
    assert (await client.patch(url, json={"role": "support"}, headers=ADMIN)).status == 200
    await crm_error(
        await client.delete(f"{STAFF}/{second['id']}", headers=ADMIN), 409, "last_admin"
    )
    # A disabled admin does not count.
    third = await create(client, "third@example.com", "admin")
    assert (await client.delete(f"{STAFF}/{third['id']}", headers=ADMIN)).status == 200
    demote = await client.patch(f"{STAFF}/{second['id']}", json={"role": "support"}, headers=ADMIN)
    await crm_error(demote, 409, "last_admin")


async def status_of(client: TestClient[Any, Any], token: str) -> int:
    return (await client.get("/api/v1/status", headers=bearer(token))).status


def ended(client: TestClient[Any, Any], token: str) -> Callable[[], Awaitable[int]]:
    """A probe for ``until``: the status the session's next request gets."""
    return lambda: status_of(client, token)


@pytest.mark.parametrize(
    ("change", "ends"),
    [
        ({"role": "marketer"}, True),
        ({"active": False}, True),
        ({"password": "a new password"}, True),
        ({"name": "Renamed"}, False),
        ({"role": "support"}, False),  # the role it has: nothing changes
    ],
)
async def test_a_change_of_role_password_or_standing_ends_the_sessions(
    gateways: StartGateway, change: dict[str, Any], ends: bool
) -> None:
    client = await gateways()
    account = await create(client, "sue@example.com", "support")
    sessions = [
        await sign_in(app_of(client), "sue@example.com", TEST_PASSWORD, "192.0.2.1", None)
        for _ in range(2)
    ]
    for session in sessions:
        assert await status_of(client, session.token) == 200
    answer = await client.patch(f"{STAFF}/{account['id']}", json=change, headers=ADMIN)
    assert answer.status == 200
    for session in sessions:
        if ends:
            await until(ended(client, session.token), "the session ended", 5, equals=403)
        else:
            assert await status_of(client, session.token) == 200


async def test_delete_ends_the_sessions(gateways: StartGateway) -> None:
    client = await gateways()
    account = await create(client, "dan@example.com", "support")
    session = await sign_in(app_of(client), "dan@example.com", TEST_PASSWORD, "192.0.2.1", None)
    assert (await client.delete(f"{STAFF}/{account['id']}", headers=ADMIN)).status == 200
    await until(ended(client, session.token), "the session ended", 5, equals=403)
