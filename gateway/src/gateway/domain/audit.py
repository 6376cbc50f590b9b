"""What the audit log records (SPEC section 11): which requests, what they aimed at, and
their bodies with every secret taken out.

Recorded: every state-changing endpoint (POST, PUT, PATCH, DELETE) that API tokens and staff
reach, called by a staff member (``via`` console) or an API token (``via`` api), except the
checkout traffic of API tokens, whose own records (issues, the redemption ledger, customers)
are its audit trail. User tokens and public endpoints are never recorded. Which requests are
recorded is one set of (method, template, principal kind), looked up once per request.
"""

from __future__ import annotations

from typing import Any

from coupon_core.routes import PLATFORM, Access, RouteTable, split_template

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Read before they are changed, when a GET reads the same template.
READ_BEFORE = frozenset({"PUT", "PATCH", "DELETE"})
# An API token's checkout calls: their own records are their trail. A staff member's are
# recorded (an issue from the console is a change someone made by hand).
CHECKOUT = frozenset(
    {
        ("POST", "/v1.1/coupon/redeem"),
        ("POST", "/v2/coupon/issue"),
        ("POST", "/v2/coupon/issue/multiple"),
        ("POST", "/v2/customers"),
    }
)
STAFF = "staff"
API_TOKEN = "api_token"  # noqa: S105 (a principal kind)

REDACTED = "[redacted]"
# Lower case: a key ending in any of these (password, token, secret, newSecret,
# previousSecret, accessToken, currentPassword...) holds a secret.
_SECRET_ENDINGS = ("password", "token", "secret")


def audited_routes(routes: RouteTable) -> frozenset[tuple[str, str, str]]:
    """(method, template, principal kind) of every request the audit log records."""
    found: set[tuple[str, str, str]] = set()
    for endpoint in routes.endpoints:
        if endpoint.access is not Access.API_TOKEN or endpoint.method not in CHANGES:
            continue
        found.add((endpoint.method, endpoint.template, STAFF))
        if (endpoint.method, endpoint.template) not in CHECKOUT:
            found.add((endpoint.method, endpoint.template, API_TOKEN))
    return frozenset(found)


AUDITED = audited_routes(PLATFORM)
# Templates a GET reads: a PUT, PATCH or DELETE of one is read (that GET) before it is made.
READABLE = frozenset(e.template for e in PLATFORM.endpoints if e.method == "GET")


def via(kind: str) -> str:
    """How the change came: staff work through the console; tokens call the API."""
    return "console" if kind == STAFF else "api"


def parameter_names(template: str) -> list[str]:
    return [s[1:-1] for s in split_template(template) if s.startswith("{")]


def target_of(template: str, path: str) -> list[str]:
    """The values of ``template``'s parameters in ``path`` (which matched it), in order:
    ``/api/v1/promotions/{code}`` and ``/api/v1/promotions/SUMMER`` give ``["SUMMER"]``."""
    segments = split_template(template)
    values = path.rstrip("/").split("/")[1:]
    return [
        value for segment, value in zip(segments, values, strict=False) if segment.startswith("{")
    ]


def is_secret(key: str) -> bool:
    return key.lower().endswith(_SECRET_ENDINGS)


def redact(value: Any) -> Any:
    """``value`` (parsed JSON, changed in place) with the value of every key that names a
    secret replaced by ``"[redacted]"``, at any depth. A loop, not recursion: JSON may nest
    deeper than Python's recursion limit."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if is_secret(key):
                    item[key] = REDACTED
                elif isinstance(inner, dict | list):
                    pending.append(inner)
        elif isinstance(item, list):
            pending.extend(inner for inner in item if isinstance(inner, dict | list))
    return value
