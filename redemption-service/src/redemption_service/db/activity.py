"""What the reconciler reads at volume: the ledger's recent changes, and the live uses of
chosen counters (migration 0006: each query is served by an index, never a whole group)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from coupon_core import redis_keys
from coupon_core.db import Connection

# The (group, code, customer) pairs redeemed (redemptions_by_time on redeemed_at, current
# partitions only) or reversed (partial index on reversed_at) at or after $1.
CHANGED = """
SELECT group_ref, code, customer_id FROM redemptions WHERE redeemed_at >= $1
UNION
SELECT group_ref, code, customer_id FROM redemptions WHERE reversed_at >= $1
"""

# Live uses of a group's total, of codes, of customers and of (code, customer) pairs: one
# row per counter, (kind, code, customer, uses), the archived months' rollups included.
SCOPED = """
SELECT 'total' AS kind, '' AS code, '' AS customer_id, (
    (SELECT count(*) FROM redemptions WHERE group_ref = $1 AND reversed_at IS NULL)
    + (SELECT coalesce(sum(uses), 0) FROM redemption_rollups WHERE group_ref = $1)
)::bigint AS n
UNION ALL
SELECT 'coupon', code, '', sum(n)::bigint FROM (
    SELECT code, count(*) AS n FROM redemptions
    WHERE group_ref = $1 AND reversed_at IS NULL AND code = ANY($2::text[]) GROUP BY code
    UNION ALL
    SELECT code, uses FROM redemption_rollups WHERE group_ref = $1 AND code = ANY($2::text[])
) AS c GROUP BY code
UNION ALL
SELECT 'cust', '', customer_id, sum(n)::bigint FROM (
    SELECT customer_id, count(*) AS n FROM redemptions
    WHERE group_ref = $1 AND reversed_at IS NULL AND customer_id = ANY($3::text[])
    GROUP BY customer_id
    UNION ALL
    SELECT customer_id, uses FROM redemption_rollups
    WHERE group_ref = $1 AND customer_id = ANY($3::text[])
) AS u GROUP BY customer_id
UNION ALL
SELECT 'cc', p.code, p.customer_id, (
    (SELECT count(*) FROM redemptions r WHERE r.group_ref = $1 AND r.reversed_at IS NULL
        AND r.code = p.code AND r.customer_id = p.customer_id)
    + (SELECT coalesce(sum(uses), 0) FROM redemption_rollups o WHERE o.group_ref = $1
        AND o.code = p.code AND o.customer_id = p.customer_id)
)::bigint FROM unnest($4::text[], $5::text[]) AS p(code, customer_id)
"""

# Every group with live uses: a skip scan of redemptions_live_uses (one index probe per
# group and partition), not a read of the ledger; and every group of the archived months.
GROUPS = """
WITH RECURSIVE g AS (
    SELECT min(group_ref) AS ref FROM redemptions WHERE reversed_at IS NULL
    UNION ALL
    SELECT (SELECT min(group_ref) FROM redemptions WHERE reversed_at IS NULL AND group_ref > g.ref)
    FROM g WHERE g.ref IS NOT NULL
)
SELECT ref FROM g WHERE ref IS NOT NULL
UNION
SELECT group_ref FROM redemption_rollups
ORDER BY 1
"""

Pair = tuple[str, str]


async def changed_since(conn: Connection, since: datetime) -> dict[str, set[Pair]]:
    """The ``(code, customer_id)`` pairs of each group redeemed or reversed since ``since``."""
    changed: dict[str, set[Pair]] = defaultdict(set)
    for row in await conn.fetch(CHANGED, since):
        changed[row["group_ref"]].add((row["code"], row["customer_id"]))
    return dict(changed)


async def clock(conn: Connection) -> datetime:
    """The database's clock now (the ledger's timestamps are the database's)."""
    now: datetime = await conn.fetchval("SELECT clock_timestamp()")
    return now


async def scoped_counters(conn: Connection, group: str, pairs: Iterable[Pair]) -> dict[str, int]:
    """What the ledger says of every counter a use of one of ``pairs`` takes: the group's
    total, and each pair's coupon, customer and coupon-by-customer counts (0 included)."""
    unique = sorted(set(pairs))
    codes = sorted({code for code, _ in unique})
    customers = sorted({customer for _, customer in unique})
    rows = await conn.fetch(
        SCOPED,
        group,
        codes,
        customers,
        [code for code, _ in unique],
        [customer for _, customer in unique],
    )
    want = {redis_keys.redeemed_total(group): 0}
    want.update({redis_keys.redeemed_coupon(group, code): 0 for code in codes})
    want.update({redis_keys.redeemed_by_customer(group, c): 0 for c in customers})
    for row in rows:
        kind, code, customer, n = row["kind"], row["code"], row["customer_id"], int(row["n"])
        if kind == "total":
            want[redis_keys.redeemed_total(group)] = n
        elif kind == "coupon":
            want[redis_keys.redeemed_coupon(group, code)] = n
        elif kind == "cust":
            want[redis_keys.redeemed_by_customer(group, customer)] = n
        else:
            want[redis_keys.redeemed_coupon_by_customer(group, code, customer)] = n
    return want


async def groups(conn: Connection) -> list[str]:
    """Every group with live uses, attached or archived, in order."""
    rows = await conn.fetch(GROUPS)
    return [r["ref"] for r in rows]
