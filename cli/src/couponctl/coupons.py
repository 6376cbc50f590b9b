"""``couponctl coupons``: a promotion's coupons, one by one or in bulk.

``generate`` follows a background job (``GET .../generate/{jobId}``) with a progress bar;
``import`` creates the coupons of a CSV file (header ``code`` and optionally
``usageLimit``, ``perCustomerUsageLimit``, ``expiresAt``) one request per row; ``export``
streams ``export.csv`` into a file. Progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import csv
import time
from functools import partial
from pathlib import Path
from typing import Any

from couponctl.client import ApiError, CliError, GatewayClient, segment
from couponctl.progress import Progress
from couponctl.render import done, table
from couponctl.resources import PROMOTIONS, Subparsers, command, compose, with_body

FINISHED = frozenset({"done", "failed"})
COUPON_FIELDS = {
    "code": "code", "usage_limit": "usageLimit",
    "per_customer_usage_limit": "perCustomerUsageLimit", "expires_at": "expiresAt",
}  # fmt: skip
GENERATE_FIELDS = {
    "amount": "amount", "code_length": "codeLength", "prefix": "prefix", "suffix": "suffix",
    "usage_limit": "usageLimit", "per_customer_usage_limit": "perCustomerUsageLimit",
    "expires_at": "expiresAt",
}  # fmt: skip
IMPORT_COLUMNS = {"usageLimit": int, "perCustomerUsageLimit": int, "expiresAt": str}


class ImportFailed(CliError):
    exit_code = 1


def coupons_path(promotion: str) -> str:
    return f"{PROMOTIONS}/{segment(promotion)}/coupons"


def _limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--usage-limit", type=int)
    parser.add_argument("--per-customer-usage-limit", type=int)
    parser.add_argument("--expires-at", metavar="DATE", help="YYYY-MM-DD or ISO 8601")


def _generate(client: GatewayClient, args: argparse.Namespace) -> Any:
    path = coupons_path(args.promotion)
    started = client.request("POST", f"{path}/generate", compose(args, GENERATE_FIELDS))
    if not isinstance(started, dict) or "id" not in started:
        return started  # synchronous: every code exists already
    progress = Progress(f"generating {args.promotion}", started.get("total"), args.stderr)
    job = started
    while True:
        progress.update(int(job.get("done", 0)))
        if job.get("state") in FINISHED:
            break
        time.sleep(args.poll_interval)
        job = client.request("GET", f"{path}/generate/{job['id']}")
    progress.finish(int(job.get("done", 0)))
    if job.get("state") == "failed":
        raise ImportFailed(f"generation job {job['id']} failed: {job.get('error', 'no reason')}")
    return job


def _row_body(row: dict[str, str], line: int) -> dict[str, Any]:
    code = (row.get("code") or "").strip()
    if not code:
        raise CliError(f"line {line}: no code")
    body: dict[str, Any] = {"code": code}
    for column, kind in IMPORT_COLUMNS.items():
        value = (row.get(column) or "").strip()
        if value:
            try:
                body[column] = kind(value)
            except ValueError:
                raise CliError(f"line {line}: {column} {value!r} is not a number") from None
    return body


def _import(client: GatewayClient, args: argparse.Namespace) -> Any:
    with Path(args.file).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "code" not in reader.fieldnames:
            raise CliError(f"{args.file}: the first line must name the columns, 'code' among them")
        bodies = [_row_body(row, reader.line_num) for row in reader]
    path = coupons_path(args.promotion)
    progress = Progress(f"importing into {args.promotion}", len(bodies), args.stderr)
    failed: list[dict[str, Any]] = []
    for index, body in enumerate(bodies):
        try:
            client.request("POST", path, body)
        except ApiError as exc:
            failed.append({"code": body["code"], "error": str(exc)})
        progress.update(index + 1)
    progress.finish(len(bodies))
    if failed:
        listed = "; ".join(f"{f['code']}: {f['error']}" for f in failed[:5])
        raise ImportFailed(f"{len(failed)} of {len(bodies)} coupons refused: {listed}")
    return {"imported": len(bodies)}


def _export(client: GatewayClient, args: argparse.Namespace) -> Any:
    path = coupons_path(args.promotion)
    listing = client.request("GET", path, query={"limit": 1})
    total = listing.get("total") if isinstance(listing, dict) else None
    progress = Progress(f"exporting {args.promotion}", total, args.stderr)
    rows = 0
    out = Path(args.output)
    with out.open("wb") as sink:

        def write(block: bytes) -> None:
            nonlocal rows
            rows += block.count(b"\n")
            sink.write(block)

        size = client.download(
            f"{path}/export.csv", write, lambda _: progress.update(max(rows - 1, 0))
        )
    progress.finish(max(rows - 1, 0))
    return {"file": str(out), "bytes": size, "coupons": max(rows - 1, 0)}


def _one(method: str, client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request(method, f"{coupons_path(args.promotion)}/{segment(args.code)}")


def add_coupons(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("coupons", help="a promotion's coupons (Sylius API)")
    commands = parser.add_subparsers(dest="coupons_command", metavar="ACTION", required=True)
    create = command(
        commands, common, "create", "create a coupon",
        lambda c, a: c.request("POST", coupons_path(a.promotion), compose(a, COUPON_FIELDS)),
    )  # fmt: skip
    create.add_argument("promotion", metavar="PROMOTION")
    create.add_argument("--code", required=True)
    _limits(create)
    with_body(create)
    listing = command(
        commands, common, "list", "list a promotion's coupons (one page)",
        lambda c, a: c.request(
            "GET", coupons_path(a.promotion), query={"page": a.page, "limit": a.limit}
        ),
        table(["id", "code", "used", "usageLimit", "expiresAt"]),
    )  # fmt: skip
    listing.add_argument("promotion", metavar="PROMOTION")
    listing.add_argument("--page", type=int)
    listing.add_argument("--limit", type=int, help="at most 100")
    for name, method, help_text in (
        ("show", "GET", "show a coupon"),
        ("delete", "DELETE", "delete a coupon"),
    ):
        sub = command(commands, common, name, help_text, partial(_one, method))
        if method == "DELETE":
            sub.set_defaults(render=done("deleted"))
        sub.add_argument("promotion", metavar="PROMOTION")
        sub.add_argument("code")
    generate = command(
        commands, common, "generate", "generate random codes (large amounts run as a job)",
        _generate,
    )  # fmt: skip
    generate.add_argument("promotion", metavar="PROMOTION")
    generate.add_argument("--amount", type=int, required=True)
    generate.add_argument("--code-length", type=int)
    generate.add_argument("--prefix")
    generate.add_argument("--suffix")
    _limits(generate)
    generate.add_argument(
        "--poll-interval", type=float, default=0.5, metavar="SECONDS", help=argparse.SUPPRESS
    )
    with_body(generate)
    imported = command(commands, common, "import", "create the coupons of a CSV file", _import)
    imported.add_argument("promotion", metavar="PROMOTION")
    imported.add_argument("file", help="CSV with a header line: code[,usageLimit,...]")
    exported = command(commands, common, "export", "write every coupon to a CSV file", _export)
    exported.add_argument("promotion", metavar="PROMOTION")
    exported.add_argument("-o", "--output", required=True, metavar="FILE")
