"""``couponctl staff``: the console's staff accounts and their roles.

A password is never an argument (it would stay in the shell's history and the process list):
``create`` and ``set-password`` ask for it twice when stdin is a terminal, and otherwise
(or with ``--password-stdin``) read it as one line of stdin.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any, TextIO

from couponctl.client import GatewayClient, UsageError
from couponctl.render import describe

BASE = "/api/v1/staff"
ROLE_HELP = "admin, marketer or support (couponctl staff roles: what each reaches)"
ID_HELP = "the account's id (couponctl staff list)"


def _password(args: argparse.Namespace) -> str:
    stdin: TextIO = args.stdin
    if not args.password_stdin and stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("no password given")
    return password


def _table(listing: dict[str, Any]) -> str:
    rows = [f"{'ID':>5}  {'EMAIL':<32} {'ROLE':<9} {'ACTIVE':<7} NAME"]
    for s in listing["items"]:
        active = "yes" if s["active"] else "no"
        rows.append(f"{s['id']:>5}  {s['email']:<32} {s['role']:<9} {active:<7} {s['name'] or '-'}")
    page = listing["pagination"]
    rows.append(f"({page['total']} in all, page {page['page']} of {page['pages']})")
    return "\n".join(rows)


def _roles(listing: dict[str, Any]) -> str:
    lines = []
    for role in listing["items"]:
        lines.append(f"{role['name']}:")
        lines += [f"  {entry}" for entry in role["whitelist"]]
    return "\n".join(lines)


def _create(client: GatewayClient, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"email": args.email, "role": args.role, "password": _password(args)}
    if args.name is not None:
        body["name"] = args.name
    return client.request("POST", BASE, body)


def _list(client: GatewayClient, args: argparse.Namespace) -> Any:
    query = {"email": args.email, "page": args.page, "limit": args.limit}
    return client.request("GET", BASE, query=query)


def _show(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("GET", f"{BASE}/{args.id}")


def _update(client: GatewayClient, args: argparse.Namespace) -> Any:
    body = {
        field: value
        for field, value in (("role", args.role), ("name", args.name), ("active", args.active))
        if value is not None
    }
    if not body:
        raise UsageError("nothing to change: give --role, --name, --active or --inactive")
    return client.request("PATCH", f"{BASE}/{args.id}", body)


def _set_password(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("PATCH", f"{BASE}/{args.id}", {"password": _password(args)})


def _disable(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("DELETE", f"{BASE}/{args.id}")


def _roles_list(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("GET", "/api/v1/staff-roles")


def _positive(text: str) -> int:
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError("a positive integer")


def add_staff(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    staff = subparsers.add_parser(
        "staff", help="staff accounts of the console and their roles (admin, marketer, support)"
    )
    commands = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    stdin_help = "read the password as one line of stdin, even from a terminal"

    create = commands.add_parser("create", parents=[common], help="create a staff account")
    create.add_argument("email", help="the email the account signs in with (unique)")
    create.add_argument("--role", required=True, help=ROLE_HELP)
    create.add_argument("--name", help="the person's name, shown in the console")
    create.add_argument("--password-stdin", action="store_true", help=stdin_help)
    create.set_defaults(run=_create, render=describe)

    listing = commands.add_parser("list", parents=[common], help="list staff accounts")
    listing.add_argument("--email", help="only emails containing this (any case)")
    listing.add_argument("--page", type=_positive, default=1, help="the page (default 1)")
    listing.add_argument("--limit", type=_positive, default=20, help="per page (at most 100)")
    listing.set_defaults(run=_list, render=_table)

    for name, run, help_text in (
        ("show", _show, "show one account"),
        ("disable", _disable, "disable an account and end its sessions"),
    ):
        sub = commands.add_parser(name, parents=[common], help=help_text)
        sub.add_argument("id", type=int, help=ID_HELP)
        sub.set_defaults(run=run, render=describe)

    update = commands.add_parser(
        "update", parents=[common], help="change an account's role, name or standing"
    )
    update.add_argument("id", type=int, help=ID_HELP)
    update.add_argument("--role", help=f"{ROLE_HELP}; a new role ends the account's sessions")
    update.add_argument("--name", help="a new name")
    standing = update.add_mutually_exclusive_group()
    standing.add_argument(
        "--active", dest="active", action="store_const", const=True, help="enable the account"
    )
    standing.add_argument(
        "--inactive",
        dest="active",
        action="store_const",
        const=False,
        help="disable the account (ends its sessions)",
    )
    update.set_defaults(run=_update, render=describe)

    password = commands.add_parser(
        "set-password", parents=[common], help="set a new password (ends the account's sessions)"
    )
    password.add_argument("id", type=int, help=ID_HELP)
    password.add_argument("--password-stdin", action="store_true", help=stdin_help)
    password.set_defaults(run=_set_password, render=describe)

    roles = commands.add_parser("roles", parents=[common], help="the roles and what each reaches")
    roles.set_defaults(run=_roles_list, render=_roles)
