"""``couponctl promotions|series|customers|users``: the platform's resources over the gateway.

Every ``create`` takes the common fields as options and anything else as ``--body JSON``
(merged under the options), so a field the options do not name is still reachable.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TypeAlias

from couponctl.client import GatewayClient, UsageError, segment
from couponctl.render import describe, done, table

Run = Callable[[GatewayClient, argparse.Namespace], Any]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

PROMOTIONS = "/api/v1/promotions"
SERIES = "/v2/coupon/series"
CUSTOMERS = "/v2/customers"


def body_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("a JSON object")
    return value


def compose(args: argparse.Namespace, fields: dict[str, str]) -> dict[str, Any]:
    """``--body`` with every given option (``dest`` -> API field) laid over it."""
    body: dict[str, Any] = dict(getattr(args, "body", None) or {})
    for dest, field in fields.items():
        value = getattr(args, dest, None)
        if value is not None:
            body[field] = value
    return body


def command(
    commands: Subparsers, common: argparse.ArgumentParser, name: str, help_text: str,
    run: Run, render: Callable[[Any], str] = describe,
) -> argparse.ArgumentParser:  # fmt: skip
    sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
    sub.set_defaults(run=run, render=render)
    return sub


def with_body(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--body", type=body_json, metavar="JSON", help="further fields, as a JSON object"
    )


# promotions ------------------------------------------------------------------------------

PROMOTION_FIELDS = {
    "code": "code", "name": "name", "description": "description", "priority": "priority",
    "usage_limit": "usageLimit", "starts_at": "startsAt", "ends_at": "endsAt",
}  # fmt: skip


def _promotion_body(args: argparse.Namespace) -> dict[str, Any]:
    body = compose(args, PROMOTION_FIELDS)
    if args.coupon_based:
        body["couponBased"] = True
    actions = list(body.get("actions", []))
    if args.fixed_discount is not None:
        actions.append(
            {"type": "order_fixed_discount", "configuration": {"amount": args.fixed_discount}}
        )
    if args.percentage_discount is not None:
        actions.append(
            {
                "type": "order_percentage_discount",
                "configuration": {"percentage": args.percentage_discount},
            }
        )
    if args.grant_subscription is not None:
        type_id, name, days = args.grant_subscription
        actions.append(
            {
                "type": "grant_subscription",
                "configuration": {
                    "subscriptionTypeId": type_id,
                    "subscriptionTypeName": name,
                    "lengthDays": int(days),
                },
            }
        )
    if actions:
        body["actions"] = actions
    return body


def _list_query(args: argparse.Namespace) -> dict[str, Any]:
    return {"page": args.page, "limit": args.limit, "criteria[search]": args.search}


def add_promotions(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("promotions", help="promotions (Sylius API)")
    commands = parser.add_subparsers(dest="promotions_command", metavar="ACTION", required=True)
    create = command(
        commands, common, "create", "create a promotion",
        lambda c, a: c.request("POST", PROMOTIONS, _promotion_body(a)),
    )  # fmt: skip
    create.add_argument("--code", required=True, help="the promotion's code (unique)")
    create.add_argument("--name", required=True, help="the promotion's name")
    create.add_argument("--description", help="free text")
    create.add_argument(
        "--priority", type=int, help="order among promotions, higher first (default 0)"
    )
    create.add_argument("--usage-limit", type=int, help="redemptions allowed across the promotion")
    create.add_argument("--starts-at", metavar="DATE", help="YYYY-MM-DD or ISO 8601")
    create.add_argument("--ends-at", metavar="DATE", help="YYYY-MM-DD or ISO 8601")
    create.add_argument("--coupon-based", action="store_true", help="redeemed with coupons")
    create.add_argument(
        "--fixed-discount", type=int, metavar="AMOUNT",
        help="an order_fixed_discount action of this amount",
    )  # fmt: skip
    create.add_argument(
        "--percentage-discount", type=float, metavar="FRACTION",
        help="an order_percentage_discount action: 0..1 of the order",
    )  # fmt: skip
    create.add_argument(
        "--grant-subscription", nargs=3, metavar=("TYPE_ID", "TYPE_NAME", "DAYS"),
        help="activation grants a subscription of this type and length",
    )  # fmt: skip
    with_body(create)
    listing = command(
        commands, common, "list", "list promotions (one page)",
        lambda c, a: c.request("GET", PROMOTIONS, query=_list_query(a)),
        table(["code", "name", "couponBased", "priority", "used", "usageLimit"]),
    )  # fmt: skip
    listing.add_argument("--page", type=int, help="the page to show (default 1)")
    listing.add_argument("--limit", type=int, help="promotions per page (default 10, at most 100)")
    listing.add_argument("--search", help="code or name contains")
    show = command(
        commands, common, "show", "show a promotion",
        lambda c, a: c.request("GET", f"{PROMOTIONS}/{segment(a.code)}"),
    )  # fmt: skip
    show.add_argument("code", help="the promotion's code")
    delete = command(
        commands, common, "delete", "delete a promotion",
        lambda c, a: c.request("DELETE", f"{PROMOTIONS}/{segment(a.code)}"),
        done("deleted"),
    )  # fmt: skip
    delete.add_argument("code", help="the promotion's code")


# series ----------------------------------------------------------------------------------

SERIES_FIELDS = {
    "description": "description", "discount_code": "discountCode",
    "discount_type": "discountType", "discount_value": "discountValue",
    "detailed_info": "detailedInfo", "valid_till": "validTillDate",
    "max_create": "maxCreate", "max_redeem": "maxRedeem",
}  # fmt: skip


def add_series(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("series", help="coupon series (Capillary API)")
    commands = parser.add_subparsers(dest="series_command", metavar="ACTION", required=True)
    create = command(
        commands, common, "create", "create a coupon series",
        lambda c, a: c.request("POST", SERIES, compose(a, SERIES_FIELDS)),
    )  # fmt: skip
    create.add_argument("--description", required=True, help="the series' description")
    create.add_argument("--discount-code", help="the discount code the series stands for")
    create.add_argument(
        "--discount-type", choices=["ABS", "PERC"], required=True,
        help="ABS: an amount off; PERC: a percentage of the amount",
    )  # fmt: skip
    create.add_argument(
        "--discount-value", type=float, required=True, help="the amount, or the percentage"
    )
    create.add_argument("--detailed-info", help="free text")
    create.add_argument(
        "--valid-till", metavar="DATE", help="the series' last day: YYYY-MM-DD or ISO 8601"
    )
    create.add_argument(
        "--max-create", type=int, help="coupons the series may issue in all (-1: unlimited)"
    )
    create.add_argument(
        "--max-redeem", type=int, help="redemptions across the series (-1: unlimited)"
    )
    with_body(create)
    command(
        commands, common, "list", "list coupon series",
        lambda c, a: c.request("GET", SERIES),
        table(["id", "description", "discountCode", "discountType", "discountValue",
               "numIssued", "numRedeemed"]),
    )  # fmt: skip
    show = command(
        commands, common, "show", "show a coupon series",
        lambda c, a: c.request("GET", f"{SERIES}/{a.id}"),
    )  # fmt: skip
    show.add_argument("id", type=int, help="the series' id")


# customers -------------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "first_name": "firstName", "last_name": "lastName", "mobile": "mobile",
    "email": "email", "external_id": "externalId",
}  # fmt: skip


def _identifier(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mobile", help="the customer's mobile number")
    parser.add_argument("--email", help="the customer's email address")
    parser.add_argument("--external-id", help="the customer's id in your own systems")


def _lookup(client: GatewayClient, args: argparse.Namespace) -> Any:
    query = {"mobile": args.mobile, "email": args.email, "externalId": args.external_id}
    if all(v is None for v in query.values()):
        raise UsageError("lookup needs --mobile, --email or --external-id")
    return client.request("GET", f"{CUSTOMERS}/lookup", query=query)


def add_customers(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("customers", help="customers (Capillary API)")
    commands = parser.add_subparsers(dest="customers_command", metavar="ACTION", required=True)
    create = command(
        commands, common, "create", "register a customer (at least one identifier)",
        lambda c, a: c.request("POST", CUSTOMERS, compose(a, CUSTOMER_FIELDS)),
    )  # fmt: skip
    create.add_argument("--first-name", help="the customer's first name")
    create.add_argument("--last-name", help="the customer's last name")
    _identifier(create)
    show = command(
        commands, common, "show", "show a customer",
        lambda c, a: c.request("GET", f"{CUSTOMERS}/{a.id}"),
    )  # fmt: skip
    show.add_argument("id", type=int, help="the customer's id")
    lookup = command(commands, common, "lookup", "find a customer by an identifier", _lookup)
    _identifier(lookup)


# users -----------------------------------------------------------------------------------


def add_users(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "users", help="users (CRM API); the API lists no users, so there is no 'list'"
    )
    commands = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    create = command(
        commands, common, "create", "create a user (needs an admin API token)",
        lambda c, a: c.request("POST", "/api/v1/users", {"email": a.email, "password": a.password}),
    )  # fmt: skip
    create.add_argument("--email", required=True, help="the user's email address")
    create.add_argument("--password", required=True, help="the user's password")
