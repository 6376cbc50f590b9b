"""The icon browsers ask for on every page of the site (/docs first) is served to anyone:
no 401 in the browser's console."""

from __future__ import annotations

from coupon_dev.gateway_fixtures import StartGateway


async def test_the_browsers_favicon_request_is_served_without_credentials(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    icon = await client.get("/favicon.ico")
    assert icon.status == 200
    assert icon.content_type == "image/png"
    assert (await icon.read()).startswith(b"\x89PNG")
