"""A history of operations against the live stack, and the checks the concurrency and
fault tests run on it: no limit exceeded, no acknowledged write lost.

Every request is recorded with its start, end and outcome. An operation is *acknowledged*
when the platform answered success; *failed* when it answered a definite refusal; and
*indeterminate* when there was no answer (timeout, connection cut): it may or may not have
happened, and the checks allow for both.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True, slots=True)
class Operation:
    kind: str  # e.g. "redeem", "issue", "reverse"
    key: str  # what it acts on, e.g. a coupon code or a series id
    start: float
    end: float
    outcome: Outcome
    result: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"redemptionId": "..."}


@dataclass
class History:
    operations: list[Operation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        kind: str,
        key: str,
        start: float,
        outcome: Outcome,
        result: Mapping[str, Any] | None = None,
    ) -> Operation:
        operation = Operation(kind, key, start, time.monotonic(), outcome, dict(result or {}))
        with self._lock:
            self.operations.append(operation)
        return operation

    def of(self, kind: str, key: str | None = None) -> list[Operation]:
        return [o for o in self.operations if o.kind == kind and (key is None or o.key == key)]

    def count(self, kind: str, outcome: Outcome) -> Counter[str]:
        return Counter(o.key for o in self.operations if o.kind == kind and o.outcome is outcome)


class Violation(AssertionError):
    """The history breaks an invariant of SPEC section 6."""


def check_limit(
    history: History, kind: str, limits: Mapping[str, int], observed: Mapping[str, int]
) -> None:
    """Per key: acknowledged ≤ observed ≤ min(limit, acknowledged + indeterminate).

    ``observed`` is what the ledger says after the run. The left side is "no acknowledged
    write lost", the right side "no limit exceeded, and nothing happened that nobody asked
    for"."""
    acknowledged = history.count(kind, Outcome.OK)
    indeterminate = history.count(kind, Outcome.INDETERMINATE)
    problems = []
    for key, limit in limits.items():
        ok, maybe, seen = acknowledged[key], indeterminate[key], observed.get(key, 0)
        if ok > limit:
            problems.append(f"{key}: {ok} acknowledged, limit {limit}")
        if seen > limit:
            problems.append(f"{key}: ledger holds {seen}, limit {limit}")
        if seen < ok:
            problems.append(f"{key}: {ok} acknowledged but ledger holds {seen} (lost writes)")
        if seen > ok + maybe:
            problems.append(f"{key}: ledger holds {seen} > {ok} acknowledged + {maybe} unanswered")
    if problems:
        raise Violation("; ".join(problems))


def check_acknowledged_present(
    history: History, kind: str, field_name: str, stored: Iterable[str]
) -> None:
    """Every acknowledged operation's ``field_name`` (e.g. its redemption id) is in ``stored``."""
    present = set(stored)
    lost = [
        str(o.result.get(field_name))
        for o in history.of(kind)
        if o.outcome is Outcome.OK and str(o.result.get(field_name)) not in present
    ]
    if lost:
        raise Violation(f"{len(lost)} acknowledged {kind} operations missing: {lost[:10]}")
