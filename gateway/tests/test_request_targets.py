"""What the gateway forwards: origin-form targets only, a path that reads as it was
authorized, a body whole (up to 1 MiB) and signed with the rest of the request. Requests
are sent as written (``raw_request``) to a real gateway in front of a real service app."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.keys import PRINCIPAL
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.gateway_fixtures import (
    ADMIN,
    RawResponse,
    bearer,
    create_token,
    raw_request,
    settings_in_front_of,
    upstream_url,
)
from gateway.app import create_app

MIB = 1024 * 1024


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def gateway(
    aiohttp_server: Any, aiohttp_client: Any, service_env: dict[str, Any], seen: list[Any]
) -> TestClient[Any, Any]:
    """A gateway in front of a service built as every service is (the shared middlewares,
    identity verification included) that records each request it serves."""

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "size": len(body),
                "principal": request[PRINCIPAL].name,
            }
        )
        return web.json_response({"ok": True})

    service = build_app(ServiceSettings(**service_env), service="upstream", migrations_dir=None)
    service.router.add_route("*", "/{tail:.*}", record)
    settings = settings_in_front_of(upstream_url(await aiohttp_server(service)), **service_env)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    return client


def assert_envelope(family: str, status: int, body: Any) -> None:
    if family == "sylius":
        assert body == {"code": status, "message": body["message"]}
    elif family == "v1.1":
        assert body["response"]["status"]["code"] == status
    else:
        assert body["errors"][0]["code"] == status, body
        assert body["warnings"] == []


async def assert_refused(
    gateway: TestClient[Any, Any],
    seen: list[Any],
    target: str,
    *,
    status: int,
    family: str,
    headers: dict[str, str] = ADMIN,
    chunks: list[bytes] | None = None,
    method: str = "GET",
) -> RawResponse:
    """``method target`` sent as written is answered ``status`` in ``family``'s envelope, and
    the service has seen nothing."""
    response = await raw_request(gateway, target, method=method, headers=headers, chunks=chunks)
    assert response.status == status, target
    assert_envelope(family, status, response.json())
    assert seen == []
    return response


async def test_an_absolute_form_target_is_400_and_never_forwarded(
    gateway: TestClient[Any, Any], seen: list[Any]
) -> None:
    server = gateway.server
    for target in (
        f"http://{server.host}:{server.port}/v2/coupon/series",
        "http://issuance-service@evil.example/v2/coupon/series",
    ):
        response = await assert_refused(gateway, seen, target, status=400, family="v2")
        assert "origin-form" in response.json()["errors"][0]["message"]


def unreadable(kind: str, *cases: tuple[str, str]) -> list[Any]:
    """``(target, family)`` cases of one kind of path that does not read as it will be
    served, each named by its kind."""
    return [pytest.param(target, family, id=f"{kind} {target}") for target, family in cases]


@pytest.mark.parametrize(
    ("target", "family"),
    unreadable(
        "encoded separator",
        ("/api/v1/promotions/HOLIDAY-SALE%2Fcoupons", "sylius"),
        ("/api/v1/promotions/HOLIDAY-SALE%2fcoupons", "sylius"),
        ("/api/v1/promotions/HOLIDAY-SALE%5Ccoupons", "sylius"),
        ("/v2/coupon/series/1%2F..%2F2", "v2"),
    )
    + unreadable(
        "control character",
        ("/v2/coupon/series/1%00", "v2"),
        ("/api/v1/promotions/A%00B", "sylius"),
        ("/api/v1/promotions/HOLIDAY-SALE/coupons/A%00B", "sylius"),
        ("/v2/customers/1%0A2", "v2"),
        ("/v1.1/coupon/isredeemable%7F", "v1.1"),
    )
    + unreadable(
        "dot segment",
        ("/api/v1/promotions/P/coupons/..", "sylius"),
        ("/api/v1/promotions/P/coupons/%2e%2E", "sylius"),
        ("/v2/coupon/series/./1", "v2"),
    ),
)
async def test_encoded_separators_control_characters_and_dot_segments_are_400(
    gateway: TestClient[Any, Any], seen: list[Any], target: str, family: str
) -> None:
    await assert_refused(gateway, seen, target, status=400, family=family)


@pytest.mark.parametrize(
    ("target", "family"),
    [
        ("//v2/coupon/series", "v2"),
        ("/v2/coupon//series", "v2"),
        ("//api/v1/promotions/", "sylius"),
    ],
)
async def test_empty_path_segments_are_404_in_the_family_envelope(
    gateway: TestClient[Any, Any], seen: list[Any], target: str, family: str
) -> None:
    token = await create_token(gateway, "lister", ["GET /v2/coupon/series"])
    for headers in (ADMIN, bearer(token["token"])):
        await assert_refused(gateway, seen, target, status=404, family=family, headers=headers)


async def test_the_service_serves_the_path_that_was_authorized(
    gateway: TestClient[Any, Any], seen: list[Any]
) -> None:
    token = await create_token(
        gateway, "coupons", ["GET /api/v1/promotions/{promotionCode}/coupons"]
    )
    target = "/api/v1/promotions/HOLIDAY%20SALE/coupons?page=2&criteria%5Bq%5D=a%26b"
    response = await raw_request(gateway, target, headers=bearer(token["token"]))
    assert response.status == 200, response.body
    assert seen == [
        {
            "method": "GET",
            "path": "/api/v1/promotions/HOLIDAY SALE/coupons",
            "raw_path": target,
            "size": 0,
            "principal": "coupons",
        }
    ]


@pytest.mark.parametrize(
    ("path", "family"), [("/v2/coupon/series", "v2"), ("/v1.1/coupon/redeem", "v1.1")]
)
async def test_a_chunked_body_over_1_mib_is_413_in_the_family_envelope(
    gateway: TestClient[Any, Any], seen: list[Any], path: str, family: str
) -> None:
    chunks = [b"x" * 65536] * 17  # 1 MiB + 64 KiB, no Content-Length
    await assert_refused(
        gateway, seen, path, status=413, family=family, method="POST", chunks=chunks
    )


async def test_a_chunked_body_up_to_1_mib_reaches_the_service_whole(
    gateway: TestClient[Any, Any], seen: list[Any]
) -> None:
    chunks = [b"x" * 65536] * 16  # exactly 1 MiB
    response = await raw_request(
        gateway, "/v2/coupon/series", method="POST", headers=ADMIN, chunks=chunks
    )
    assert response.status == 200, response.body
    assert [request["size"] for request in seen] == [MIB]


async def test_a_compressed_body_reaches_the_service_decoded(
    gateway: TestClient[Any, Any], seen: list[Any]
) -> None:
    body = b'{"description": "' + b"x" * 5000 + b'"}'
    response = await gateway.post(
        "/v2/coupon/series",
        data=gzip.compress(body),
        headers={**ADMIN, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    assert [request["size"] for request in seen] == [len(body)]
