"""A slow sweep: every item of a list visited once per period, a slice per pass.

A reconciler checks what changed since its last pass, plus ``Sweep.take()`` of everything
else, so that drift nobody touches is found within the period (docs/redemption.md and
docs/issuance.md, "Reconciler")."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Sweep(Generic[T]):
    def __init__(self, *, interval_s: float, period_s: float) -> None:
        # The share of the items due each pass, the fraction carried over: a few items are
        # visited one every few passes rather than one every pass.
        self.share = min(1.0, max(interval_s, 1e-3) / period_s)
        self.items: list[T] = []
        self.position = 0
        self.credit = 0.0

    @property
    def exhausted(self) -> bool:
        """Whether the sweep is through its items (and wants a new list: :meth:`restart`)."""
        return self.position >= len(self.items)

    def restart(self, items: Iterable[T]) -> None:
        self.items, self.position = list(items), 0

    def take(self) -> list[T]:
        """The items due this pass."""
        self.credit += len(self.items) * self.share
        due = math.floor(self.credit)
        self.credit -= due
        taken = self.items[self.position : self.position + due]
        self.position += len(taken)
        return taken
