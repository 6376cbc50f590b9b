"""Signatures as the Standard Webhooks specification has them, checked with the independent
``standardwebhooks`` package: one secret, and the new and previous secret of a rotation."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from webhook_service.domain import signing
from webhook_service.domain.secrets import new_secret
from webhook_service.keys import SETTINGS
from webhook_service.usecases import endpoints, redeliver

from .conftest import Receiver
from .harness import subscribe, verified

BODY = b'{"id":"evt_redemption_7","type":"coupon.redeemed","data":{"code":"A"}}'


def _headers(*secrets: str, timestamp: int | None = None) -> dict[str, str]:
    return signing.headers(
        secrets,
        msg_id="evt_redemption_7",
        timestamp=int(time.time()) if timestamp is None else timestamp,
        body=BODY,
    )


def test_a_signature_verifies_with_standardwebhooks() -> None:
    secret = new_secret()
    headers = _headers(secret)
    assert Webhook(secret).verify(BODY, headers) == {
        "id": "evt_redemption_7",
        "type": "coupon.redeemed",
        "data": {"code": "A"},
    }
    assert headers["webhook-id"] == "evt_redemption_7"
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)


def test_the_timestamp_is_signed() -> None:
    secret = new_secret()
    headers = _headers(secret, timestamp=int(time.time()) - 10)
    assert Webhook(secret).verify(BODY, headers)
    forged = {**headers, "webhook-timestamp": str(int(time.time()))}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, forged)


def test_during_a_rotation_both_secrets_verify() -> None:
    new, previous = new_secret(), new_secret()
    headers = _headers(new, previous)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(BODY, headers)
    assert Webhook(previous).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


async def test_a_rotated_endpoint_signs_with_the_new_and_the_previous_secret(
    start_webhook: Callable[..., Awaitable[Any]], receiver: Receiver
) -> None:
    client = await start_webhook()
    pool, settings = client.app[PG_POOL], client.app[SETTINGS]
    endpoint = await subscribe(pool, settings, receiver.url)
    rotated = await endpoints.rotate_secret(pool, settings, endpoint.id, grace_hours=1)
    await redeliver.send_test(pool, endpoint.id)
    await until(lambda: receiver.received, "the test event delivered")
    assert verified(receiver.received[0], rotated.secret)["type"] == "webhook.test"
    assert verified(receiver.received[0], endpoint.secret)["type"] == "webhook.test"

    # Once the grace period is over, only the new secret signs.
    await endpoints.rotate_secret(pool, settings, endpoint.id, grace_hours=0)
    latest = await endpoints.get(pool, endpoint.id)
    await redeliver.send_test(pool, endpoint.id)
    await until(lambda: len(receiver.received) == 2, "the second test event delivered")
    assert verified(receiver.received[1], latest.secret)
    with pytest.raises(WebhookVerificationError):
        verified(receiver.received[1], rotated.secret)
