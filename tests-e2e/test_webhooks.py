"""Outbound webhooks end to end (issue 19): the launched stack (two replicas of every
service, the webhook-service's among them) delivers to a real aiohttp receiver on loopback
(support/receiver.py), and every delivery is verified with the independent
``standardwebhooks`` package, never with the platform's own code.

Each event type arrives signed; a receiver that fails, or is down during a burst of 1,000
redemptions, gets everything once it recovers; the webhook-service killed with SIGKILL
mid-batch loses nothing; its two replicas never attempt one delivery at the same moment;
secret rotation; SSRF refusals; a disabled endpoint gets nothing. ``webhook.disabled`` (an
endpoint failing for WEBHOOK_DISABLE_AFTER_H) needs days of failures: the service's own
tests cover it by moving ``failing_since`` back in its database
(webhook-service/tests/test_delivery*.py).

The suite's webhook-service retries within a second (support/stacks.py WEBHOOK_ENV)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from coupon_dev.stack import Stack
from coupon_dev.testing import prometheus
from coupon_dev.testing.poll import until
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from support.api import (
    call,
    create_coupon,
    create_customer,
    create_discount_promotion,
    create_grant_promotion,
    item,
    redeem_body,
    register_and_login,
    unique,
)
from support.receiver import CLIENT_GONE, Behaviour, Inbox, Receiver, verify

TIMEOUT = aiohttp.ClientTimeout(total=60)
ARRIVAL_S = 30.0  # an event reaches a receiver that answers well within this
BURST = 1_000
CONCURRENCY = 16


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    running = Receiver()
    await running.start()
    yield running
    await running.close()


@pytest.fixture
async def admin(auth: dict[str, str]) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=auth, timeout=TIMEOUT) as session:
        yield session


@contextlib.asynccontextmanager
async def subscribed(
    admin: aiohttp.ClientSession, gw: str, url: str, events: list[str], **fields: Any
) -> AsyncIterator[dict[str, Any]]:
    """An endpoint for the length of a test (deleted after it, so that nothing keeps
    retrying towards a receiver that is gone)."""
    _, endpoint, _ = await call(
        admin,
        "POST",
        f"{gw}/api/v1/webhooks",
        json={"url": url, "events": events, "description": "e2e", **fields},
        expect=201,
    )
    assert endpoint["secret"].startswith("whsec_"), endpoint
    try:
        yield endpoint
    finally:
        await call(admin, "DELETE", f"{gw}/api/v1/webhooks/{endpoint['id']}", expect=200)


async def _series(admin: aiohttp.ClientSession, gw: str, **fields: Any) -> int:
    body = {
        "description": "webhook series",
        "discountType": "ABS",
        "discountValue": 10,
        "validTillDate": "2099-01-01T00:00:00Z",
        **fields,
    }
    _, series, _ = await call(admin, "POST", f"{gw}/v2/coupon/series", json=body, expect=201)
    return int(series["id"])


async def _customer(admin: aiohttp.ClientSession, gw: str) -> int:
    return int((await create_customer(admin, gw))["id"])


async def _issue(
    admin: aiohttp.ClientSession, gw: str, series: int, customer: int, count: int
) -> list[str]:
    _, issued, _ = await call(
        admin,
        "POST",
        f"{gw}/v2/coupon/issue/multiple",
        json={"seriesId": series, "customer": {"id": customer}, "count": count},
        expect=200,
    )
    codes: list[str] = issued["codes"]
    assert len(codes) == count
    return codes


async def _hot_coupon(admin: aiohttp.ClientSession, gw: str) -> tuple[str, int]:
    """A coupon any customer may redeem any number of times, and a customer."""
    series = await _series(
        admin,
        gw,
        redemptionPerCouponMaxLimit=-1,
        sameUserMultipleRedeem=True,
        anyUser=True,
    )
    customer = await _customer(admin, gw)
    return (await _issue(admin, gw, series, customer, 1))[0], customer


async def _redeem_many(
    admin: aiohttp.ClientSession, gw: str, code: str, customer: int, n: int
) -> set[str]:
    """``n`` redemptions of ``code``, ``CONCURRENCY`` at a time; their redemption ids."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> str:
        async with gate:
            _, body, _ = await call(
                admin,
                "POST",
                f"{gw}/v1.1/coupon/redeem",
                json=redeem_body(code, {"id": customer}, amount="100"),
                expect=200,
            )
        redeemed = item(body)
        assert redeemed["item_status"]["code"] == 700, body
        return str(redeemed["redemption_id"])

    ids = set(await asyncio.gather(*(one() for _ in range(n))))
    assert len(ids) == n
    return ids


