"""Prometheus metrics: one registry per application.

Every process gets the HTTP metrics, ``redis_script_duration_seconds`` (filled by the scripts
:func:`coupon_core.scripts.load_scripts` returns when given the histogram),
``event_loop_lag_seconds`` and ``gc_pause_seconds`` (:mod:`coupon_core.looplag`),
``store_up`` (each data store checked at scrape time) and
``outbox_oldest_unpublished_age_seconds`` (set at scrape time where an ``outbox`` table
exists). Business metrics are declared here, once, as :class:`Family` values so their names
and labels stay stable; a service registers the ones it produces with :meth:`Metrics.counter`
and friends. docs/operations.md lists them and deploy/grafana/coupon-platform.json plots them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The ``route`` of a request no route template matches: one label, whatever the path.
UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCRIPT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    # A histogram's buckets (seconds); counters and gauges have none.
    buckets: tuple[float, ...] = ()


# issuance-service
ISSUES = Family(
    "coupon_issues_total",
    "Coupons issued from a series, by endpoint (issue, multiple).",
    ("endpoint",),
)
# redemption-service
REDEMPTION_ITEMS = Family(
    "coupon_redemption_items_total",
    "Coupons judged by redeem requests, by Capillary item status (700 = redeemed).",
    ("status",),
)
REVERSALS = Family(
    "coupon_reversals_total",
    "Reversal requests, by outcome (reversed, or the error code).",
    ("outcome",),
)
ACTIVATIONS = Family(
    "coupon_activations_total",
    "Activation requests, by outcome (activated or the error code).",
    ("outcome",),
)
# issuance- and redemption-service
LIMIT_REJECTIONS = Family(
    "coupon_limit_rejections_total",
    "Requests refused because a limit was reached, by the kind of limit.",
    ("limit",),
)
# every service with an outbox (coupon_core.retention)
RETENTION_REMOVED = Family(
    "retention_removed_total", "Rows or keys removed by retention, by task.", ("task",)
)
RETENTION_LAG = Family(
    "retention_lag_seconds",
    "How long the oldest row or key past retention has been waiting, by job (0: none; "
    "measured by every replica each interval).",
    ("task",),
)
RETENTION_ERRORS = Family(
    "retention_errors_total",
    "Retention job runs that failed (the other jobs still ran), by task.",
    ("task",),
)
RETENTION_LAST_PASS = Family(
    "retention_last_pass_timestamp_seconds",
    "Unix time this replica last ran a retention pass (replicas take turns: alert on the "
    "newest over all replicas).",
)
# promotion-service
GENERATED_CODES = Family(
    "coupon_generated_codes_total", "Codes written by bulk generation (requests and jobs)."
)
GENERATION_JOBS = Family(
    "coupon_generation_jobs_total", "Generation jobs that ended, by final state.", ("state",)
)
GENERATION_BACKLOG = Family(
    "coupon_generation_pending_codes",
    "Codes that unfinished generation jobs still have to write (at scrape time).",
)
# every service with an outbox: its stream, as its relay sees it (coupon_core.streams)
STREAM_LENGTH = Family("event_stream_length", "Entries in the service's event stream.", ("stream",))
CONSUMER_LAG = Family(
    "event_consumer_lag",
    "Entries a consumer group has not acknowledged: pending, plus not yet delivered "
    "(on Redis < 7 estimated from the stream's entry ids).",
    ("stream", "group"),
)
TRIMMED_UNCONSUMED = Family(
    "events_trimmed_unconsumed_total",
    "Entries the stream's cap (STREAM_MAX_ENTRIES) trimmed before a group consumed them; "
    "recorded as a gap and replayed from the outbox.",
    ("stream", "group"),
)
EVENTS_LOST = Family(
    "events_lost_total",
    "Events of a gap that could not be replayed: outbox retention had removed them.",
    ("stream", "group"),
)
STREAM_GAPS = Family(
    "event_stream_gaps_open",
    "Consumer groups of the stream with trimmed events still to replay.",
    ("stream",),
)
# webhook-service
WEBHOOK_DELIVERIES = Family(
    "webhook_deliveries_total",
    "Delivery attempts by outcome (delivered, http_error, timeout, refused, network_error), "
    "and deliveries given up once their retry window passed (failed).",
    ("outcome",),
)
WEBHOOK_PENDING = Family(
    "webhook_pending", "Deliveries neither delivered nor given up yet (at scrape time)."
)
WEBHOOK_RETRY_QUEUE = Family(
    "webhook_retry_queue",
    "Pending deliveries that failed at least once: waiting for a retry (at scrape time).",
)
WEBHOOK_ENDPOINTS_DISABLED = Family(
    "webhook_endpoints_disabled",
    "Webhook endpoints disabled, after failing too long or by request (at scrape time).",
)
WEBHOOK_LAG = Family(
    "webhook_lag_seconds",
    "From an event's occurrence (its outbox row) to the 2xx of its delivery, per delivery.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 21_600.0),
)
WEBHOOK_ATTEMPT = Family(
    "webhook_attempt_seconds",
    "Time of one delivery attempt, from the request to the answer read (or the failure).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class Metrics:
    """Holds the registry of one application; services register business metrics on it."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests served, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.script_duration = Histogram(
            "redis_script_duration_seconds",
            "Time of one Lua script call (a round trip to Redis), by script.",
            ["script"],
            buckets=SCRIPT_BUCKETS,
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "outbox_oldest_unpublished_age_seconds",
            "Age of the oldest outbox row not yet relayed to Redis Streams (0: none waiting).",
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "event_loop_lag_seconds",
            "How late the event loop woke from a periodic sleep (LOOP_LAG_INTERVAL_S): the "
            "time every waiting request of this process also waited.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.gc_pause = Histogram(
            "gc_pause_seconds",
            "Time of one garbage collection (the event loop stands still), by generation.",
            ["generation"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.store_up = Gauge(
            "store_up",
            "1 when the data store (postgres, redis) answered this process's last check, "
            "at a scrape or a /readyz probe; 0 when it did not.",
            ["store"],
            registry=self.registry,
        )
        # (method, route, status) -> its request counter and duration histogram children.
        self._served: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        # None until the first scrape has looked for an outbox table.
        self.has_outbox: bool | None = None
        self._families: dict[str, Counter | Gauge | Histogram] = {}
        # Called with the application before each scrape, to set gauges read from the stores.
        self.scrape_hooks: list[Callable[[Any], Awaitable[None]]] = []

    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        """Counts one HTTP request and its duration. The labelled series are looked up once
        per (method, route, status), not per request (their labels are bounded)."""
        key = (method, route, status)
        children = self._served.get(key)
        if children is None:
            children = self._served[key] = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def counter(self, family: Family) -> Counter:
        found = self._families.get(family.name)
        if found is None:
            found = Counter(family.name, family.help, family.labels, registry=self.registry)
            self._families[family.name] = found
        assert isinstance(found, Counter)
        return found

    def gauge(self, family: Family) -> Gauge:
        found = self._families.get(family.name)
        if found is None:
            found = Gauge(family.name, family.help, family.labels, registry=self.registry)
            self._families[family.name] = found
        assert isinstance(found, Gauge)
        return found

    def histogram(self, family: Family) -> Histogram:
        found = self._families.get(family.name)
        if found is None:
            found = Histogram(
                family.name,
                family.help,
                family.labels,
                buckets=family.buckets or LATENCY_BUCKETS,
                registry=self.registry,
            )
            self._families[family.name] = found
        assert isinstance(found, Histogram)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
