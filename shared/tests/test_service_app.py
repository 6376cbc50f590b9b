"""What every service gets from build_app: envelopes, request ids, identity, health, metrics."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from coupon_core.errors import NotFound
from coupon_core.http import json_response, parse_body
from coupon_core.identity import Principal
from coupon_core.keys import PRINCIPAL
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.testing.plugin import signed_as, signed_headers
from pydantic import BaseModel, Field

CALLER = Principal(kind="api_token", id="1", name="tester")


class Body(BaseModel):
    code: str = Field(min_length=1, max_length=10)
    amount: int = Field(ge=0, le=1_000_000)


async def echo(request: web.Request) -> web.Response:
    body = await parse_body(request, Body)
    return json_response({"code": body.code, "caller": request[PRINCIPAL].name})


async def missing(request: web.Request) -> web.Response:
    raise NotFound("No such thing.")


async def broken(request: web.Request) -> web.Response:
    raise RuntimeError("boom")


FAMILY_PATHS = {
    "sylius": "/api/v1/promotions/X",
    "crm": "/api/v1/coupon/activate",
    "v11": "/v1.1/coupon/redeem",
    "v2": "/v2/coupon/issue",
}


@pytest.fixture
async def client(aiohttp_client: Any, service_env: dict[str, Any]) -> Any:
    app = build_app(ServiceSettings(**service_env), service="test", migrations_dir=None)
    for path in FAMILY_PATHS.values():
        app.router.add_post(path, echo)
        app.router.add_get(path, missing)
    app.router.add_get("/v2/broken", broken)
    return await aiohttp_client(app)


# Signs each request as the gateway would: its method, path, query and body, a fresh nonce.
SIGNED = (signed_as(CALLER),)
JSON = {"Content-Type": "application/json"}
ENVELOPES_400: dict[str, Any] = {
    "sylius": {"code": 400},
    "crm": {"status": "error", "code": "invalid_input"},
    "v11": {"response": {"status": {"success": "false", "code": 400}}},
    "v2": {"errors": [{"code": 400}], "warnings": []},
}


async def test_signed_request_reaches_the_handler_with_its_principal(client: Any) -> None:
    path = FAMILY_PATHS["v2"]
    response = await client.post(path, json={"code": "A", "amount": 1}, middlewares=SIGNED)
    assert response.status == 200
    assert await response.json() == {"code": "A", "caller": "tester"}


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("sylius", {"error": "access_denied"}),
        ("crm", {"status": "error", "code": "unauthorized"}),
        ("v11", {"response": {"status": {"success": "false", "code": 401}}}),
        ("v2", {"errors": [{"code": 401}], "warnings": []}),
    ],
)
async def test_unsigned_requests_get_401_in_the_family_envelope(
    client: Any, family: str, expected: dict[str, Any]
) -> None:
    response = await client.post(FAMILY_PATHS[family], json={"code": "A", "amount": 1})
    assert response.status == 401
    assert _contains(await response.json(), expected)


async def test_a_signature_for_another_path_is_refused(client: Any) -> None:
    body = b'{"code": "A", "amount": 1}'
    response = await client.post(
        FAMILY_PATHS["v2"],
        data=body,
        headers=signed_headers("POST", "/v2/other", CALLER, body=body),
    )
    assert response.status == 401


async def test_a_signed_identity_is_accepted_once(client: Any) -> None:
    path, body = FAMILY_PATHS["v2"], b'{"code": "A", "amount": 1}'
    headers = {**signed_headers("POST", path, CALLER, body=body), **JSON}
    first = await client.post(path, data=body, headers=headers)
    assert first.status == 200
    replayed = await client.post(path, data=body, headers=headers)
    assert replayed.status == 401
    assert "replayed" in (await replayed.json())["errors"][0]["message"]


async def test_a_replay_on_another_replica_is_refused(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    replicas = []
    for _ in range(2):
        app = build_app(ServiceSettings(**service_env), service="test", migrations_dir=None)
        app.router.add_post(FAMILY_PATHS["v2"], echo)
        replicas.append(await aiohttp_client(app))
    path, body = FAMILY_PATHS["v2"], b'{"code": "A", "amount": 1}'
    headers = {**signed_headers("POST", path, CALLER, body=body), **JSON}
    assert (await replicas[0].post(path, data=body, headers=headers)).status == 200
    assert (await replicas[1].post(path, data=body, headers=headers)).status == 401


@pytest.mark.parametrize(
    ("target", "body"),
    [
        (FAMILY_PATHS["v2"], b'{"code": "B", "amount": 1}'),
        (FAMILY_PATHS["v2"], b'{"code": "A", "amount": 1} '),
        (FAMILY_PATHS["v2"] + "?mode=partial", b'{"code": "A", "amount": 1}'),
    ],
)
async def test_a_signature_for_another_body_or_query_is_refused(
    client: Any, target: str, body: bytes
) -> None:
    signed_body = b'{"code": "A", "amount": 1}'
    headers = {**signed_headers("POST", FAMILY_PATHS["v2"], CALLER, body=signed_body), **JSON}
    response = await client.post(target, data=body, headers=headers)
    assert response.status == 401
    assert "signature" in (await response.json())["errors"][0]["message"]


@pytest.mark.parametrize(
    ("family", "suffix"),
    [("sylius", "%00"), ("v2", "%00"), ("v11", "%0A"), ("crm", "%2Fx"), ("v2", "%5Cx")],
)
async def test_control_characters_and_encoded_separators_in_the_path_are_400(
    client: Any, family: str, suffix: str
) -> None:
    """Defense in depth: the gateway refuses these paths, and so does every service."""
    response = await client.post(
        FAMILY_PATHS[family] + suffix, json={"code": "A", "amount": 1}, middlewares=SIGNED
    )
    assert response.status == 400
    assert _contains(await response.json(), ENVELOPES_400[family])


@pytest.mark.parametrize(
    ("body", "content"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"code": "A", "amount": "many"}', "amount"),
        (b'{"code": "A", "amount": 10000000}', "amount"),
        (b'{"code": "' + b"x" * 50 + b'", "amount": 1}', "code"),
        (b'{"amount": 1}', "code"),
    ],
)
async def test_bad_input_is_a_clear_400_in_every_family(
    client: Any, body: bytes, content: str
) -> None:
    for family, path in FAMILY_PATHS.items():
        response = await client.post(
            path, data=body, headers={"Content-Type": "application/json"}, middlewares=SIGNED
        )
        assert response.status == 400, family
        assert content in await response.text(), family


async def test_sylius_validation_body_lists_children(client: Any) -> None:
    path = FAMILY_PATHS["sylius"]
    response = await client.post(path, json={"amount": 1}, middlewares=SIGNED)
    assert await response.json() == {
        "code": 400,
        "message": "Validation Failed",
        "errors": {"children": {"code": {"errors": ["This value is required."]}}},
    }


async def test_oversized_body_is_413(client: Any) -> None:
    path = FAMILY_PATHS["v2"]
    big = b'{"code": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await client.post(path, data=big, middlewares=SIGNED)
    assert response.status == 413
    assert (await response.json())["errors"][0]["code"] == 413


async def test_domain_errors_and_unknown_routes_use_the_envelope(client: Any) -> None:
    path = FAMILY_PATHS["sylius"]
    response = await client.get(path, middlewares=SIGNED)
    assert (response.status, await response.json()) == (
        404,
        {"code": 404, "message": "No such thing."},
    )
    unknown = "/v2/nothing/here"
    response = await client.get(unknown, middlewares=SIGNED)
    assert response.status == 404
    assert (await response.json())["errors"][0]["code"] == 404


async def test_unexpected_failure_is_500_with_the_request_id(client: Any) -> None:
    path = "/v2/broken"
    response = await client.get(path, headers={"X-Request-ID": "req-123"}, middlewares=SIGNED)
    assert response.status == 500
    assert response.headers["X-Request-ID"] == "req-123"
    assert "req-123" in (await response.json())["errors"][0]["message"]


async def test_request_id_is_assigned_or_passed_on(client: Any) -> None:
    assigned = await client.get("/healthz")
    assert len(assigned.headers["X-Request-ID"]) == 32
    passed = await client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert passed.headers["X-Request-ID"] == "abc-1"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_operational_endpoints_need_no_identity(client: Any) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert (ready.status, (await ready.json())["status"]) == (200, "ready")
    path = FAMILY_PATHS["v2"]
    await client.post(path, json={"code": "A", "amount": 1}, middlewares=SIGNED)
    metrics = await (await client.get("/metrics")).text()
    assert 'http_requests_total{method="POST",route="/v2/coupon/issue",status="200"} 1.0' in metrics


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


async def test_readyz_stays_200_and_names_a_store_that_does_not_answer(
    aiohttp_client: Any, service_env: dict[str, Any], reserved_port: int
) -> None:
    """A shared store's outage must not take every pod out of its Service (SPEC section 8):
    /readyz shows it, /metrics exports it, and the process stays ready."""
    settings = ServiceSettings(
        **{**service_env, "redis_url": f"redis://127.0.0.1:{reserved_port}/0"}
    )
    client = await aiohttp_client(build_app(settings, service="test", migrations_dir=None))
    response = await client.get("/readyz")
    assert response.status == 200
    body = await response.json()
    assert (body["status"], body["checks"]) == ("ready", {"migrations": "absent"})
    assert body["stores"]["postgres"] == "ok"
    assert body["stores"]["redis"] == "error: ConnectionError"
    metrics = await (await client.get("/metrics")).text()
    assert 'store_up{store="postgres"} 1.0' in metrics
    assert 'store_up{store="redis"} 0.0' in metrics


async def test_readyz_is_503_until_the_migrations_are_applied(
    aiohttp_client: Any, service_env: dict[str, Any], tmp_path: Any
) -> None:
    from coupon_core.migrations import migrate

    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    settings = ServiceSettings(**{**service_env, "apply_migrations": False})
    app = build_app(settings, service="readiness", migrations_dir=tmp_path)
    client = await aiohttp_client(app)
    waiting = await client.get("/readyz")
    assert waiting.status == 503
    body = await waiting.json()
    assert body["checks"]["migrations"] == "pending: 0001_things, 0002_more"
    assert body["stores"]["postgres"] == "ok"
    await migrate(settings.database_url, tmp_path, service="readiness")
    ready = await client.get("/readyz")
    assert (ready.status, (await ready.json())["checks"]["migrations"]) == (200, "ok")
