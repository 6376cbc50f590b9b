"""``couponctl webhooks`` against the launched platform, delivering to a receiver on loopback
(the stack's webhook service allows it: cli_fixtures.WEBHOOK_TO_LOOPBACK). Deliveries are
verified with the independent ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from coupon_dev.cli_fixtures import Couponctl, Result
from coupon_dev.testing.poll import until
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An endpoint on loopback: records every request, answers ``status``."""

    url: str = ""
    status: int = 200
    received: list[Delivery] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Delivery(await request.read(), dict(request.headers)))
        return web.Response(status=self.status, text=f"receiver answered {self.status}")

    def of(self, event_id: str) -> list[Delivery]:
        return [d for d in self.received if d.headers.get("webhook-id") == event_id]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/hooks"
    try:
        yield found
    finally:
        await runner.cleanup()


async def run(ctl: Couponctl, *argv: str) -> Result:
    """The CLI is synchronous: it runs in a thread while the receiver serves on this loop."""
    return await asyncio.to_thread(ctl, *argv)


async def ok(ctl: Couponctl, *argv: str) -> Any:
    return await asyncio.to_thread(ctl.ok, *argv)


async def test_create_show_list_update_disable_delete(ctl: Couponctl, receiver: Receiver) -> None:
    created = await run(ctl, "webhooks", "create", receiver.url, "--description", "all of it")
    assert created.code == 0, created.err
    assert "* (every type)" in created.out
    assert "secret:      whsec_" in created.out
    assert "shown only this once" in created.out

    hook = await ok(
        ctl, "webhooks", "create", receiver.url, "--events", "coupon.redeemed, limit.reached",
        "--description", "checkout",
    )  # fmt: skip
    assert hook["events"] == ["coupon.redeemed", "limit.reached"]
    assert hook["secret"].startswith("whsec_")
    hook_id = str(hook["id"])

    shown = await ok(ctl, "webhooks", "show", hook_id)
    assert "secret" not in shown
    assert shown["url"] == receiver.url
    assert "whsec_" not in (await run(ctl, "webhooks", "show", hook_id)).out
    listed = await run(ctl, "webhooks", "list")
    assert listed.code == 0, listed.err
    assert receiver.url in listed.out
    assert hook["secret"] not in listed.out
    assert any(w["id"] == hook["id"] for w in (await ok(ctl, "webhooks", "list"))["webhooks"])

    updated = await ok(
        ctl, "webhooks", "update", hook_id, "--events", "*", "--description", "everything"
    )
    assert (updated["events"], updated["description"]) == (["*"], "everything")
    disabled = await run(ctl, "webhooks", "disable", hook_id)
    assert disabled.code == 0, disabled.err
    assert "enabled:     no" in disabled.out
    assert (await ok(ctl, "webhooks", "show", hook_id))["enabled"] is False
    assert (await ok(ctl, "webhooks", "enable", hook_id))["enabled"] is True

    types = await run(ctl, "webhooks", "event-types")
    assert types.code == 0, types.err
    for name in ("coupon.redeemed", "limit.reached", "webhook.disabled"):
        assert name in types.out

    deleted = await run(ctl, "webhooks", "delete", hook_id)
    assert deleted.code == 0, deleted.err
    assert deleted.out.strip() == f"deleted webhook {hook_id} ({receiver.url})"
    gone = await run(ctl, "webhooks", "show", hook_id)
    assert gone.code == 1
    assert "HTTP 404" in gone.err


