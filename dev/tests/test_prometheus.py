"""Reading a /metrics page: the one parser the tests and the benchmarks share."""

from __future__ import annotations

from coupon_dev.testing.prometheus import by_label, parse, samples

PAGE = """\
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/a",status="200"} 3.0
http_requests_total{method="POST",route="/a",status="201"} 1.0
# HELP lag_seconds Loop lag.
# TYPE lag_seconds histogram
lag_seconds_bucket{le="0.01"} 4.0
lag_seconds_bucket{le="+Inf"} 5.0
lag_seconds_count 5.0
lag_seconds_sum 0.02
"""


def test_samples_are_keyed_by_name_and_sorted_labels() -> None:
    found = samples(PAGE)
    assert (
        found["http_requests_total", (("method", "GET"), ("route", "/a"), ("status", "200"))] == 3
    )
    assert found["lag_seconds_count", ()] == 5
    assert len(found) == 6


def test_by_label_keys_one_series_by_one_label() -> None:
    assert by_label(PAGE, "lag_seconds_bucket", "le") == {"0.01": 4.0, "+Inf": 5.0}
    assert by_label(PAGE, "http_requests_total", "status") == {"200": 3.0, "201": 1.0}


def test_parse_gives_every_sample_with_its_labels() -> None:
    parsed = parse(PAGE)
    assert [s.name for s in parsed][:2] == ["http_requests_total", "http_requests_total"]
    assert parsed[1].labels == {"method": "POST", "route": "/a", "status": "201"}
