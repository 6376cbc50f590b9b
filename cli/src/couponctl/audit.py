"""``couponctl audit``: the audit log, every change made through the console or the admin API
(docs/operations.md, "Audit log"), newest first; admins only.

Without an ID it lists the changes the filters keep, a page at a time; with one it shows that
change in full: the request body, the resource before and the answer after (secrets
redacted).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from couponctl.client import GatewayClient
from couponctl.render import plain
from couponctl.resources import Subparsers
from couponctl.webhooks import moment

BASE = "/api/v1/audit-log"
COLUMNS = ("ID", "AT", "ACTOR", "VIA", "METHOD", "PATH", "STATUS")


def _run(client: GatewayClient, args: argparse.Namespace) -> Any:
    if args.id is not None:
        return client.request("GET", f"{BASE}/{args.id}")
    query = {
        "actor": args.actor, "actorKind": args.actor_kind, "action": args.action,
        "target": args.target, "since": args.since, "until": args.until,
        "page": args.page, "limit": args.limit,
    }  # fmt: skip
    return client.request("GET", BASE, query=query)


def _row(record: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(record["id"]), record["at"], record["actorName"], record["via"], record["method"],
        record["path"], str(record["status"]),
    )  # fmt: skip


def _listing(answer: dict[str, Any]) -> str:
    rows = [COLUMNS, *(_row(r) for r in answer["items"])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    paging = answer["pagination"]
    lines.append(f"({paging['total']} in all, page {paging['page']} of {paging['pages']})")
    return "\n".join(line.rstrip() for line in lines)


def _json(value: Any) -> str:
    return "-" if value is None else json.dumps(value, indent=2, sort_keys=True)


def _record(record: dict[str, Any]) -> str:
    target = ", ".join(f"{k}={v}" for k, v in record["target"].items()) or "-"
    return "\n".join(
        [
            f"id:       {record['id']}",
            f"at:       {record['at']}",
            f"actor:    {record['actorName']} ({record['actorKind']} {record['actorId']})",
            f"via:      {record['via']}",
            f"action:   {record['action']}",
            f"path:     {record['path']}",
            f"target:   {target}",
            f"status:   {record['status']}",
            f"request:  {record['requestId']}",
            f"body:     {_json(record['requestBody'])}",
            f"before:   {_json(record['before'])}",
            f"after:    {_json(record['after'])}",
        ]
    )


def _render(answer: Any) -> str:
    return _listing(answer) if "items" in answer else _record(answer)


def add_audit(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "audit", parents=[common], help="the audit log: who changed what, before and after",
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("id", nargs="?", type=int, metavar="ID", help="show this change in full")
    parser.add_argument("--actor", help="a staff member's email or an API token's name")
    parser.add_argument("--actor-kind", choices=("staff", "api_token"), help="who made them")
    parser.add_argument(
        "--action", metavar="'METHOD /template'",
        help="the endpoint, as whitelists name it: 'PATCH /api/v1/promotions/{code}'",
    )  # fmt: skip
    parser.add_argument("--target", help="a promotion code, an id... of the changed resource")
    parser.add_argument(
        "--since", type=moment, metavar="TIME", help="ISO 8601, or a duration ago (30m, 2h, 3d)"
    )
    parser.add_argument(
        "--until", type=moment, metavar="TIME", help="ISO 8601, or a duration ago (30m, 2h, 3d)"
    )
    parser.add_argument("--page", type=int, help="the page to show (default 1)")
    parser.add_argument("--limit", type=int, help="changes per page (default 20, at most 100)")
    parser.set_defaults(run=_run, render=_render)
