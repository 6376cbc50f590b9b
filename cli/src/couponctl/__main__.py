"""``couponctl``: the platform's admin CLI, over the gateway's HTTP API.

Connection: ``--url`` (or ``COUPONCTL_URL``, default http://127.0.0.1:8080) and ``--token``
(or ``COUPONCTL_TOKEN``). ``--json`` prints the API's JSON instead of text.
Exit codes: 0 success, 1 the gateway refused the request (its message is printed) or a
check failed, 2 bad command line, 3 the gateway is unreachable or no token was given.

``couponctl reconcile`` runs the redemption-service's counter reconciler once (it also
runs on its own schedule; see docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from couponctl import tokens
from couponctl.client import DEFAULT_URL, CliError, GatewayClient
from couponctl.coupons import add_coupons
from couponctl.demo import add_demo
from couponctl.doctor import add_doctor, add_reconcile
from couponctl.resources import add_customers, add_promotions, add_series, add_users


def _common(suppress: bool) -> argparse.ArgumentParser:
    """Connection options, accepted before and after the subcommand."""
    default = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=default, help="gateway base URL [COUPONCTL_URL]")
    common.add_argument("--token", default=default, help="API token [COUPONCTL_TOKEN]")
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="couponctl",
        description=__doc__,
        parents=[_common(suppress=False)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common(suppress=True)
    tokens.add_parser(subparsers, common)
    add_users(subparsers, common)
    add_promotions(subparsers, common)
    add_coupons(subparsers, common)
    add_series(subparsers, common)
    add_customers(subparsers, common)
    add_doctor(subparsers, common)
    add_reconcile(subparsers, common)
    add_demo(subparsers, common)
    return parser


def main(
    argv: list[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    env = os.environ if env is None else env
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command is None or not hasattr(args, "run"):
        parser.print_help(err)
        return 2
    args.stderr = err  # progress bars
    try:
        client = GatewayClient(
            args.url or env.get("COUPONCTL_URL") or DEFAULT_URL,
            args.token or env.get("COUPONCTL_TOKEN"),
        )
        result: Any = args.run(client, args)
    except CliError as exc:
        print(f"couponctl: {exc}", file=err)
        return exc.exit_code
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True), file=out)
    else:
        print(args.render(result), file=out)
    return int(getattr(args, "exit_status", 0))


if __name__ == "__main__":
    sys.exit(main())