async def test_test_waits_for_a_signed_delivery_and_rotation_keeps_both_secrets(
    ctl: Couponctl, receiver: Receiver
) -> None:
    hook = await ok(ctl, "webhooks", "create", receiver.url)
    hook_id = str(hook["id"])

    tested = await run(ctl, "webhooks", "test", hook_id, "--wait")
    assert tested.code == 0, tested.err
    event_id = tested.out.split()[3]
    assert event_id.startswith("evt_")
    assert "delivered, HTTP 200" in tested.out
    (delivery,) = receiver.of(event_id)
    verified = Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
    assert verified["type"] == "webhook.test"
    assert verified["id"] == event_id

    attempts = await run(ctl, "webhooks", "attempts", hook_id)
    assert attempts.code == 0, attempts.err
    (row,) = [line for line in attempts.out.splitlines() if event_id in line]
    assert "delivered" in row
    assert " 200 " in row
    assert " ms " in row
    assert "receiver answered 200" in row
    delivered = await run(ctl, "webhooks", "deliveries", hook_id, "--status", "delivered")
    assert event_id in delivered.out

    rotated = await run(ctl, "webhooks", "rotate-secret", hook_id, "--grace-hours", "1")
    assert rotated.code == 0, rotated.err
    assert "shown only this once" in rotated.out
    assert "previous secret stays valid until" in rotated.out
    new_secret = rotated.out.split("secret:", 1)[1].split()[0]
    assert new_secret.startswith("whsec_")
    assert new_secret != hook["secret"]

    again = await ok(ctl, "webhooks", "test", hook_id, "--wait")
    assert again["attempt"]["outcome"] == "delivered"
    (delivery,) = receiver.of(again["eventId"])
    for secret in (new_secret, hook["secret"]):  # both valid during the grace period
        assert Webhook(secret).verify(delivery.body, delivery.headers)["id"] == again["eventId"]

    await ok(ctl, "webhooks", "rotate-secret", hook_id, "--grace-hours", "0")
    last = await ok(ctl, "webhooks", "test", hook_id, "--wait")
    (delivery,) = receiver.of(last["eventId"])
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(delivery.body, delivery.headers)


async def test_a_failing_endpoint_shows_in_the_log_and_is_redelivered(
    ctl: Couponctl, receiver: Receiver
) -> None:
    receiver.status = 500
    hook = await ok(ctl, "webhooks", "create", receiver.url)
    hook_id = str(hook["id"])

    failed = await run(ctl, "webhooks", "test", hook_id, "--wait")
    assert failed.code == 1  # sent, but not delivered
    assert "http_error, HTTP 500" in failed.out
    assert "receiver answered 500" in failed.out
    event_id = failed.out.split()[3]
    log = await ok(ctl, "webhooks", "attempts", hook_id, "--outcome", "http_error")
    assert [a["httpStatus"] for a in log["attempts"] if a["eventId"] == event_id][:1] == [500]
    pending = await ok(ctl, "webhooks", "deliveries", hook_id, "--status", "pending")
    assert event_id in [d["eventId"] for d in pending["deliveries"]]

    receiver.status = 200
    queued = await run(ctl, "webhooks", "redeliver", hook_id, "--event", event_id)
    assert queued.code == 0, queued.err
    assert queued.out.startswith("queued ")

    async def delivered() -> bool:
        answer = await ok(ctl, "webhooks", "deliveries", hook_id, "--status", "delivered")
        return event_id in [d["eventId"] for d in answer["deliveries"]]

    await until(delivered, "the redelivered test event delivered")
    arrived = receiver.of(event_id)
    assert [d.headers["webhook-id"] for d in arrived] == [event_id] * len(arrived)
    assert [Webhook(hook["secret"]).verify(d.body, d.headers)["id"] for d in arrived][-1] == (
        event_id
    )

    since = await run(ctl, "webhooks", "redeliver", hook_id, "--since", "1h", "--status", "failed")
    assert since.code == 0, since.err
    assert since.out.strip() == "queued 0 deliveries again"  # nothing was given up


async def test_refusals_are_told_in_words(ctl: Couponctl, receiver: Receiver) -> None:
    missing = await run(ctl, "webhooks", "show", "987654321")
    assert missing.code == 1
    assert "HTTP 404" in missing.err
    plain_http = await run(ctl, "webhooks", "create", "http://93.184.215.14/hooks")
    assert plain_http.code == 1
    assert "HTTP 400" in plain_http.err
    assert "unsafe_url" in plain_http.err
    private = await run(ctl, "webhooks", "create", "https://10.0.0.1/hooks")
    assert private.code == 1
    assert "unsafe_url" in private.err
    unknown = await run(ctl, "webhooks", "create", receiver.url, "--events", "coupon.melted")
    assert unknown.code == 1
    assert "HTTP 400" in unknown.err
    assert "coupon.melted" in unknown.err

    for argv in (
        ("redeliver", "1"),  # neither --event nor --since
        ("redeliver", "1", "--event", "evt_x", "--since", "1h"),
        ("redeliver", "1", "--event", "evt_x", "--status", "failed"),
        ("attempts", "1", "--since", "yesterday"),
        ("update", "1"),
        ("create", receiver.url, "--events", ","),
        ("show", "not-a-number"),
    ):
        usage = await run(ctl, "webhooks", *argv)
        assert usage.code == 2, argv
