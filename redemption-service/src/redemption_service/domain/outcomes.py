"""What redeem answered per item, tallied in memory by one replica between two flushes
(workers/stats.py adds them to PostgreSQL): per UTC day, item status and whether the item
was redeemed. Refusals are not in the ledger; this is where they are counted.

Counting is a dictionary update per item once the answer is committed: nothing on the
redeem path waits for it, and it makes no call to a store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime

from redemption_service.domain.models import Judged

DAY_S = 86_400

# (UTC day, item status, redeemed) -> items
Tallies = Counter[tuple[date, int, bool]]


class OutcomeTally:
    """One replica's counts since its last flush."""

    def __init__(self) -> None:
        self._pending: Tallies = Counter()
        self._day_start = -1  # the UTC day (Unix seconds of its start) _day is
        self._day = date.min

    @property
    def pending(self) -> int:
        """Counts waiting for the next flush (distinct keys)."""
        return len(self._pending)

    def count(self, judged: Iterable[Judged], *, now: float) -> None:
        """Count what one redeem answered, each item once, at ``now`` (Unix seconds)."""
        day_start = int(now) // DAY_S * DAY_S
        if day_start != self._day_start:
            self._day_start = day_start
            self._day = datetime.fromtimestamp(day_start, UTC).date()
        pending, day = self._pending, self._day
        for entry in judged:
            pending[day, int(entry.status), entry.redemption_id is not None] += 1

    def take(self) -> Tallies:
        """The counts since the last take; counting starts again from zero."""
        taken, self._pending = self._pending, Counter()
        return taken

    def give_back(self, tallies: Tallies) -> None:
        """Counts a flush did not write, for the next one."""
        self._pending.update(tallies)
