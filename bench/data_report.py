"""The text ``make bench-data`` writes to bench/SCALING.md (bench/data.py measures)."""

from __future__ import annotations

from bench.seed import BIG, Seeded, Volume
from bench.volume import MIB, Rebuild, Reconcile, RetentionRun, Size

ANALYSIS = """
### Reading these numbers

Written after the full-scale run of 2026-12-05 20:16 UTC (10,000,000 ledger rows) on a quiet
2-core machine (load average 0.15 at the start).

- **Flat: the request paths.** Seeded against empty, in interleaved rounds: redeem 1.01x
  throughput and 1.08x p99, dry run 0.97x and 1.19x, issue 0.98x and 1.08x; every goal
  (>= 0.9x, <= 1.2x) is met. Nothing on these paths grows with the data: the facts,
  registry entries, customer index entries and counters a redeem, dry run or issue reads
  are single Redis keys; PostgreSQL work is inserts into the current month's ledger
  partition and the outbox, and B-tree lookups whose depth grows with the logarithm of the
  rows. (An earlier run on a machine loaded by other work swung 3x either way from round to
  round: read these rows only from a quiet run.)
- **PostgreSQL per million redemptions**: about 216 MiB of ledger (heap 104, indexes 113:
  the partial covering index `redemptions_live_uses` (group, code, customer), which the
  rebuild and the reconciler read index-only, is 82 and the primary key (id, redeemed_at)
  30), 322 MiB of outbox (the `coupon.redeemed` JSON payload dominates: heap 279), and
  58 MiB of idempotency keys at one keyed redeem in ten (the stored response body
  dominates). The outbox is the largest and is bounded by `OUTBOX_RETENTION_H` (72 h): at
  1,000 redeems/s that is 259 M rows, about 81 GiB, at steady state; a shorter retention
  (at least 24 h) divides it; idempotency keys are bounded by `IDEMPOTENCY_RETENTION_H`
  (24 h); the ledger keeps `LEDGER_ONLINE_MONTHS` of monthly partitions online.
- **Redis per million live coupons**: about 400 MiB with a million customers' index entries.
  A coupon costs its facts (MEMORY USAGE 232-240 bytes, JSON: they dominate) and its
  registry entry (76); a customer its id and mobile index entries (56 + 72). A redeemed
  coupon adds its counters (about 80 bytes each: coupon, coupon-by-customer, and the
  customer's group counter). Dead objects leave after `DEAD_OBJECT_GRACE_DAYS`.
- **Cold counter rebuild of the promotion with 1,000,000 redemptions**: the first redeem
  after Redis lost its counters took 5.5 s alone and 6.9 s under load, and answered 700
  (before the chunked rebuild it never completed: 504 after the gateway's 30 s). Of that,
  PostgreSQL's aggregation of the 2 M counters is 1.7 s (a hashed GROUPING SETS over the
  index-only scans of every month; it spills 150 MB to disk with the default work_mem),
  and the writes are 400 script calls of 5,000 counters, the slowest 16 ms. Redeems of
  another group were served throughout (0 errors) but their p99 rose from 22 to 73 ms
  (3.3x): on two cores the rebuild's CPU (PostgreSQL, the redemption process, Redis) is
  taken from them, and each chunk script holds Redis for up to 16 ms. Smaller chunks would
  lower the second at the cost of round trips; only more cores remove the first. The
  on-demand reconcile warms cold groups, so after a Redis data loss run it before traffic
  returns and no checkout pays for a rebuild.
- **Full reconcile**: 82 s for the 10 M-row ledger, on demand only (`couponctl reconcile`).
  Most of it warms the groups the seeded stack never redeemed (cold: every group but the
  bench's own), writing their counters; the periodic pass checks only what changed since
  the previous one and a slice of a 24 h sweep (an idle pass takes milliseconds).
- **Retention under load**: 8,780 rows/s removed (1,000-row batches, 0.1 s pauses: nine
  times what a 1,000 redeem/s checkout writes into a table), redeem p99 1.04x (goal
  <= 1.2x, met). With 5,000-row batches and 0.05 s pauses an earlier run removed 60,000
  rows/s and doubled the redeem's p99, hence the defaults.
"""


def seed_report(seeded: Seeded) -> list[str]:
    total = sum(seeded.rows.values())
    lines = [
        f"Seeded {total:,} rows by COPY in {seeded.seconds:.0f} s "
        f"({total / seeded.seconds:,.0f} rows/s, VACUUM ANALYZE included); Redis republished "
        f"by the services from PostgreSQL in {seeded.publish_seconds:.0f} s.",
        "",
        "| table | rows |",
        "|---|---|",
    ]
    lines += [f"| {table} | {rows:,} |" for table, rows in seeded.rows.items()]
    return lines


