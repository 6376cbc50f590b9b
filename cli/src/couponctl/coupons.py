"""``couponctl coupons``: a promotion's coupons, one by one or in bulk.

``generate`` follows a background job (``GET .../generate/{jobId}``) with a progress bar;
``import`` creates the coupons of a CSV file (header ``code`` and optionally
``usageLimit``, ``perCustomerUsageLimit``, ``expiresAt``) one request per row; ``export``
streams ``export.csv`` into a file (none is left behind when it fails). Progress bars go to
stderr.
"""

from __future__ import annotations

import argparse
import csv
import time
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from couponctl.client import ApiError, CliError, GatewayClient, UsageError, segment
from couponctl.progress import Progress
from couponctl.render import done, plain, table
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
PROMOTION_HELP = "the promotion's code"


def coupons_path(promotion: str) -> str:
    return f"{PROMOTIONS}/{segment(promotion)}/coupons"


def _limits(parser: argparse.ArgumentParser, coupon: str) -> None:
    parser.add_argument(
        "--usage-limit", type=int, help=f"how many times {coupon} may be redeemed in all"
    )
    parser.add_argument(
        "--per-customer-usage-limit", type=int,
        help=f"how many times one customer may redeem {coupon}",
    )  # fmt: skip
    parser.add_argument(
        "--expires-at", metavar="DATE", help=f"when {coupon} expires: YYYY-MM-DD or ISO 8601"
    )


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
        raise CliError(f"generation job {job['id']} failed: {job.get('error', 'no reason')}")
    return job


def _row_body(row: dict[str, str], line: int) -> dict[str, Any]:
    code = (row.get("code") or "").strip()
    if not code:
        raise ValueError(f"line {line}: no code")
    body: dict[str, Any] = {"code": code}
    for column, kind in IMPORT_COLUMNS.items():
        value = (row.get(column) or "").strip()
        if value:
            try:
                body[column] = kind(value)
            except ValueError:
                raise ValueError(f"line {line}: {column} {value!r} is not a number") from None
    return body


def _rows(name: str) -> list[dict[str, Any]]:
    """The request bodies of a CSV file; a file that cannot be read or used is a usage
    error, found before any coupon is created."""
    try:
        with Path(name).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "code" not in reader.fieldnames:
                raise ValueError("the first line must name the columns, 'code' among them")
            return [_row_body(row, reader.line_num) for row in reader]
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    except (ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise UsageError(f"{name}: {exc}") from None


def _import(client: GatewayClient, args: argparse.Namespace) -> Any:
    bodies = _rows(args.file)
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
        raise CliError(f"{len(failed)} of {len(bodies)} coupons refused: {listed}")
    return {"imported": len(bodies)}


def _export(client: GatewayClient, args: argparse.Namespace) -> Any:
    out = Path(args.output)
    created = not out.exists()
    try:
        sink = out.open("wb")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with sink:
            size, coupons = _download(client, args.promotion, sink, out, args.stderr)
    except BaseException:
        if created:  # never a file that was there before (a device, /dev/stdout)
            out.unlink(missing_ok=True)
        raise
    return {"file": str(out), "bytes": size, "coupons": coupons}


def _download(
    client: GatewayClient, promotion: str, sink: BinaryIO, out: Path, stderr: TextIO
) -> tuple[int, int]:
    path = coupons_path(promotion)
    listing = client.request("GET", path, query={"limit": 1})
    total = listing.get("total") if isinstance(listing, dict) else None
    progress = Progress(f"exporting {promotion}", total, stderr)
    rows = 0

    def write(block: bytes) -> None:
        nonlocal rows
        rows += block.count(b"\n")
        try:
            sink.write(block)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None

    size = client.download(f"{path}/export.csv", write, lambda _: progress.update(max(rows - 1, 0)))
    progress.finish(max(rows - 1, 0))
    return size, max(rows - 1, 0)


def _one(method: str, client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request(method, f"{coupons_path(args.promotion)}/{segment(args.code)}")


def add_coupons(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "coupons", help="a promotion's coupons (Sylius API)", description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="coupons_command", metavar="ACTION", required=True)
    create = command(
        commands, common, "create", "create a coupon",
        lambda c, a: c.request("POST", coupons_path(a.promotion), compose(a, COUPON_FIELDS)),
    )  # fmt: skip
    create.add_argument("promotion", metavar="PROMOTION", help=PROMOTION_HELP)
    create.add_argument("--code", required=True, help="the coupon's code, unique platform-wide")
    _limits(create, "the coupon")
    with_body(create)
    listing = command(
        commands, common, "list", "list a promotion's coupons (one page)",
        lambda c, a: c.request(
            "GET", coupons_path(a.promotion), query={"page": a.page, "limit": a.limit}
        ),
        table(["id", "code", "used", "usageLimit", "expiresAt"]),
    )  # fmt: skip
    listing.add_argument("promotion", metavar="PROMOTION", help=PROMOTION_HELP)
    listing.add_argument("--page", type=int, help="the page to show (default 1)")
    listing.add_argument("--limit", type=int, help="coupons per page (default 10, at most 100)")
    for name, method, help_text in (
        ("show", "GET", "show a coupon"),
        ("delete", "DELETE", "delete a coupon"),
    ):
        sub = command(commands, common, name, help_text, partial(_one, method))
        if method == "DELETE":
            sub.set_defaults(render=done("deleted"))
        sub.add_argument("promotion", metavar="PROMOTION", help=PROMOTION_HELP)
        sub.add_argument("code", help="the coupon's code")
    generate = command(
        commands, common, "generate", "generate random codes (large amounts run as a job)",
        _generate,
    )  # fmt: skip
    generate.add_argument("promotion", metavar="PROMOTION", help=PROMOTION_HELP)
    generate.add_argument("--amount", type=int, required=True, help="how many codes to generate")
    generate.add_argument(
        "--code-length", type=int, metavar="N",
        help="random characters per code, prefix and suffix aside (default 10); the codes "
        "of that length must be able to hold the amount",
    )  # fmt: skip
    generate.add_argument("--prefix", help="text every code starts with")
    generate.add_argument("--suffix", help="text every code ends with")
    _limits(generate, "each coupon")
    generate.add_argument(
        "--poll-interval", type=float, default=0.5, metavar="SECONDS", help=argparse.SUPPRESS
    )
    with_body(generate)
    imported = command(commands, common, "import", "create the coupons of a CSV file", _import)
    imported.add_argument("promotion", metavar="PROMOTION", help=PROMOTION_HELP)
    imported.add_argument(
        "file",
        help="CSV with a header line: code, and optionally usageLimit, "
        "perCustomerUsageLimit, expiresAt",
    )
    exported = command(commands, common, "export", "write every coupon to a CSV file", _export)
    exported.add_argument("promotion", metavar="PROMOTION", help=PROMOTION_HELP)
    exported.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the CSV file to write"
    )
