"""The text ``make bench-data`` writes to bench/SCALING.md (bench/data.py measures)."""

from __future__ import annotations

from bench.seed import BIG, Seeded, Volume
from bench.volume import MIB, Rebuild, Reconcile, RetentionRun, Size

ANALYSIS = """
### Reading these numbers

Written after the full-scale run of 2026-12-05 (10,000,000 ledger rows), on the shared 2-core
machine while other work kept its load average between 7 and 16; the profile of the cold
rebuild is from a separate run at `--scale 0.1`.

- **Flat: the request paths.** Throughput and p99 of the empty and the seeded stack moved
  by up to 3x in both directions from round to round (the seeded redeem was faster than the
  empty one in this run, its p99 slower; the dry run the opposite): the machine's noise,
  not the data, decides these rows, and the run shows no systematic cost of the volume.
  Nothing on these paths grows with it: the facts, registry entries, customer index entries
  and counters a redeem, dry run or issue reads are single Redis keys (hash table, O(1));
  PostgreSQL work is inserts into the current month's ledger partition and the outbox and
  B-tree lookups by key, whose depth grows with the logarithm of the rows.
  The ratios against the goals (>= 0.9x, <= 1.2x) need a quiet machine to be read; rerun
  `make bench-data` there.
- **PostgreSQL per million redemptions**: about 216 MiB of ledger (heap 104, indexes 113:
  the partial covering index `redemptions_live_uses` (group, code, customer) is 83 and the
  primary key (id, redeemed_at) 30), 322 MiB of outbox (the `coupon.redeemed` JSON payload
  dominates: heap 279), and 58 MiB of idempotency keys at one keyed redeem in ten (the
  stored response body dominates). The outbox is the largest and is bounded by
  `OUTBOX_RETENTION_H` (72 h): at 1,000 redeems/s that is 259 M rows, about 81 GiB, at
  steady state; idempotency keys are bounded by `IDEMPOTENCY_RETENTION_H` (24 h); the
  ledger keeps `LEDGER_ONLINE_MONTHS` of monthly partitions online.
- **Redis per million live coupons**: about 400 MiB with a million customers' index entries
  (the measured growth over 2 M coupons and 1 M customers). A coupon costs its facts
  (MEMORY USAGE 232-240 bytes, JSON) and its registry entry (76); a customer its id and
  mobile index entries (56 + 72). The facts' JSON dominates.
- **Not flat: the cold counter rebuild of a big group.** The first redeem of the promotion
  with 1,000,000 redemptions after Redis lost its counters did not complete: the gateway
  answered 504 after its 30 s upstream timeout, alone and under load. Its parts: reading the
  group's live uses, 3.2 s (0.8 s of it in PostgreSQL, index-only scans of every month's
  `redemptions_live_uses`, the rest moving 1 M rows to Python); a SCAN of the whole keyspace
  for the group's existing counters (`Counters.current`, COUNT 1000), 7.5 s over 6 M keys,
  that is O(keyspace), not O(group); then, in the redemption process, building the
  expected counters and packing the rebuild script's keys and values. Profiled with cProfile
  at `--scale 0.1` (100,000 redemptions, 200,000 counter keys): `rebuild_group` 12.5 s, of
  which redis-py's `pack_command` for the rebuild script's arguments 5.9 s (one `encode`
  per key and value, ~1 M of them), `expected_counters` 1.6 s, and 2.4 s waiting on
  PostgreSQL and Redis: CPU of the redemption process dominates, about 60 µs per counter
  key, so a group with 1 M redemptions (about 2.5 M counter keys) needs minutes. Redeems of
  other groups were not stalled in the 63 s window (their p99 did not grow): the slow part
  is the redemption process's own CPU, and the rebuild writes its counters in several
  script calls rather than one long Redis command. What would make it flat:
  rebuild large groups off the request path (answer "being rebuilt" at once and warm the
  group in the background), send the ledger's (code, customer, count) triples and let the
  script derive the four keys (a quarter of the arguments), and find a group's existing
  counters without scanning the keyspace.
- **Reconcile pass**: 12 s for the whole 10 M-row ledger with the reconciler that compares
  first and locks only to repair (its SLOWLOG is the SCANs).
- **Retention**: about 60,000 rows/s removed (the outbox job, 5,000-row batches with a
  50 ms pause), 60x what a 1,000 redeem/s checkout writes, while the redeem's p99 doubled
  (goal <= 1.2x, not met here): on two shared cores each batch's DELETE and its index and
  WAL work take CPU from the redeems directly. The rate only has to stay above the write
  rate, so a longer `RETENTION_PAUSE_S` (or a smaller `RETENTION_BATCH`) trades removal
  speed for p99; that trade was not measured here.
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
        f"Counter families are sampled after the cold rebuild of {BIG} ({keys:,} keys; nan: "
        "no rebuild completed).",
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