def _missing(inbox: Inbox, expected: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{kind} {data}" for kind, data in expected if len(inbox.matching(kind, **data)) != 1]


def _has_codes(inbox: Inbox, codes: set[str]) -> bool:
    """Whether the endpoint accepted an event about each of ``codes``."""
    return {e["data"].get("code") for e in inbox.accepted().values()} >= codes


def _redeemed_ids(inbox: Inbox, code: str) -> set[str]:
    """The distinct events of ``code``'s redemptions the endpoint accepted."""
    return {e["id"] for e in inbox.matching("coupon.redeemed", code=code)}


def _is_utc_instant(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset() is not None


async def _ready(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(f"{url}/readyz") as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _attempts_made(url: str) -> float:
    """Delivery attempts a webhook-service replica made, whatever their outcome (its
    /metrics)."""
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.get(f"{url}/metrics") as response,
    ):
        text = await response.text()
    outcomes = prometheus.by_label(text, "webhook_deliveries_total", "outcome")
    return sum(n for outcome, n in outcomes.items() if outcome != "failed")


async def _pages(
    admin: aiohttp.ClientSession, gw: str, endpoint: int, what: str, **params: str
) -> list[dict[str, Any]]:
    """Every row of an endpoint's ``deliveries`` or ``attempts``, page by page (newest
    first, ``before`` the last row's id)."""
    rows: list[dict[str, Any]] = []
    query = {"limit": "100", **params}
    for _ in range(1_000):
        _, page, _ = await call(
            admin, "GET", f"{gw}/api/v1/webhooks/{endpoint}/{what}", params=query, expect=200
        )
        rows += page[what]
        if len(page[what]) < int(query["limit"]):
            return rows
        query["before"] = str(page[what][-1]["id"])
    raise AssertionError(f"{what} of endpoint {endpoint}: more pages than expected")


async def test_every_event_type_arrives_signed(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """One endpoint subscribed to everything gets each type, with the object as the API
    shows it; one subscribed to coupon.issued gets only that type."""
    gw = stack.gateway_url
    async with contextlib.AsyncExitStack() as endpoints:
        everything = await endpoints.enter_async_context(
            subscribed(admin, gw, receiver.url("/all"), ["*"])
        )
        issued_only = await endpoints.enter_async_context(
            subscribed(admin, gw, receiver.url("/issued"), ["coupon.issued"])
        )
        inbox = Inbox(receiver, "/all", everything["secret"])
        issued_inbox = Inbox(receiver, "/issued", issued_only["secret"])

        # A series that may issue two coupons and redeem two: both coupons redeemed in one
        # request, each with its own transaction, then one redemption reversed.
        series = await _series(admin, gw, maxCreate=2, maxRedeem=2)
        customer = await _customer(admin, gw)
        codes = await _issue(admin, gw, series, customer, 2)
        numbers = {code: unique("T-") for code in codes}
        body = {
            "root": {
                "coupon": [
                    {
                        "code": code,
                        "customer": {"id": customer},
                        "transaction": [{"number": numbers[code], "amount": "5000"}],
                    }
                    for code in codes
                ]
            }
        }
        _, redeemed, _ = await call(
            admin, "POST", f"{gw}/v1.1/coupon/redeem", json=body, expect=200
        )
        items = redeemed["response"]["coupons"]["coupon"]
        assert [i["item_status"]["code"] for i in items] == [700, 700], redeemed
        redemptions = {i["code"]: str(i["redemption_id"]) for i in items}
        reversed_code = codes[0]
        await call(
            admin,
            "POST",
            f"{gw}/v2/coupon/redemptions/{redemptions[reversed_code]}/reverse",
            json={"reason": "e2e"},
            expect=200,
        )

        # A promotion that may be used once, with a coupon that may be used once.
        limited, limited_code = unique("LIM-").upper(), unique("L").upper()
        await create_discount_promotion(admin, gw, limited, "Once", 100, usageLimit=1)
        await create_coupon(admin, gw, limited, limited_code, usageLimit=1)
        _, once, _ = await call(
            admin,
            "POST",
            f"{gw}/v1.1/coupon/redeem",
            json=redeem_body(limited_code, {"id": customer}),
            expect=200,
        )
        assert item(once)["item_status"]["code"] == 700, once

        # A background generation job (above the synchronous limit of 10,000 codes).
        _, job, _ = await call(
            admin,
            "POST",
            f"{gw}/api/v1/promotions/{limited}/coupons/generate",
            json={"amount": 10_001, "codeLength": 12, "prefix": "WH-"},
            expect=202,
        )

        # A reader activates a subscription coupon and asks to be notified.
        grant, grant_code = unique("GRANT-").upper(), unique("G").upper()
        await create_grant_promotion(admin, gw, grant)
        await create_coupon(admin, gw, grant, grant_code)
        email = f"{unique('hook')}@example.com"
        async with aiohttp.ClientSession(timeout=TIMEOUT) as anonymous:
            registered, login = await register_and_login(anonymous, gw, email)
            _, activated, _ = await call(
                anonymous,
                "POST",
                f"{gw}/api/v1/coupon/activate",
                json={"code": grant_code, "notifyUser": True},
                headers={"Authorization": f"Bearer {login['access']['token']}"},
                expect=200,
            )
        user = registered["user"]["id"]

        _, test, _ = await call(
            admin, "POST", f"{gw}/api/v1/webhooks/{everything['id']}/test", json={}, expect=202
        )

        expected: list[tuple[str, dict[str, Any]]] = [
            *(
                ("coupon.issued", {"code": code, "seriesId": series, "customerId": customer})
                for code in codes
            ),
            *(
                (
                    "coupon.redeemed",
                    {
                        "code": code,
                        "redemptionId": redemptions[code],
                        "transactionNumber": numbers[code],
                        "seriesId": series,
                        "promotionCode": None,
                        "customerId": customer,
                    },
                )
                for code in codes
            ),
            (
                "redemption.reversed",
                {"code": reversed_code, "redemptionId": redemptions[reversed_code]},
            ),
            (
                "limit.reached",
                {"scope": "series", "seriesId": series, "counter": "issues", "limit": 2},
            ),
            (
                "limit.reached",
                {"scope": "series", "seriesId": series, "counter": "redemptions", "limit": 2},
            ),
            (
                "limit.reached",
                {"scope": "promotion", "promotionCode": limited, "code": None, "limit": 1},
            ),
            (
                "limit.reached",
                {"scope": "coupon", "code": limited_code, "promotionCode": limited, "limit": 1},
            ),
            (
                "coupon.activated",
                {
                    "code": grant_code,
                    "promotionCode": grant,
                    "userId": user,
                    "subscriptionId": activated["subscription_id"],
                    "notifyUser": True,
                },
            ),
            (
                "generation.completed",
                {"jobId": str(job["id"]), "promotionCode": limited, "requested": 10_001},
            ),
            ("webhook.test", {"webhookId": everything["id"]}),
        ]
        await until(lambda: _missing(inbox, expected), "every event type", ARRIVAL_S, equals=[])

    events = inbox.accepted()
    assert test["eventId"] in events
    for event in events.values():
        assert event["id"].startswith("evt_"), event
        assert _is_utc_instant(event["timestamp"]), event
    (activation,) = inbox.matching("coupon.activated", code=grant_code)
    assert activation["data"]["notification"] == {
        "userId": str(user),
        "reason": "coupon.activated",
        "code": grant_code,
        "subscriptionId": str(activated["subscription_id"]),
    }
    (generated,) = inbox.matching("generation.completed", jobId=str(job["id"]))
    assert generated["data"]["generated"] == 10_001
    assert generated["data"]["status"] == "done"
    for code in codes:
        (one,) = inbox.matching("coupon.redeemed", code=code)
        assert one["data"]["amount"] is not None
        assert one["data"]["couponValue"] is not None
        assert _is_utc_instant(one["data"]["redeemedAt"])
    for limit in inbox.matching("limit.reached", seriesId=series):
        assert limit["data"]["used"] == limit["data"]["limit"], limit
    # The other endpoint got its type only, with its own secret.
    await until(
        functools.partial(_has_codes, issued_inbox, set(codes)),
        "coupon.issued at the endpoint subscribed to it",
        ARRIVAL_S,
    )
    assert {e["type"] for e in issued_inbox.accepted().values()} == {"coupon.issued"}
    with pytest.raises(WebhookVerificationError):
        verify(receiver.at("/issued")[0], everything["secret"])


async def test_failing_receiver_gets_every_event_once_it_recovers(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """500 for a while, then 200: every event is retried with the same id until it is
    delivered; the attempt log shows both."""
    gw = stack.gateway_url
    receiver.behaviours["/flaky"] = Behaviour(status=500)
    async with subscribed(admin, gw, receiver.url("/flaky"), ["coupon.issued"]) as endpoint:
        inbox = Inbox(receiver, "/flaky", endpoint["secret"])
        series = await _series(admin, gw)
        codes = set(await _issue(admin, gw, series, await _customer(admin, gw), 5))

        def attempts_per_code() -> dict[str, list[str]]:
            ids: dict[str, list[str]] = defaultdict(list)
            for _, event in inbox.deliveries():
                if event["data"]["code"] in codes:
                    ids[event["data"]["code"]].append(event["id"])
            return ids

        def each_failed_twice() -> bool:
            tries = attempts_per_code()
            return tries.keys() == codes and all(len(ids) >= 2 for ids in tries.values())

        await until(each_failed_twice, "two failed attempts of each event", ARRIVAL_S)
        receiver.behaviours["/flaky"] = Behaviour(status=200)
        await until(
            functools.partial(_has_codes, inbox, codes),
            "every event delivered once the receiver answers 200",
            ARRIVAL_S,
        )
        for code, ids in attempts_per_code().items():
            assert len(set(ids)) == 1, f"{code}: retries carry one id, got {ids}"
        delivered = {e["id"] for e in inbox.matching("coupon.issued")}
        rows = await _pages(admin, gw, endpoint["id"], "deliveries", status="delivered")
        by_event = {r["eventId"]: r for r in rows}
        for event_id in delivered:
            assert by_event[event_id]["attempts"] >= 3, by_event[event_id]
        log = [
            a
            for a in await _pages(admin, gw, endpoint["id"], "attempts")
            if a["eventId"] in delivered
        ]
        failed = [a for a in log if a["outcome"] != "delivered"]
        assert {a["httpStatus"] for a in failed} == {500}, failed
        assert all("failing on purpose" in a["response"] for a in failed), failed
        assert {a["eventId"] for a in log if a["outcome"] == "delivered"} == delivered


async def test_receiver_down_during_a_burst_loses_nothing(
    stack: Stack, admin: aiohttp.ClientSession
) -> None:
    """The receiver's port is closed while 1,000 redemptions happen; once it listens again
    all 1,000 coupon.redeemed events arrive."""
    gw = stack.gateway_url
    down = Receiver()  # its port reserved, nobody listening: connections are refused
    try:
        async with subscribed(admin, gw, down.url("/burst"), ["coupon.redeemed"]) as endpoint:
            inbox = Inbox(down, "/burst", endpoint["secret"])
            code, customer = await _hot_coupon(admin, gw)
            redemptions = await _redeem_many(admin, gw, code, customer, BURST)

            async def refused() -> list[dict[str, Any]]:
                _, page, _ = await call(
                    admin,
                    "GET",
                    f"{gw}/api/v1/webhooks/{endpoint['id']}/attempts",
                    params={"limit": "5"},
                    expect=200,
                )
                return [a for a in page["attempts"] if a["outcome"] != "delivered"]

            await until(refused, "attempts refused while the receiver is down", ARRIVAL_S)
            assert down.deliveries == []
            await down.start()
            await until(
                lambda: len(_redeemed_ids(inbox, code)),
                "all the burst's events once the receiver is back",
                90.0,
                equals=BURST,
            )
            received = {
                e["data"]["redemptionId"] for e in inbox.matching("coupon.redeemed", code=code)
            }
            assert received == redemptions
    finally:
        await down.close()


async def test_secret_rotation(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """During the grace period a delivery verifies with the previous secret and the new
    one; with no grace, only with the new one."""
    gw = stack.gateway_url
    async with subscribed(admin, gw, receiver.url("/rotate"), ["coupon.issued"]) as endpoint:
        first = endpoint["secret"]
        series, customer = await _series(admin, gw), await _customer(admin, gw)
        rotate = f"{gw}/api/v1/webhooks/{endpoint['id']}/rotate-secret"
        _, rotated, _ = await call(admin, "POST", rotate, json={}, expect=200)
        second = rotated["secret"]
        assert second.startswith("whsec_")
        assert second != first
        assert (
            datetime.fromisoformat(rotated["previousSecretExpiresAt"]) > datetime.now().astimezone()
        )
        inbox = Inbox(receiver, "/rotate", second)
        (code,) = await _issue(admin, gw, series, customer, 1)
        await until(lambda: inbox.matching("coupon.issued", code=code), "a delivery", ARRIVAL_S)
        delivery = next(d for d, e in inbox.deliveries() if e["data"]["code"] == code)
        verify(delivery, first)  # the previous secret, still in its grace period

        _, again, _ = await call(admin, "POST", rotate, json={"graceHours": 0}, expect=200)
        third = again["secret"]
        inbox = Inbox(receiver, "/rotate", third)
        (later,) = await _issue(admin, gw, series, customer, 1)
        await until(lambda: inbox.matching("coupon.issued", code=later), "a delivery", ARRIVAL_S)
        delivery = next(d for d, e in inbox.deliveries() if e["data"]["code"] == later)
        for retired in (first, second):
            with pytest.raises(WebhookVerificationError):
                Webhook(retired).verify(delivery.body, delivery.headers)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://10.0.0.1/hook",  # private
        "https://[::ffff:10.0.0.1]/hook",  # private, as an IPv4-mapped IPv6 address
        "http://example.com/hook",  # http to a name that is not loopback
        "https://user:secret@127.0.0.1/hook",  # credentials in the URL
    ],
)
async def test_unsafe_urls_are_refused(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver, url: str
) -> None:
    gw = stack.gateway_url
    _, refused, _ = await call(
        admin, "POST", f"{gw}/api/v1/webhooks", json={"url": url, "events": ["*"]}, expect=400
    )
    assert refused["status"] == "error"
    assert refused["code"] == "unsafe_url", refused
    async with subscribed(admin, gw, receiver.url("/safe"), ["*"]) as endpoint:
        _, refused, _ = await call(
            admin,
            "PATCH",
            f"{gw}/api/v1/webhooks/{endpoint['id']}",
            json={"url": url},
            expect=400,
        )
        assert refused["code"] == "unsafe_url", refused
        _, kept, _ = await call(admin, "GET", f"{gw}/api/v1/webhooks/{endpoint['id']}", expect=200)
        assert kept["url"] == receiver.url("/safe")


async def test_disabled_endpoint_receives_nothing(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """Created disabled, or disabled later: nothing arrives, while an enabled endpoint
    subscribed to the same events gets them all."""
    gw = stack.gateway_url
    async with contextlib.AsyncExitStack() as endpoints:
        enabled = await endpoints.enter_async_context(
            subscribed(admin, gw, receiver.url("/on"), ["coupon.issued"])
        )
        await endpoints.enter_async_context(
            subscribed(admin, gw, receiver.url("/off"), ["coupon.issued"], enabled=False)
        )
        later = await endpoints.enter_async_context(
            subscribed(admin, gw, receiver.url("/later"), ["coupon.issued"])
        )
        _, patched, _ = await call(
            admin,
            "PATCH",
            f"{gw}/api/v1/webhooks/{later['id']}",
            json={"enabled": False},
            expect=200,
        )
        assert patched["enabled"] is False
        inbox = Inbox(receiver, "/on", enabled["secret"])
        series, customer = await _series(admin, gw), await _customer(admin, gw)
        for _ in range(2):  # the second round gives the deliverer time to be wrong
            codes = set(await _issue(admin, gw, series, customer, 3))
            await until(
                functools.partial(_has_codes, inbox, codes),
                "the enabled endpoint's deliveries",
                ARRIVAL_S,
            )
        assert receiver.at("/off") == []
        assert receiver.at("/later") == []


async def test_two_replicas_never_attempt_one_delivery_at_once(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """Both replicas deliver to one endpoint that fails each event's first attempt and is
    slow to answer: at the receiver, no two requests of one event overlap; in the attempt
    log, no attempt of a delivery starts before the previous one ended; every event is
    delivered."""
    gw = stack.gateway_url
    replicas = stack.services["webhook"]
    assert len(replicas) == 2
    before = [await _attempts_made(replica.url) for replica in replicas]
    receiver.behaviours["/shared"] = Behaviour(failures=1, delay_s=0.05)
    async with subscribed(admin, gw, receiver.url("/shared"), ["coupon.redeemed"]) as endpoint:
        inbox = Inbox(receiver, "/shared", endpoint["secret"])
        code, customer = await _hot_coupon(admin, gw)
        await _redeem_many(admin, gw, code, customer, 200)
        await until(
            lambda: len(_redeemed_ids(inbox, code)), "every event delivered", 60.0, equals=200
        )
        after = [await _attempts_made(replica.url) for replica in replicas]
        assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
        assert receiver.max_overlap == 1
        delivered = _redeemed_ids(inbox, code)
        attempts: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for a in await _pages(admin, gw, endpoint["id"], "attempts"):
            start = datetime.fromisoformat(a["attemptedAt"]).timestamp()
            attempts[a["eventId"]].append((start, start + a["latencyMs"] / 1000))
        assert delivered <= attempts.keys()
        for event_id in delivered:
            spans = sorted(attempts[event_id])
            assert len(spans) >= 2, (event_id, spans)
            for (_, end), (next_start, _) in itertools.pairwise(spans):
                # 1 ms: the log's times are rounded to the microsecond, latencies are not.
                assert next_start >= end - 0.001, (event_id, spans)


async def test_deliverer_killed_mid_batch_loses_nothing(
    stack: Stack, admin: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """SIGKILL to one replica of the webhook-service while its requests to a slow receiver
    are in flight (the other delivers on), then to the other one too; once they are
    restarted every event arrives, those whose attempt was cut off too (their claims
    lapse and are attempted again, with the same id)."""
    gw = stack.gateway_url
    replicas = stack.services["webhook"]
    receiver.behaviours["/killed"] = Behaviour(delay_s=0.1)
    n = 400
    async with subscribed(admin, gw, receiver.url("/killed"), ["coupon.redeemed"]) as endpoint:
        inbox = Inbox(receiver, "/killed", endpoint["secret"])
        code, customer = await _hot_coupon(admin, gw)
        redemptions = await _redeem_many(admin, gw, code, customer, n)
        await until(
            lambda: len(_redeemed_ids(inbox, code)) >= 20 and receiver.in_flight > 0,
            "deliveries under way",
            ARRIVAL_S,
        )
        replicas[0].kill()
        survivor_from = len(_redeemed_ids(inbox, code)) + 20
        await until(
            lambda: len(_redeemed_ids(inbox, code)) >= survivor_from and receiver.in_flight > 0,
            "the other replica delivering on",
            ARRIVAL_S,
        )
        replicas[1].kill()
        assert len(_redeemed_ids(inbox, code)) < n, "killed after the batch, not in it"
        for replica in replicas:
            replica.start()
        for replica in replicas:
            await until(_probe(replica.url), f"{replica.name} ready again", 60.0)
        await until(
            lambda: len(_redeemed_ids(inbox, code)),
            "every event after the restart",
            90.0,
            equals=n,
        )
        received = {e["data"]["redemptionId"] for e in inbox.matching("coupon.redeemed", code=code)}
        assert received == redemptions
        cut = {d.event_id for d, _ in inbox.deliveries() if d.status == CLIENT_GONE}
        assert cut, "no attempt was in flight when the replicas were killed"
        assert cut <= _redeemed_ids(inbox, code)


def _probe(url: str) -> Callable[[], Any]:
    return lambda: _ready(url)
