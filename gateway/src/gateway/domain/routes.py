"""Every platform route template, per family (SPEC sections 2-5), and matching a request to one.

Whitelists name endpoints by these templates, so a request is authorized by the template its
path matches, never by string prefixes. ``{param}`` matches exactly one path segment; where
two templates match (``/v2/customers/lookup`` and ``/v2/customers/{id}``), the one with the
literal segment earlier wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

_PARAM = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")

# (method, template). Gateway endpoints first, then each service's.
PLATFORM_ROUTES: tuple[tuple[str, str], ...] = (
    # gateway (CRM family)
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/users/register"),
    ("POST", "/api/v1/users/login"),
    ("GET", "/api/v1/users/me"),
    ("POST", "/api/v1/users/logout"),
    ("GET", "/api/v1/api-tokens"),
    ("POST", "/api/v1/api-tokens"),
    ("GET", "/api/v1/api-tokens/{id}"),
    ("PATCH", "/api/v1/api-tokens/{id}"),
    ("DELETE", "/api/v1/api-tokens/{id}"),
    ("GET", "/api/v1/status"),
    # promotion-service (Sylius family)
    ("GET", "/api/v1/promotions"),
    ("POST", "/api/v1/promotions"),
    ("GET", "/api/v1/promotions/{code}"),
    ("PUT", "/api/v1/promotions/{code}"),
    ("PATCH", "/api/v1/promotions/{code}"),
    ("DELETE", "/api/v1/promotions/{code}"),
    ("GET", "/api/v1/promotions/{promotionCode}/coupons"),
    ("POST", "/api/v1/promotions/{promotionCode}/coupons"),
    ("GET", "/api/v1/promotions/{promotionCode}/coupons/export.csv"),
    ("POST", "/api/v1/promotions/{promotionCode}/coupons/generate"),
    ("GET", "/api/v1/promotions/{promotionCode}/coupons/generate/{jobId}"),
    ("GET", "/api/v1/promotions/{promotionCode}/coupons/{code}"),
    ("PUT", "/api/v1/promotions/{promotionCode}/coupons/{code}"),
    ("PATCH", "/api/v1/promotions/{promotionCode}/coupons/{code}"),
    ("DELETE", "/api/v1/promotions/{promotionCode}/coupons/{code}"),
    # issuance-service (Capillary v2)
    ("POST", "/v2/customers"),
    ("GET", "/v2/customers/lookup"),
    ("GET", "/v2/customers/{id}"),
    ("GET", "/v2/customers/{id}/coupons"),
    ("GET", "/v2/coupon/series"),
    ("POST", "/v2/coupon/series"),
    ("GET", "/v2/coupon/series/{id}"),
    ("PUT", "/v2/coupon/series/{id}"),
    ("POST", "/v2/coupon/issue"),
    ("POST", "/v2/coupon/issue/multiple"),
    # redemption-service (Capillary v1.1 and v2, CRM)
    ("POST", "/v1.1/coupon/redeem"),
    ("GET", "/v1.1/coupon/isredeemable"),
    ("GET", "/v2/coupon/is_redeemable"),
    ("POST", "/v2/coupon/redemptions/{redemptionId}/reverse"),
    ("POST", "/v2/coupon/redemptions/reconcile"),
    ("POST", "/api/v1/coupon/activate"),
    ("GET", "/api/v1/users/subscriptions"),
)

# Reached without credentials.
PUBLIC_ROUTES = frozenset({("POST", "/api/v1/users/register"), ("POST", "/api/v1/users/login")})
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/favicon.ico"}
)
# Static assets of the interactive documentation at /docs.
PUBLIC_PREFIXES = ("/docs/assets/",)
# Served without a rate-limit window when Redis, which keeps the windows, does not answer:
# the report that tells operators Redis is down (its callers are still authenticated and
# whitelisted, which needs only PostgreSQL).
UNMETERED_IN_OUTAGE = frozenset({("GET", "/api/v1/status")})

# The only templates a user token reaches (SPEC section 2); API tokens never reach them.
USER_TEMPLATES = frozenset(
    {
        "/api/v1/coupon/activate",
        "/api/v1/users/subscriptions",
        "/api/v1/users/me",
        "/api/v1/users/logout",
    }
)


class TemplateError(ValueError):
    """A route template that is not well formed."""


def split_template(template: str) -> tuple[str, ...]:
    """The segments of a well-formed template; raises :class:`TemplateError` otherwise."""
    if not template.startswith("/"):
        raise TemplateError("a route template starts with '/'")
    stripped = template.rstrip("/") if template != "/" else template
    segments = tuple(stripped.split("/")[1:])
    for segment in segments:
        if not (_PARAM.match(segment) or _LITERAL.match(segment)):
            raise TemplateError(f"malformed segment {segment!r} in route template")
    return segments


def shape(template: str) -> tuple[str, ...]:
    """A template with its parameter names erased: ``{id}`` and ``{redemptionId}`` agree."""
    return tuple("{}" if s.startswith("{") else s for s in split_template(template))


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    segments: tuple[str, ...]


@dataclass
class _Node:
    """One path segment of the route trie: literal children first, then a parameter."""

    literals: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    template: str | None = None

    def add(self, segments: tuple[str, ...], template: str) -> None:
        node = self
        for segment in segments:
            if segment.startswith("{"):
                node.param = node.param or _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        node.template = template

    def find(self, parts: tuple[str, ...], at: int = 0) -> str | None:
        if at == len(parts):
            return self.template
        literal = self.literals.get(parts[at])
        if literal is not None:
            found = literal.find(parts, at + 1)
            if found is not None:
                return found
        return self.param.find(parts, at + 1) if self.param is not None else None


class RouteTable:
    """The platform's templates, matched by path (a trie: one step per path segment)."""

    def __init__(self, routes: tuple[tuple[str, str], ...] = PLATFORM_ROUTES) -> None:
        self.routes = [Route(m, t, split_template(t)) for m, t in routes]
        self._by_shape = {(r.method, shape(r.template)): r for r in self.routes}
        self._root = _Node()
        spelled: dict[tuple[str, ...], str] = {}
        for route in self.routes:
            # One spelling per path shape: whitelist entries compare templates as strings.
            first = spelled.setdefault(shape(route.template), route.template)
            if first != route.template:
                raise TemplateError(f"{route.template!r} is spelled {first!r} elsewhere")
            self._root.add(route.segments, route.template)

    def canonical(self, method: str, template: str) -> Route | None:
        """The table's own spelling of ``method template``, or None when unknown."""
        return self._by_shape.get((method, shape(template)))

    def template_for(self, path: str) -> str | None:
        """The template matching ``path`` (any method), literal segments winning over
        parameters from the left, or None."""
        parts = _path_parts(path)
        return self._root.find(parts) if parts is not None else None


def _path_parts(path: str) -> tuple[str, ...] | None:
    if not path.startswith("/"):
        return None
    stripped = path.rstrip("/")
    parts = tuple(stripped.split("/")[1:]) if stripped else ()
    if any(part == "" for part in parts):
        return None
    return parts
