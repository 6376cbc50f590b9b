"""The audit log: what the gateway records of a change (who, via what, the endpoint and its
target, the request body, the resource before and the answer after, secrets redacted),
what it does not record, how it is read (/api/v1/audit-log) and how it is removed.

A real gateway (PostgreSQL, Redis) in front of a stub service that keeps promotions and
answers what it was sent, with the caller it verified from the signed identity."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core import retention
from coupon_core.identity import IDENTITY_HEADER, IdentityError, verify_identity
from coupon_core.keys import METRICS, PG_POOL
from coupon_dev.gateway_fixtures import (
    TEST_PASSWORD,
    ThroughGateway,
    bearer,
    create_token,
    register_and_login,
)
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from coupon_dev.testing.prometheus import samples
from gateway.db import staff as staff_db
from gateway.domain.audit import AUDITED, CHECKOUT, REDACTED, redact, target_of
from gateway.domain.roles import RoleName
from gateway.keys import PASSWORDS
from gateway.sessions import sign_in
from gateway.workers.retention import jobs as retention_jobs

Client = TestClient[Any, Any]
LOG = "/api/v1/audit-log"
PROMOTION = "PATCH /api/v1/promotions/{code}"
# What the stub answers a GET of any path but a promotion's: a resource holding secrets.
STORED = {"id": 7, "secret": "whsec_stored", "hooks": [{"apiToken": "tok_stored", "n": 1}]}


def _caller(request: web.Request, body: bytes) -> dict[str, str] | None:
    try:
        signed = verify_identity(
            request.headers.get(IDENTITY_HEADER),
            method=request.method,
            path=request.rel_url.raw_path,
            query=request.rel_url.raw_query_string,
            body=body,
            secret=TEST_IDENTITY_SECRET.encode(),
            max_age_s=30,
        )
    except IdentityError:
        return None
    p = signed.principal
    return {"kind": p.kind, "id": p.id, "name": p.name}


def stub_service(promotions: dict[str, dict[str, Any]]) -> web.Application:
    """Promotions at /api/v1/promotions/{code} (GET, PATCH, DELETE); any other GET answers
    STORED (a 500 for a path ending in /broken); anything else answers 200 with the body it
    was sent."""

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        body: Any = await request.json() if raw else None
        seen = _caller(request, raw)
        parts = request.path.split("/")
        if len(parts) == 5 and request.path.startswith("/api/v1/promotions/"):
            code = parts[4]
            if code not in promotions:
                return web.json_response({"code": 404, "message": "no such promotion"}, status=404)
            if request.method == "DELETE":
                del promotions[code]
                return web.Response(status=204)
            if request.method == "PATCH":
                promotions[code] = {**promotions[code], **(body or {})}
            return web.json_response({**promotions[code], "seenBy": seen})
        if request.method == "GET" and request.path.endswith("/broken"):
            return web.json_response({"errors": [{"code": 500, "message": "down"}]}, status=500)
        if request.method == "GET":
            return web.json_response(STORED)
        return web.json_response(body if body is not None else {"ok": True})

    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _gateway(
    through_gateway: ThroughGateway, **settings: Any
) -> tuple[Client, dict[str, Any]]:
    promotions = {
        "SUMMER": {"code": "SUMMER", "name": "Summer"},
        "WINTER": {"code": "WINTER", "name": "Winter"},
    }
    client = await through_gateway(stub_service(promotions), **settings)
    return client, promotions


async def _log(client: Client, **query: Any) -> dict[str, Any]:
    response = await client.get(LOG, params=query)
    assert response.status == 200, await response.text()
    listing: dict[str, Any] = await response.json()
    return listing


async def _items(client: Client, **query: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await _log(client, **query))["items"]
    return items


async def _table_text(client: Client) -> str:
    text = await client.app[PG_POOL].fetchval("SELECT string_agg(a::text, ' ') FROM audit_log a")
    return str(text or "")


async def _bootstrap_id(client: Client) -> str:
    tokens = await (await client.get("/api/v1/api-tokens")).json()
    return next(str(t["id"]) for t in tokens["items"] if t["name"] == "bootstrap-admin")


async def test_a_promotion_patch_records_who_what_before_and_after(
    through_gateway: ThroughGateway,
) -> None:
    client, promotions = await _gateway(through_gateway)
    changed = await client.patch("/api/v1/promotions/SUMMER", json={"name": "Summer sale"})
    assert changed.status == 200, await changed.text()
    admin = {"kind": "api_token", "id": await _bootstrap_id(client), "name": "bootstrap-admin"}

    [record] = await _items(client)
    assert record == {
        "id": record["id"],
        "at": record["at"],
        "actorKind": "api_token",
        "actorId": admin["id"],
        "actorName": "bootstrap-admin",
        "via": "api",
        "action": PROMOTION,
        "method": "PATCH",
        "template": "/api/v1/promotions/{code}",
        "path": "/api/v1/promotions/SUMMER",
        "target": {"code": "SUMMER"},
        "status": 200,
        "requestBody": {"name": "Summer sale"},
        # Read from the service before the change, signed for the same caller.
        "before": {"code": "SUMMER", "name": "Summer", "seenBy": admin},
        "after": {"code": "SUMMER", "name": "Summer sale", "seenBy": admin},
        "requestId": changed.headers["X-Request-ID"],
    }
    assert promotions["SUMMER"]["name"] == "Summer sale"
    shown = await client.get(f"{LOG}/{record['id']}")
    assert shown.status == 200
    assert await shown.json() == record

    deleted = await client.delete("/api/v1/promotions/WINTER")
    assert deleted.status == 204
    latest = (await _items(client))[0]
    assert latest["action"] == "DELETE /api/v1/promotions/{code}"
    assert latest["before"] == {"code": "WINTER", "name": "Winter", "seenBy": admin}
    assert latest["after"] is None
    assert latest["requestBody"] is None


async def test_token_changes_record_their_bodies_with_secrets_redacted(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    token = await create_token(client, "pos", ["POST /v2/coupon/issue"])
    secret = token["token"]
    edited = await client.patch(f"/api/v1/api-tokens/{token['id']}", json={"rateLimit": 5})
    assert edited.status == 200
    revoked = await client.delete(f"/api/v1/api-tokens/{token['id']}")
    assert revoked.status == 200
    user = await client.post(
        "/api/v1/users", json={"email": "ann@example.com", "password": TEST_PASSWORD}
    )
    assert user.status == 201

    created_user, revoke, edit, create = await _items(client)
    shown = {k: v for k, v in token.items() if k != "token"}
    assert create["action"] == "POST /api/v1/api-tokens"
    assert create["target"] == {}
    assert create["requestBody"] == {"name": "pos", "whitelist": ["POST /v2/coupon/issue"]}
    assert create["after"] == {**shown, "token": "[redacted]"}
    assert create["before"] is None
    # The gateway's own endpoints are read before a change as their GET answers.
    assert edit["target"] == {"id": str(token["id"])}
    assert edit["before"] == shown
    assert edit["after"] == {**shown, "rateLimit": 5}
    assert revoke["before"] == {**shown, "rateLimit": 5}
    assert revoke["after"]["revokedAt"] is not None
    assert created_user["requestBody"] == {"email": "ann@example.com", "password": "[redacted]"}
    stored = await _table_text(client)
    assert secret not in stored
    assert TEST_PASSWORD not in stored


async def test_secrets_are_redacted_at_any_depth_in_body_before_and_after(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    body = {
        "description": "rotated",
        "signing": {"newSecret": "s-new", "keys": [{"previousSecret": "s-old", "kept": "x"}]},
        "password": "pw-1",
        "secretExpiresAt": "2030-01-01T00:00:00Z",
        "tokens": 2,
    }
    changed = await client.patch("/api/v1/webhooks/7", json=body)
    assert changed.status == 200
    assert await changed.json() == body  # the caller gets the answer as it was

    [record] = await _items(client)
    redacted = {
        **body,
        "signing": {
            "newSecret": "[redacted]",
            "keys": [{"previousSecret": "[redacted]", "kept": "x"}],
        },
        "password": "[redacted]",
    }
    assert record["requestBody"] == redacted
    assert record["after"] == redacted
    assert record["before"] == {
        "id": 7,
        "secret": "[redacted]",
        "hooks": [{"apiToken": "[redacted]", "n": 1}],
    }
    stored = await _table_text(client)
    for value in ("s-new", "s-old", "pw-1", "whsec_stored", "tok_stored"):
        assert value not in stored


async def test_a_read_before_that_fails_leaves_before_empty_and_the_change_goes_ahead(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    changed = await client.put("/v2/coupon/series/broken", json={"description": "d"})
    assert changed.status == 200
    [record] = await _items(client)
    assert record["action"] == "PUT /v2/coupon/series/{id}"
    assert record["before"] is None
    assert record["after"] == {"description": "d"}


async def test_refused_and_failed_changes_record_nothing(through_gateway: ThroughGateway) -> None:
    client, _ = await _gateway(through_gateway)
    missing = await client.patch("/api/v1/promotions/NOPE", json={"name": "x"})
    assert missing.status == 404
    invalid = await client.post("/api/v1/api-tokens", json={"name": "bad name!"})
    assert invalid.status == 400
    reader = await create_token(client, "reader", ["GET /api/v1/promotions/{code}"])
    refused = await client.patch(
        "/api/v1/promotions/SUMMER", json={"name": "x"}, headers=bearer(reader["token"])
    )
    assert refused.status == 403
    [only] = await _items(client)  # the token created for the test
    assert only["action"] == "POST /api/v1/api-tokens"


async def test_checkout_calls_reads_and_user_tokens_record_nothing(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    checkout = await create_token(
        client,
        "checkout",
        [
            "POST /v1.1/coupon/redeem",
            "POST /v2/coupon/issue",
            "POST /v2/coupon/issue/multiple",
            "POST /v2/customers",
            "GET /v2/coupon/series",
            "POST /v2/coupon/series",
        ],
    )
    headers = bearer(checkout["token"])
    for path in ("/v1.1/coupon/redeem", "/v2/coupon/issue", "/v2/coupon/issue/multiple"):
        assert (await client.post(path, json={"code": "A"}, headers=headers)).status == 200
    assert (await client.post("/v2/customers", json={}, headers=headers)).status == 200
    assert (await client.get("/v2/coupon/series", headers=headers)).status == 200
    user = await register_and_login(client, "bob@example.com")
    activated = await client.post("/api/v1/coupon/activate", json={}, headers=bearer(user))
    assert activated.status == 200
    assert [r["action"] for r in await _items(client)] == ["POST /api/v1/api-tokens"]

    # The same token's other changes are recorded.
    series = await client.post("/v2/coupon/series", json={"description": "s"}, headers=headers)
    assert series.status == 200
    latest = (await _items(client))[0]
    assert latest["action"] == "POST /v2/coupon/series"
    assert latest["actorName"] == "checkout"


async def test_an_answer_too_large_to_stream_whole_is_recorded_whole(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    long = "x" * (300 * 1024)  # past the proxy's 64 KiB of answers relayed in one write
    changed = await client.patch("/api/v1/promotions/SUMMER", json={"description": long})
    assert changed.status == 200
    assert (await changed.json())["description"] == long
    [record] = await _items(client)
    assert record["after"]["description"] == long


async def test_a_record_that_cannot_be_written_is_logged_and_counted(
    through_gateway: ThroughGateway, caplog: pytest.LogCaptureFixture
) -> None:
    client, promotions = await _gateway(through_gateway)
    pool = client.app[PG_POOL]
    await pool.execute("ALTER TABLE audit_log RENAME TO audit_log_away")
    try:
        with caplog.at_level(logging.ERROR, logger="gateway.audit"):
            changed = await client.patch("/api/v1/promotions/SUMMER", json={"name": "Sale"})
    finally:
        await pool.execute("ALTER TABLE audit_log_away RENAME TO audit_log")
    assert changed.status == 200  # the change was made: its answer goes out
    assert promotions["SUMMER"]["name"] == "Sale"
    [logged] = [r for r in caplog.records if r.name == "gateway.audit"]
    assert logged.levelno == logging.ERROR
    assert changed.headers["X-Request-ID"] in logged.getMessage()
    metrics = samples(await (await client.get("/metrics")).text())
    assert metrics["gateway_audit_write_failures_total", ()] == 1
    assert await _items(client) == []


async def test_the_listing_filters_and_pages(through_gateway: ThroughGateway) -> None:
    client, _ = await _gateway(through_gateway)
    ops = await create_token(
        client, "ops", ["PATCH /api/v1/promotions/{code}", "DELETE /api/v1/promotions/{code}"]
    )
    assert (await client.patch("/api/v1/promotions/SUMMER", json={"name": "a"})).status == 200
    assert (await client.patch("/api/v1/promotions/WINTER", json={"name": "b"})).status == 200
    as_ops = bearer(ops["token"])
    patched = await client.patch("/api/v1/promotions/SUMMER", json={"name": "c"}, headers=as_ops)
    assert patched.status == 200
    assert (await client.delete("/api/v1/promotions/WINTER", headers=as_ops)).status == 204
    everything = await _items(client)
    ids = [r["id"] for r in everything]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert len(ids) == 5  # with the token's creation

    def actions(items: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str]]]:
        return [(r["actorName"], r["method"], r["target"]) for r in items]

    assert actions(await _items(client, actor="ops")) == [
        ("ops", "DELETE", {"code": "WINTER"}),
        ("ops", "PATCH", {"code": "SUMMER"}),
    ]
    assert len(await _items(client, actorKind="api_token")) == 5
    assert await _items(client, actorKind="staff") == []
    assert len(await _items(client, action=PROMOTION)) == 3
    assert actions(await _items(client, target="WINTER")) == [
        ("ops", "DELETE", {"code": "WINTER"}),
        ("bootstrap-admin", "PATCH", {"code": "WINTER"}),
    ]
    assert len(await _items(client, actor="ops", action=PROMOTION)) == 1

    # The token's creation happened two days ago.
    await client.app[PG_POOL].execute(
        "UPDATE audit_log SET at = now() - interval '2 days' WHERE id = $1", ids[-1]
    )
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert [r["id"] for r in await _items(client, since=day_ago)] == ids[:-1]
    assert [r["id"] for r in await _items(client, until=day_ago)] == ids[-1:]

    first = await _log(client, limit=2)
    assert [r["id"] for r in first["items"]] == ids[:2]
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 5, "pages": 3}
    third = await _log(client, limit=2, page=3)
    assert [r["id"] for r in third["items"]] == ids[4:]
    assert (await _log(client, limit=2, page=4))["items"] == []

    for query in (
        {"limit": "101"},
        {"limit": "0"},
        {"page": "0"},
        {"since": "yesterday"},
        {"since": "1700000000"},
        {"actorKind": "user"},
        {"action": "GET /api/v1/promotions"},
        {"sort": "id"},
        {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
    ):
        refused = await client.get(LOG, params=query)
        assert refused.status == 400, query
        answer = await refused.json()
        assert answer["status"] == "error"
        assert answer["code"] == "invalid_input"
    for raw in ("999999", "abc", "-1"):
        missing = await client.get(f"{LOG}/{raw}")
        assert missing.status == 404
        assert (await missing.json())["code"] == "audit_record_not_found"


async def test_only_admins_read_the_audit_log(through_gateway: ThroughGateway) -> None:
    client, _ = await _gateway(through_gateway)
    assert (await client.patch("/api/v1/promotions/SUMMER", json={"name": "a"})).status == 200
    record_id = (await _items(client))[0]["id"]
    manager = await create_token(
        client, "manager", ["GET /api/v1/api-tokens", "PATCH /api/v1/promotions/{code}"]
    )
    for path in (LOG, f"{LOG}/{record_id}"):
        refused = await client.get(path, headers=bearer(manager["token"]))
        assert refused.status == 403
        assert (await refused.json())["code"] == "not_whitelisted"


async def test_retention_removes_only_old_records_in_batches(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway, audit_retention_days=30)
    for n in range(7):
        patched = await client.patch("/api/v1/promotions/SUMMER", json={"name": f"n{n}"})
        assert patched.status == 200
    pool: asyncpg.Pool = client.app[PG_POOL]
    ids = [r["id"] for r in await _items(client)]
    old, young = ids[2:], ids[:2]
    await pool.execute(
        "UPDATE audit_log SET at = now() - interval '31 days' WHERE id = ANY($1::bigint[])", old
    )
    await pool.execute(
        "UPDATE audit_log SET at = now() - interval '29 days' WHERE id = ANY($1::bigint[])", young
    )

    [job] = [job for job in retention_jobs(client.app) if job.name == "audit_log"]
    assert job.lag is not None
    assert await job.lag() >= timedelta(days=1).total_seconds()
    assert [await job.step(2) for _ in range(4)] == [2, 2, 1, 0]
    assert [r["id"] for r in await _items(client)] == young
    assert await job.lag() == 0

    # The pass the gateway runs every RETENTION_INTERVAL_S takes the same job.
    await pool.execute(
        "UPDATE audit_log SET at = now() - interval '40 days' WHERE id = $1", young[0]
    )
    ran = await retention.run_pass(
        pool,
        retention_jobs(client.app),
        service="gateway",
        batch=1000,
        pause_s=0,
        metrics=retention.RetentionMetrics(client.app[METRICS]),
    )
    assert ran
    assert [r["id"] for r in await _items(client)] == young[1:]
    metrics = samples(await (await client.get("/metrics")).text())
    assert metrics["retention_removed_total", (("task", "audit_log"),)] == 1


def test_what_is_recorded_is_decided_by_method_template_and_caller_kind() -> None:
    assert ("PATCH", "/api/v1/promotions/{code}", "api_token") in AUDITED
    assert ("PATCH", "/api/v1/promotions/{code}", "staff") in AUDITED
    assert ("POST", "/api/v1/staff", "api_token") in AUDITED
    # Checkout traffic: recorded for staff only (its own records are the tokens' trail).
    for method, template in CHECKOUT:
        assert (method, template, "api_token") not in AUDITED
        assert (method, template, "staff") in AUDITED
    kinds = {kind for _, _, kind in AUDITED}
    methods = {method for method, _, _ in AUDITED}
    assert kinds == {"api_token", "staff"}
    assert methods == {"POST", "PUT", "PATCH", "DELETE"}
    # Neither user endpoints nor public ones.
    templates = {template for _, template, _ in AUDITED}
    assert "/api/v1/coupon/activate" not in templates
    assert "/api/v1/users/login" not in templates
    assert "/api/v1/users/register" not in templates


def test_targets_are_the_template_parameters_in_the_path() -> None:
    template = "/api/v1/promotions/{promotionCode}/coupons/{code}"
    assert target_of(template, "/api/v1/promotions/SUMMER/coupons/AB-12") == ["SUMMER", "AB-12"]
    assert target_of(template, "/api/v1/promotions/SUMMER/coupons/AB-12/") == ["SUMMER", "AB-12"]
    assert target_of("/api/v1/promotions", "/api/v1/promotions") == []


def test_redaction_reaches_any_depth() -> None:
    deep: Any = {"token": "t0"}
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = [{"inner": deep, "accessToken": "t1", "Password": "p"}]
    redacted = redact(deep)
    depth = 0
    while isinstance(redacted, list):
        [level] = redacted
        assert level["accessToken"] == REDACTED
        assert level["Password"] == REDACTED
        redacted = level["inner"]
        depth += 1
    assert depth == 5000
    assert redacted == {"token": REDACTED}


async def _staff_session(client: Client, email: str, role: RoleName) -> str:
    app = client.app
    password_hash = await app[PASSWORDS].hash(TEST_PASSWORD)
    async with app[PG_POOL].acquire() as conn:
        await staff_db.create(conn, email=email, name=None, role=role, password_hash=password_hash)
    signed = await sign_in(app, email, TEST_PASSWORD, "192.0.2.20", "pytest")
    return signed.token


async def test_a_staff_members_changes_are_recorded_as_made_through_the_console(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    marketer = bearer(await _staff_session(client, "mia@example.com", "marketer"))
    changed = await client.patch(
        "/api/v1/promotions/SUMMER", json={"name": "Staff sale"}, headers=marketer
    )
    assert changed.status == 200
    # Checkout calls of a staff member are changes made by hand: recorded.
    issued = await client.post("/v2/coupon/issue", json={"seriesId": 1}, headers=marketer)
    assert issued.status == 200

    issue, patch = await _items(client, actorKind="staff")
    staff_id = patch["actorId"]
    seen = {"kind": "staff", "id": staff_id, "name": "mia@example.com"}
    assert {k: patch[k] for k in ("actorKind", "actorName", "via", "action", "target")} == {
        "actorKind": "staff",
        "actorName": "mia@example.com",
        "via": "console",
        "action": PROMOTION,
        "target": {"code": "SUMMER"},
    }
    assert patch["before"] == {"code": "SUMMER", "name": "Summer", "seenBy": seen}
    assert patch["after"] == {"code": "SUMMER", "name": "Staff sale", "seenBy": seen}
    assert issue["action"] == "POST /v2/coupon/issue"
    assert issue["requestBody"] == {"seriesId": 1}
    assert [r["id"] for r in await _items(client, actor="mia@example.com")] == [
        issue["id"],
        patch["id"],
    ]

    # Only admins read the log: not a marketer, nor support; an admin does.
    support = bearer(await _staff_session(client, "sam@example.com", "support"))
    for headers in (marketer, support):
        refused = await client.get(LOG, headers=headers)
        assert refused.status == 403
        assert (await refused.json())["code"] == "not_whitelisted"
    admin = bearer(await _staff_session(client, "ada@example.com", "admin"))
    listed = await client.get(LOG, params={"actorKind": "staff"}, headers=admin)
    assert listed.status == 200
    assert [r["id"] for r in (await listed.json())["items"]] == [issue["id"], patch["id"]]


async def test_staff_accounts_changed_by_an_admin_are_recorded_without_passwords(
    through_gateway: ThroughGateway,
) -> None:
    client, _ = await _gateway(through_gateway)
    created = await client.post(
        "/api/v1/staff",
        json={"email": "nia@example.com", "password": TEST_PASSWORD, "role": "support"},
    )
    assert created.status == 201, await created.text()
    account = await created.json()
    promoted = await client.patch(
        f"/api/v1/staff/{account['id']}",
        json={"role": "marketer", "password": "another long password"},
    )
    assert promoted.status == 200, await promoted.text()

    promote, create = await _items(client)
    assert create["requestBody"] == {
        "email": "nia@example.com",
        "password": "[redacted]",
        "role": "support",
    }
    assert create["after"] == account
    # The gateway's own GET of the account, just before the change.
    assert promote["target"] == {"id": str(account["id"])}
    assert promote["before"] == account
    assert promote["requestBody"] == {"role": "marketer", "password": "[redacted]"}
    assert promote["after"]["role"] == "marketer"
    stored = await _table_text(client)
    assert TEST_PASSWORD not in stored
    assert "another long password" not in stored
