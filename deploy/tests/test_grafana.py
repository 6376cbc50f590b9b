"""The Grafana dashboard plots only metrics the processes export, and docs/operations.md
describes every metric."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from coupon_core import metrics as core_metrics
from coupon_core.metrics import Family, Metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "coupon-platform.json"
OPERATIONS = ROOT / "docs" / "operations.md"
# Exported by the redemption- and issuance-service's reconcilers (their own collectors).
RECONCILER = {
    "redemption_counter_drift",
    "redemption_counter_drift_repaired_total",
    "issuance_counter_drift",
    "issuance_counter_drift_repaired_total",
}
SUFFIXES = ("_bucket", "_count", "_sum")
# Grouping clauses, selectors, ranges and strings name labels, not metrics.
NOT_NAMES = re.compile(r"by \([^)]*\)|\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"")
NAME = re.compile(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()")


def families() -> list[Family]:
    return [v for v in vars(core_metrics).values() if isinstance(v, Family)]


def exported() -> set[str]:
    names = {f.name for f in families()} | RECONCILER
    rendered = Metrics("any").render().decode()
    return names | set(re.findall(r"^# TYPE (\S+) ", rendered, re.MULTILINE))


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _plotted(panel: dict[str, Any]) -> set[str]:
    """The metric names a panel's queries name (a row has none)."""
    expressions = [NOT_NAMES.sub(" ", target["expr"]) for target in panel.get("targets", [])]
    return {name for expr in expressions for name in NAME.findall(expr)}


def test_every_plotted_metric_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    known = exported()
    plotted: set[str] = set()
    for panel in dashboard["panels"]:
        plotted |= _plotted(panel)
    unknown = sorted(n for n in plotted if n not in known and _base(n) not in known)
    assert unknown == []
    assert {f.name for f in families()} <= {_base(n) for n in plotted} | plotted


def test_operations_guide_lists_every_metric() -> None:
    text = OPERATIONS.read_text()
    missing = sorted(name for name in exported() if f"`{name}`" not in text)
    assert missing == []


def test_the_webhooks_row_plots_the_deliverer() -> None:
    """Deliveries by outcome, the retry queue, the lag and the disabled endpoints (and the
    deliverer's other metrics), in a row of their own below the rest."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    (row,) = [p for p in panels if p["type"] == "row" and p["title"] == "Webhooks"]
    below = [p for p in panels if p["gridPos"]["y"] > row["gridPos"]["y"]]
    plotted = {_base(name) for panel in below for name in _plotted(panel)}
    assert plotted >= {
        "webhook_deliveries_total",
        "webhook_retry_queue",
        "webhook_lag_seconds",
        "webhook_endpoints_disabled",
    }
    assert all(name.startswith("webhook_") for name in plotted)
    above = [p for p in panels if p is not row and p not in below]
    assert all(p["gridPos"]["y"] < row["gridPos"]["y"] for p in above)
    queries = " ".join(t["expr"] for p in below for t in p["targets"])
    assert "sum by (outcome) (rate(webhook_deliveries_total[5m]))" in queries
    assert "histogram_quantile(0.5," in queries
    assert "histogram_quantile(0.99," in queries
