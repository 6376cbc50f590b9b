"""``couponctl tokens``: create, list, show, revoke API tokens and edit their whitelists."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from couponctl.client import GatewayClient

BASE = "/api/v1/api-tokens"
ID_HELP = "the token's id (couponctl tokens list)"

Output = Callable[[Any, Callable[[Any], str]], None]


def _entry_shape(entry: str) -> str:
    """An entry compared loosely: method upper-cased, parameter names and spacing ignored."""
    text = " ".join(entry.split())
    method, _, template = text.partition(" ")
    template = re.sub(r"\{[^}/]*\}", "{}", template.rstrip("/") or "/")
    return f"{method.upper()} {template}".strip()


def _describe(token: dict[str, Any]) -> str:
    lines = [
        f"id:         {token['id']}",
        f"name:       {token['name']}",
        f"created:    {token['createdAt']}",
        f"revoked:    {token.get('revokedAt') or '-'}",
        f"rate limit: {token.get('rateLimit') or 'default'}",
        "whitelist:  " + (", ".join(token["whitelist"]) or "(empty: reaches no endpoint)"),
    ]
    if "token" in token:
        lines.append(f"token:      {token['token']}")
        lines.append("            (shown only this once: store it now)")
    return "\n".join(lines)


def _table(listing: dict[str, Any]) -> str:
    rows = [f"{'ID':>5}  {'NAME':<24} {'REVOKED':<8} WHITELIST"]
    for t in listing["items"]:
        revoked = "yes" if t.get("revokedAt") else "no"
        whitelist = ", ".join(t["whitelist"]) or "-"
        rows.append(f"{t['id']:>5}  {t['name']:<24} {revoked:<8} {whitelist}")
    return "\n".join(rows)


def _create(client: GatewayClient, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"name": args.name, "whitelist": args.allow}
    if args.rate_limit is not None:
        body["rateLimit"] = args.rate_limit
    return client.request("POST", BASE, body)


def _list(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("GET", BASE)


def _show(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("GET", f"{BASE}/{args.id}")


def _revoke(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("DELETE", f"{BASE}/{args.id}")


def _allow(client: GatewayClient, args: argparse.Namespace) -> Any:
    current = client.request("GET", f"{BASE}/{args.id}")["whitelist"]
    known = {_entry_shape(e) for e in current}
    added = [e for e in args.entries if _entry_shape(e) not in known]
    return client.request("PATCH", f"{BASE}/{args.id}", {"whitelist": current + added})


def _disallow(client: GatewayClient, args: argparse.Namespace) -> Any:
    current = client.request("GET", f"{BASE}/{args.id}")["whitelist"]
    drop = {_entry_shape(e) for e in args.entries}
    kept = [e for e in current if _entry_shape(e) not in drop]
    return client.request("PATCH", f"{BASE}/{args.id}", {"whitelist": kept})


def _set_whitelist(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("PATCH", f"{BASE}/{args.id}", {"whitelist": args.entries})


def _set_rate_limit(client: GatewayClient, args: argparse.Namespace) -> Any:
    limit = None if args.limit == "default" else int(args.limit)
    return client.request("PATCH", f"{BASE}/{args.id}", {"rateLimit": limit})


def _limit_value(text: str) -> str:
    if text == "default" or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError("a positive integer, or 'default'")


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    tokens = subparsers.add_parser("tokens", help="API tokens and their endpoint whitelists")
    commands = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    entry_help = "'METHOD /route/template' (e.g. 'POST /v2/coupon/issue') or '*'"

    create = commands.add_parser("create", parents=[common], help="create a token")
    create.add_argument("--name", required=True, help="the token's name (unique)")
    create.add_argument(
        "--allow", action="append", default=[], metavar="ENTRY", help=f"repeatable: {entry_help}"
    )
    create.add_argument(
        "--rate-limit", type=int, metavar="PER_MINUTE",
        help="requests per minute (default: the gateway's RATE_LIMIT_PER_MINUTE)",
    )  # fmt: skip
    create.set_defaults(run=_create, render=_describe)

    listing = commands.add_parser("list", parents=[common], help="list every token")
    listing.set_defaults(run=_list, render=_table)

    for name, run, help_text in (
        ("show", _show, "show one token"),
        ("revoke", _revoke, "revoke a token (it stops working within a second)"),
    ):
        sub = commands.add_parser(name, parents=[common], help=help_text)
        sub.add_argument("id", type=int, help=ID_HELP)
        sub.set_defaults(run=run, render=_describe)

    for name, run, help_text, nargs in (
        ("allow", _allow, "add whitelist entries", "+"),
        ("disallow", _disallow, "remove whitelist entries", "+"),
        ("set-whitelist", _set_whitelist, "replace the whitelist (none: empty)", "*"),
    ):
        sub = commands.add_parser(name, parents=[common], help=help_text)
        sub.add_argument("id", type=int, help=ID_HELP)
        sub.add_argument("entries", nargs=nargs, metavar="ENTRY", help=entry_help)
        sub.set_defaults(run=run, render=_describe)

    limit = commands.add_parser(
        "set-rate-limit", parents=[common], help="requests per minute, or 'default'"
    )
    limit.add_argument("id", type=int, help=ID_HELP)
    limit.add_argument(
        "limit", type=_limit_value, help="requests per minute, or 'default' for the gateway's"
    )
    limit.set_defaults(run=_set_rate_limit, render=_describe)