def size_report(sizes: list[Size], volume: Volume) -> list[str]:
    per = volume.redemptions / 1e6
    lines = [
        f"Per million redemptions ({volume.redemptions:,} in the ledger); rows are the "
        "planner's estimates. Heap includes TOAST; the ledger counts every partition.",
        "",
        "| service | table | rows | heap MiB | indexes MiB | total MiB | "
        "MiB per million redemptions | largest indexes (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        total = s.heap + s.indexes
        top = ", ".join(f"{name} {size / MIB:.0f}" for name, size in s.by_index[:3])
        table = s.table + (f" ({s.leaves} partitions)" if s.leaves > 1 else "")
        lines.append(
            f"| {s.service} | {table} | {s.rows:,} | {s.heap / MIB:.0f} | "
            f"{s.indexes / MIB:.0f} | {total / MIB:.0f} | {total / MIB / per:.0f} | {top} |"
        )
    return lines


def redis_report(seeded: Seeded, volume: Volume, usage: dict[str, float], keys: int) -> list[str]:
    coupons = (volume.promotion_coupons + volume.issued) / 1e6
    grown = seeded.redis_after - seeded.redis_before
    lines = [
        f"`used_memory` {seeded.redis_before / MIB:.0f} MiB before the facts were published, "
        f"{seeded.redis_after / MIB:.0f} MiB after: {grown / MIB:.0f} MiB for "
        f"{coupons * 1e6:,.0f} live coupons (facts + registry entry each) and "
        f"{volume.customers:,} customers' index entries, i.e. "
        f"{grown / MIB / coupons:.0f} MiB per million live coupons (customers included). "
        f"Counter families are sampled after the cold rebuild of {BIG} ({keys:,} keys"
        + ("; nan: no rebuild completed)." if not keys else ")."),
        "",
        "| key family | MEMORY USAGE bytes (mean of 20 keys) |",
        "|---|---|",
    ]
    lines += [f"| {family} | {n:.0f} |" for family, n in usage.items()]
    return lines


def _shortened(plan: list[str], keep: int = 14) -> list[str]:
    """A plan over every monthly partition, with the middle partitions left out."""
    if len(plan) <= keep + 6:
        return plan
    skipped = len(plan) - keep - 6
    return [*plan[:keep], f"  ... ({skipped} lines: the other partitions alike)", *plan[-6:]]


def rebuild_report(r: Rebuild, volume: Volume) -> list[str]:
    failed = [-status for status in r.statuses if status < 0]
    outcome = (
        f"item statuses {r.statuses}"
        if not failed
        else f"answered HTTP {failed}: the redeem did not complete"
    )
    return [
        f"{BIG}: {volume.big_rows:,} live redemptions over {volume.big:,} coupons. The first "
        f"redeem after its counter keys and warm marker were deleted ({r.keys_deleted:,} keys "
        f"the previous rebuild had written) took {r.alone_s:.2f} s alone and "
        f"{r.under_load_s:.2f} s under load ({outcome}). Redeems of another group at a "
        f"fixed rate for {r.window_s:.0f} s: "
        f"p99 {r.others_p99_base:.2f} ms without a rebuild, {r.others_p99_during:.2f} ms with "
        f"one ({r.others_p99_during / r.others_p99_base:.2f}x), {r.others_errors} errors.",
        "",
        f"Profile: the rebuild's aggregation (`ledger.COUNTER_VALUES`, every counter of the "
        f"group computed by PostgreSQL) alone {r.sql_s:.2f} s for {r.live_rows:,} counters; "
        f"slowest Redis commands in SLOWLOG during the rebuild (µs): "
        + ", ".join(f"{name} {us:,}" for name, us in r.slowest_redis_us)
        + ".",
        "",
        "```",
        *_shortened(r.explain),
        "```",
    ]


def reconcile_report(r: Reconcile, volume: Volume) -> list[str]:
    slowest = ", ".join(f"{name} {us:,}" for name, us in r.slowest_redis_us)
    if r.returncode == -1:
        return [
            f"`python -m redemption_service reconcile` did not finish within {r.seconds:.0f} s "
            f"at {volume.redemptions:,} ledger rows (stopped); slowest Redis commands in "
            f"SLOWLOG (µs): {slowest or 'none over 10 ms'}."
        ]
    return [
        f"`python -m redemption_service reconcile` (exit {r.returncode}), the on-demand full "
        f"reconcile: every group compared with the ledger, one SCAN for stray counters (the "
        f"periodic pass checks only what changed and a slice of the sweep; off in both stacks "
        f"above): "
        f"{r.seconds:.1f} s for {volume.redemptions:,} ledger rows; slowest Redis commands "
        f"in SLOWLOG (µs): {slowest or 'none over 10 ms'}.",
    ]


def retention_report(run: RetentionRun) -> list[str]:
    total = sum(run.removed.values())
    jobs = ", ".join(f"{job} {n:,.0f}" for job, n in sorted(run.removed.items()) if n)
    return [
        "The redemption service restarted with `RETENTION_INTERVAL_S=1` while the spread "
        f"redeem ran at a fixed rate for {run.seconds:.0f} s: {total:,.0f} rows removed "
        f"({total / run.seconds:,.0f} rows/s; {jobs or 'none'}). Redeem p99 "
        f"{run.p99_base:.2f} ms without retention, {run.p99_during:.2f} ms during it "
        f"({run.p99_during / run.p99_base:.2f}x, goal <= 1.2), {run.errors} errors.",
    ]
