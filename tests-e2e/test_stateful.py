"""A Hypothesis state machine that models series, customers, issued coupons and redemptions
and drives the live stack through the gateway. After every step the stack must agree with
the model: each redeem succeeds exactly when the model says it may, no series goes past its
limit, and numRedeemed / redemptionCount converge to the model's live redemptions."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import requests
from coupon_dev.stack import Stack
from coupon_dev.testing.poll import until_sync
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from support.stacks import ADMIN_TOKEN

PER_COUPON = 2
DEADLINE_S = 5.0


@dataclass
class Series:
    id: int
    limit: int
    any_user: bool
    live: int = 0


@dataclass
class Coupon:
    code: str
    series: Series
    owner: int
    live: int = 0


@dataclass
class Redemption:
    id: str
    coupon: Coupon


@dataclass
class Model:
    series: list[Series] = field(default_factory=list)
    coupons: list[Coupon] = field(default_factory=list)


def _mobile() -> str:
    return "8" + str(uuid.uuid4().int)[:11]


class Platform(RuleBasedStateMachine):
    stack: Stack  # set by the test
    steps: Counter[str] = Counter()  # over every run: what the machine exercised

    series = Bundle("series")
    customers = Bundle("customers")
    coupons = Bundle("coupons")
    redemptions = Bundle("redemptions")

    def __init__(self) -> None:
        super().__init__()
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        self.model = Model()

    def _call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, self.stack.gateway_url + path, timeout=30, **kwargs)
        assert response.status_code == expect, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json()

    @rule(target=series, limit=st.integers(1, 3), any_user=st.booleans())
    def create_series(self, limit: int, any_user: bool) -> Series:
        body = self._call(
            "POST",
            "/v2/coupon/series",
            201,
            json={
                "description": "stateful",
                "discountType": "PERC",
                "discountValue": 10,
                "validTillDate": "2099-01-01T00:00:00Z",
                "maxRedeem": limit,
                "redemptionPerCouponMaxLimit": PER_COUPON,
                "sameUserMultipleRedeem": True,
                "anyUser": any_user,
            },
        )
        created = Series(body["id"], limit, any_user)
        self.model.series.append(created)
        return created

    @rule(target=customers)
    def create_customer(self) -> int:
        return int(self._call("POST", "/v2/customers", 201, json={"mobile": _mobile()})["id"])

    @rule(target=coupons, series=series, customer=customers)
    def issue(self, series: Series, customer: int) -> Coupon:
        body = self._call(
            "POST", "/v2/coupon/issue", json={"seriesId": series.id, "customer": {"id": customer}}
        )
        coupon = Coupon(body["code"], series, customer)
        self.model.coupons.append(coupon)
        return coupon

    # A customer and a coupon any customer may redeem, from the first step: every run can
    # exercise the successful path, not only the refusals.
    @initialize(target=customers)
    def seed_customer(self) -> int:
        # A rule called directly returns its value; hypothesis types it as maybe MultipleResults.
        return cast(int, self.create_customer())

    @initialize(target=coupons)
    def seed_coupon(self) -> Coupon:
        return cast(
            Coupon,
            self.issue(self.create_series(limit=3, any_user=True), self.create_customer()),
        )

    @rule(target=redemptions, coupon=coupons, customer=customers, amount=st.integers(1, 10_000))
    def redeem(self, coupon: Coupon, customer: int, amount: int) -> Redemption | None:
        may = (
            (coupon.series.any_user or coupon.owner == customer)
            and coupon.live < PER_COUPON
            and coupon.series.live < coupon.series.limit
        )
        body = self._call(
            "POST",
            "/v1.1/coupon/redeem",
            json={
                "root": {
                    "coupon": [
                        {
                            "code": coupon.code,
                            "customer": {"id": str(customer)},
                            "transaction": [{"number": uuid.uuid4().hex, "amount": str(amount)}],
                        }
                    ]
                }
            },
        )
        item = body["response"]["coupons"]["coupon"]
        status = item["item_status"]
        done = status["code"] == 700 and status["success"] == "true"
        self.steps[f"redeem {status['code']}"] += 1
        assert done == may, f"model says {may}, stack answered {status} for {coupon}"
        if not done:
            return None
        coupon.live += 1
        coupon.series.live += 1
        return Redemption(item["redemption_id"], coupon)

    @rule(redemption=consumes(redemptions), twice=st.booleans())
    def reverse(self, redemption: Redemption | None, twice: bool) -> None:
        if redemption is None:
            return
        path = f"/v2/coupon/redemptions/{redemption.id}/reverse"
        for _ in range(2 if twice else 1):
            body = self._call("POST", path, json={"reason": "stateful"})
            assert body["reversal"]["reversed"] is True
        self.steps["reverse"] += 1
        redemption.coupon.live -= 1
        redemption.coupon.series.live -= 1

    @invariant()
    def counters_follow_the_ledger(self) -> None:
        for series in self.model.series:
            assert series.live <= series.limit
            until_sync(
                self._num_redeemed_is(series.id, series.live),
                f"series {series.id}: numRedeemed {series.live}",
                DEADLINE_S,
            )

    def _num_redeemed_is(self, series_id: int, live: int) -> Callable[[], bool]:
        path = f"/v2/coupon/series/{series_id}"
        return lambda: bool(self._call("GET", path)["numRedeemed"] == live)

    def teardown(self) -> None:
        self.http.close()


@pytest.mark.timeout(300)
def test_platform_state_machine(stack: Stack) -> None:
    Platform.stack = stack
    run_state_machine_as_test(
        Platform,
        settings=settings(
            max_examples=10,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(dict(Platform.steps))
    assert Platform.steps["redeem 700"] > 0
