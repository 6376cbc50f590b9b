"""Rules without a server: codes, dates, facts."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from coupon_core.facts import Discount
from promotion_service.domain import codes
from promotion_service.domain.facts import group_facts
from promotion_service.domain.models import Promotion
from promotion_service.domain.times import format_date, parse_date

PARIS = ZoneInfo("Europe/Paris")


def test_codes_avoid_look_alikes_and_repeat_nowhere() -> None:
    assert not set(codes.ALPHABET) & set("0O1IL2Z5S8BUVDQJ")
    made = codes.random_codes(50_000, code_length=6, prefix="P-", suffix="-S")
    assert len(made) == 50_000
    for code in made:
        assert code.startswith("P-")
        assert code.endswith("-S")
        assert set(code[2:-2]) <= set(codes.ALPHABET)
        assert len(code) == 10
    # Every character of the alphabet turns up, evenly enough.
    counts = {ch: 0 for ch in codes.ALPHABET}
    for code in made:
        for ch in code[2:-2]:
            counts[ch] += 1
    assert min(counts.values()) > 0.8 * 300_000 / len(codes.ALPHABET)


def test_keyspace_headroom() -> None:
    assert codes.keyspace(3) == 8_000
    assert codes.keyspace_holds(code_length=3, amount=400, existing=0)
    assert not codes.keyspace_holds(code_length=3, amount=400, existing=1)
    assert codes.keyspace_holds(code_length=12, amount=10_000_000, existing=10_000_000)


def test_dates() -> None:
    assert format_date(parse_date("2020-01-01", PARIS), PARIS) == "2020-01-01T00:00:00+0100"
    assert format_date(parse_date("2020-07-01T12:00:00Z", PARIS), UTC) == "2020-07-01T12:00:00+0000"
    assert format_date(parse_date("2020-07-01 12:00", UTC), PARIS) == "2020-07-01T14:00:00+0200"
    for bad in ("2020-02-30", "01/02/2020", "2020-01-01T25:00", "", "0001-01-01", "yesterday"):
        with pytest.raises(ValueError, match=r".*"):
            parse_date(bad, UTC)


def test_group_facts_from_actions_and_rules() -> None:
    now = datetime.now(UTC)
    promo = Promotion(
        id=1,
        code="P1",
        name="P",
        description=None,
        priority=0,
        exclusive=False,
        usage_limit=3,
        used=0,
        coupon_based=True,
        starts_at=None,
        ends_at=None,
        rules=[{"type": "nth_order", "configuration": {"nth": 2}}],
        actions=[{"type": "order_percentage_discount", "configuration": {"percentage": 0.125}}],
        channels=[],
        created_at=now,
        updated_at=now,
    )
    facts = group_facts(promo)
    assert facts.group == "P:P1"
    assert facts.total_limit == 3
    assert facts.discount == Discount(type="PERC", value=12.5)
    assert facts.min_amount is None
    assert facts.description == "P"
