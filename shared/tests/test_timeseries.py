"""The stats windows: UTC buckets ending with the current hour and day, zero-filled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from coupon_core.errors import ValidationFailed
from coupon_core.http import parse_model
from coupon_core.timeseries import WindowQuery, filled, per_day, window


def test_buckets_end_with_the_current_hour_and_day_in_utc() -> None:
    # 01:30 in UTC+02:00 is 23:30 UTC the day before.
    now = datetime(2030, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    w = window(hours=3, days=2, now=now)
    assert w.hours == (
        datetime(2030, 3, 1, 21, tzinfo=UTC),
        datetime(2030, 3, 1, 22, tzinfo=UTC),
        datetime(2030, 3, 1, 23, tzinfo=UTC),
    )
    assert w.days == (date(2030, 2, 28), date(2030, 3, 1))
    assert w.since == datetime(2030, 2, 28, tzinfo=UTC)
    assert window(hours=48, days=1, now=now).since == datetime(2030, 2, 28, 0, tzinfo=UTC)


def test_every_bucket_is_there_with_zero_where_nothing_happened() -> None:
    w = window(hours=4, days=3, now=datetime(2030, 3, 2, 0, 5, tzinfo=UTC))
    counts = {datetime(2030, 3, 1, 22, tzinfo=UTC): 4, datetime(2030, 3, 2, tzinfo=UTC): 1}
    assert [n for _, n in filled(w.hours, counts)] == [0, 4, 0, 1]
    days = per_day(counts.items())
    assert filled(w.days, days) == [
        (date(2030, 2, 28), 0),
        (date(2030, 3, 1), 4),
        (date(2030, 3, 2), 1),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"hours": "0"}, "hours"),
        ({"hours": "169"}, "hours"),
        ({"hours": "two"}, "hours"),
        ({"days": "91"}, "days"),
        ({"days": ""}, "days"),
        ({"weeks": "2"}, "weeks"),
    ],
)
def test_a_bad_window_names_its_parameter(query: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_model(WindowQuery, query)
    assert list(refused.value.fields) == [field]


def test_the_default_window_is_48_hours_and_30_days() -> None:
    assert parse_model(WindowQuery, {}) == WindowQuery(hours=48, days=30)
    assert parse_model(WindowQuery, {"hours": "168", "days": "90"}).days == 90
