"""couponctl: the platform's admin CLI, over the gateway's HTTP API.

Connection: the gateway URL and the API token each come from the first of
  --url, --token                    the command line
  COUPONCTL_URL, COUPONCTL_TOKEN    the environment
  couponctl.env                     written by 'make run' in its data directory
                                    ($STACK_DATA_DIR, else ./.data)
and otherwise the URL is http://127.0.0.1:8080 (a token has no default).
--json prints the API's JSON instead of text.

Exit codes: 0 success; 1 the gateway refused the request (its message is printed), or an
operation or a check failed; 2 bad command line, or a file it names cannot be read or
written; 3 the gateway is unreachable or no token was given; 130 interrupted (Ctrl-C).
A reader that stops early ('couponctl coupons list X | head -1') ends couponctl quietly
with 0.

'couponctl reconcile' runs the redemption-service's counter reconciler once (it also runs
on its own schedule; see docs/operations.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import Any, TextIO

from couponctl import tokens
from couponctl.audit import add_audit
from couponctl.client import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from couponctl.connection import connect
from couponctl.coupons import add_coupons
from couponctl.demo import add_demo
from couponctl.doctor import add_doctor, add_reconcile
from couponctl.render import plain
from couponctl.resources import add_customers, add_promotions, add_series, add_users
from couponctl.staff import add_staff
from couponctl.webhooks import add_webhooks


def _common(suppress: bool) -> argparse.ArgumentParser:
    """Connection options, accepted before and after the subcommand."""
    default = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=default, help="gateway base URL [COUPONCTL_URL]")
    common.add_argument("--token", default=default, help="API token [COUPONCTL_TOKEN]")
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print the API's JSON answer instead of text",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="couponctl",
        description=plain(__doc__),
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
    add_webhooks(subparsers, common)
    add_audit(subparsers, common)
    add_staff(subparsers, common)
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
    stdin: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        return _run(argv, os.environ if env is None else env, out, err, stdin or sys.stdin)
    except BrokenPipeError:
        # The reader has what it wanted ('| head'): nothing more to say, and nothing to
        # say it to. What is still buffered goes to /dev/null when the interpreter exits.
        _discard(out, err)
        return EXIT_OK
    except KeyboardInterrupt:
        print("couponctl: interrupted", file=err)
        return EXIT_INTERRUPTED


def _run(
    argv: list[str] | None, env: Mapping[str, str], out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    parser = build_parser()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        out.flush()
        return int(exc.code or 0)
    if args.command is None or not hasattr(args, "run"):
        parser.print_help(err)
        return EXIT_USAGE
    args.stderr = err  # progress bars
    args.stdin = stdin  # passwords (couponctl staff)
    try:
        client = connect(args.url, args.token, env)
        result: Any = args.run(client, args)
    except CliError as exc:
        print(f"couponctl: {exc}", file=err)
        return exc.exit_code
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True), file=out)
    else:
        print(args.render(result), file=out)
    out.flush()
    return int(getattr(args, "exit_status", EXIT_OK))


def _discard(*streams: TextIO) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in streams:
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError, io.UnsupportedOperation):
                continue  # not a file (a test's StringIO): nothing will be flushed to it
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
