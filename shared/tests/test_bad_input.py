"""Bad text and bodies that are not JSON, refused by every service in the URL family's
envelope (SPEC section 7): NUL anywhere in a JSON body or a query parameter, lone
surrogates, a body of another media type, a body the server cannot decode."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from coupon_core.http import json_response, read_json
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app

FAMILY_PATHS = {
    "sylius": "/api/v1/promotions/X",
    "crm": "/api/v1/coupon/activate",
    "v11": "/v1.1/coupon/redeem",
    "v2": "/v2/coupon/issue",
}
JSON = {"Content-Type": "application/json"}


async def echo(request: web.Request) -> web.Response:
    """Whatever the body holds, without a model: the shared reading alone must refuse."""
    return json_response({"got": await read_json(request)})


@pytest.fixture
async def client(aiohttp_client: Any, service_env: dict[str, Any]) -> Any:
    # What is refused here does not depend on who sends it: no identity to sign.
    app = build_app(
        ServiceSettings(**service_env), service="test", migrations_dir=None, verify_identity=False
    )
    for path in FAMILY_PATHS.values():
        app.router.add_post(path, echo)
    return await aiohttp_client(app)


def status_in_envelope(family: str, body: Any) -> Any:
    """The error code the family's envelope carries (SPEC section 7)."""
    if family == "sylius":
        return body["code"]
    if family == "crm":
        assert body["status"] == "error"
        return body["code"]
    if family == "v11":
        assert body["response"]["status"]["success"] == "false"
        return body["response"]["status"]["code"]
    assert body["warnings"] == []
    return body["errors"][0]["code"]


async def post_everywhere(client: Any, path_suffix: str = "", **kwargs: Any) -> dict[str, Any]:
    """The response of each family's path, as (status, body, text)."""
    answers = {}
    headers = kwargs.pop("headers", {})
    for family, path in FAMILY_PATHS.items():
        response = await client.post(path + path_suffix, headers=headers, **kwargs)
        text = await response.text()
        answers[family] = (response.status, await response.json(), text)
    return answers


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": "A\\u0000B"}',
        b'{"code": "A", "deep": {"list": [1, {"text": "x\\u0000"}]}}',
        b'{"code": "A", "key\\u0000": 1}',
        b'["\\u0000"]',
    ],
)
async def test_nul_anywhere_in_a_json_body_is_400_in_every_family(client: Any, body: bytes) -> None:
    answers = await post_everywhere(client, data=body, headers=JSON)
    for family, (status, payload, text) in answers.items():
        assert status == 400, (family, text)
        assert status_in_envelope(family, payload) in (400, "invalid_input"), family
        assert "NUL" in text, family


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: Any) -> None:
    answers = await post_everywhere(client, data=b'{"code": "\\\\u0000"}', headers=JSON)
    for family, (status, payload, _) in answers.items():
        assert (status, payload) == (200, {"got": {"code": "\\u0000"}}), family


@pytest.mark.parametrize("query", ["?search=%00", "?a=1&b=x%00y", "?%00=1"])
async def test_nul_in_a_query_parameter_is_400_in_every_family(client: Any, query: str) -> None:
    answers = await post_everywhere(client, query, json={"code": "A"})
    for family, (status, payload, text) in answers.items():
        assert status == 400, (family, text)
        assert status_in_envelope(family, payload) in (400, "invalid_input"), family
        assert "NUL" in text, family


@pytest.mark.parametrize(
    "body", [b'{"code": "\\ud800"}', b'{"code": "x\\udfffy"}', b'{"\\udc00": 1}']
)
async def test_lone_surrogates_in_json_are_400_in_every_family(client: Any, body: bytes) -> None:
    answers = await post_everywhere(client, data=body, headers=JSON)
    for family, (status, payload, text) in answers.items():
        assert status == 400, (family, text)
        assert status_in_envelope(family, payload) in (400, "invalid_input"), family


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
async def test_a_body_of_another_media_type_is_415_in_every_family(
    client: Any, content_type: str
) -> None:
    answers = await post_everywhere(
        client, data=b'{"code": "A"}', headers={"Content-Type": content_type}
    )
    for family, (status, payload, text) in answers.items():
        assert status == 415, (family, text)
        assert status_in_envelope(family, payload) in (415, "unsupported_media_type"), family
        assert "application/json" in text, family


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json; charset=utf-8"},
        {"Content-Type": "Application/JSON"},
        {"Content-Type": "application/merge-patch+json"},
        # No type declared: no Content-Type at all, or the type of "some bytes".
        {},
        {"Content-Type": "application/octet-stream"},
    ],
)
async def test_json_media_types_and_a_body_of_no_declared_type_are_read_as_json(
    client: Any, headers: dict[str, str]
) -> None:
    answers = await post_everywhere(
        client, data=b'{"code": "A"}', headers=headers, skip_auto_headers=["Content-Type"]
    )
    for family, (status, payload, text) in answers.items():
        assert (status, payload) == (200, {"got": {"code": "A"}}), (family, text)


async def test_an_empty_body_of_any_media_type_is_still_an_empty_body(client: Any) -> None:
    answers = await post_everywhere(client, data=b"", headers={"Content-Type": "text/plain"})
    for family, (status, _, text) in answers.items():
        assert status == 400, family
        assert "empty" in text, family


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_the_server_cannot_decode_is_400_in_every_family(
    client: Any, encoding: str
) -> None:
    answers = await post_everywhere(
        client,
        data=b"this is not compressed",
        headers={**JSON, "Content-Encoding": encoding},
    )
    for family, (status, payload, text) in answers.items():
        assert status == 400, (family, text)
        assert status_in_envelope(family, payload) in (400, "invalid_input"), family
