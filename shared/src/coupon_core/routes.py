"""The platform's one route table (SPEC sections 1-5): every endpoint with the process that
serves it and who may call it, the part of the URL space each service is sent, and the
match that reads both off a path at once.

The gateway authorizes a request by the template its path matches (whitelists name
endpoints by these templates, never by string prefixes) and forwards it to the service
whose mount holds the path; both answers come from one :meth:`RouteTable.match`, and a
table whose endpoint would be sent elsewhere than to its own service does not build. The
services' tests check their OpenAPI documents against the same endpoints.

``{param}`` matches exactly one path segment, a trailing slash is ignored, and a path with
an empty segment (``//``) has no template; where two templates match
(``/v2/customers/lookup`` and ``/v2/customers/{id}``), the one with the literal segment
earlier wins. A mount is written as SPEC section 1 writes it:
``/api/v1/promotions*`` (the path and everything below it), ``/v1.1/coupon/*`` (everything
below it), ``/v2/coupon/is_redeemable`` (that path alone); the longest mount holding a path
wins, and a path no mount holds is the gateway's own (or nobody's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum, auto

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

GATEWAY = "gateway"
PROMOTION = "promotion"
ISSUANCE = "issuance"
REDEMPTION = "redemption"
WEBHOOK = "webhook"


class Access(StrEnum):
    """Who may call an endpoint (SPEC section 2)."""

    PUBLIC = auto()  # no credentials
    USER = auto()  # user tokens only
    API_TOKEN = auto()  # API tokens whose whitelist names the endpoint


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    template: str
    service: str
    access: Access = Access.API_TOKEN


@dataclass(frozen=True, slots=True)
class Mount:
    """The part of the URL space ``service`` is sent: ``pattern`` as SPEC section 1 has it."""

    service: str
    pattern: str


ENDPOINTS: tuple[Endpoint, ...] = (
    # gateway (CRM family)
    Endpoint("POST", "/api/v1/users", GATEWAY),
    Endpoint("POST", "/api/v1/users/register", GATEWAY, Access.PUBLIC),
    Endpoint("POST", "/api/v1/users/login", GATEWAY, Access.PUBLIC),
    Endpoint("GET", "/api/v1/users/me", GATEWAY, Access.USER),
    Endpoint("POST", "/api/v1/users/logout", GATEWAY, Access.USER),
    Endpoint("GET", "/api/v1/api-tokens", GATEWAY),
    Endpoint("POST", "/api/v1/api-tokens", GATEWAY),
    Endpoint("GET", "/api/v1/api-tokens/{id}", GATEWAY),
    Endpoint("PATCH", "/api/v1/api-tokens/{id}", GATEWAY),
    Endpoint("DELETE", "/api/v1/api-tokens/{id}", GATEWAY),
    Endpoint("GET", "/api/v1/status", GATEWAY),
    Endpoint("GET", "/api/v1/staff", GATEWAY),
    Endpoint("POST", "/api/v1/staff", GATEWAY),
    Endpoint("GET", "/api/v1/staff/{id}", GATEWAY),
    Endpoint("PATCH", "/api/v1/staff/{id}", GATEWAY),
    Endpoint("DELETE", "/api/v1/staff/{id}", GATEWAY),
    Endpoint("GET", "/api/v1/staff-roles", GATEWAY),
    Endpoint("GET", "/api/v1/audit-log", GATEWAY),
    Endpoint("GET", "/api/v1/audit-log/{id}", GATEWAY),
    # promotion-service (Sylius family)
    Endpoint("GET", "/api/v1/promotions", PROMOTION),
    Endpoint("POST", "/api/v1/promotions", PROMOTION),
    Endpoint("GET", "/api/v1/promotions/{code}", PROMOTION),
    Endpoint("PUT", "/api/v1/promotions/{code}", PROMOTION),
    Endpoint("PATCH", "/api/v1/promotions/{code}", PROMOTION),
    Endpoint("DELETE", "/api/v1/promotions/{code}", PROMOTION),
    Endpoint("GET", "/api/v1/promotions/{promotionCode}/coupons", PROMOTION),
    Endpoint("POST", "/api/v1/promotions/{promotionCode}/coupons", PROMOTION),
    Endpoint("GET", "/api/v1/promotions/{promotionCode}/coupons/export.csv", PROMOTION),
    Endpoint("POST", "/api/v1/promotions/{promotionCode}/coupons/generate", PROMOTION),
    Endpoint("GET", "/api/v1/promotions/{promotionCode}/coupons/generate/{jobId}", PROMOTION),
    Endpoint("GET", "/api/v1/promotions/{promotionCode}/coupons/{code}", PROMOTION),
    Endpoint("PUT", "/api/v1/promotions/{promotionCode}/coupons/{code}", PROMOTION),
    Endpoint("PATCH", "/api/v1/promotions/{promotionCode}/coupons/{code}", PROMOTION),
    Endpoint("DELETE", "/api/v1/promotions/{promotionCode}/coupons/{code}", PROMOTION),
    Endpoint("GET", "/api/v1/promotion-stats", PROMOTION),
    # issuance-service (Capillary v2)
    Endpoint("POST", "/v2/customers", ISSUANCE),
    Endpoint("GET", "/v2/customers/lookup", ISSUANCE),
    Endpoint("GET", "/v2/customers/{id}", ISSUANCE),
    Endpoint("GET", "/v2/customers/{id}/coupons", ISSUANCE),
    Endpoint("GET", "/v2/coupon/series", ISSUANCE),
    Endpoint("POST", "/v2/coupon/series", ISSUANCE),
    Endpoint("GET", "/v2/coupon/series/{id}", ISSUANCE),
    Endpoint("PUT", "/v2/coupon/series/{id}", ISSUANCE),
    Endpoint("POST", "/v2/coupon/issue", ISSUANCE),
    Endpoint("POST", "/v2/coupon/issue/multiple", ISSUANCE),
    Endpoint("GET", "/v2/coupon/issue/stats", ISSUANCE),
    # redemption-service (Capillary v1.1 and v2, CRM)
    Endpoint("POST", "/v1.1/coupon/redeem", REDEMPTION),
    Endpoint("GET", "/v1.1/coupon/isredeemable", REDEMPTION),
    Endpoint("GET", "/v2/coupon/is_redeemable", REDEMPTION),
    Endpoint("GET", "/v2/coupon/redemptions", REDEMPTION),
    Endpoint("GET", "/v2/coupon/redemptions/stats", REDEMPTION),
    Endpoint("GET", "/v2/coupon/redemptions/{redemptionId}", REDEMPTION),
    Endpoint("POST", "/v2/coupon/redemptions/{redemptionId}/reverse", REDEMPTION),
    Endpoint("POST", "/v2/coupon/redemptions/reconcile", REDEMPTION),
    Endpoint("POST", "/api/v1/coupon/activate", REDEMPTION, Access.USER),
    Endpoint("GET", "/api/v1/users/subscriptions", REDEMPTION, Access.USER),
    Endpoint("GET", "/api/v1/subscriptions", REDEMPTION),
    # webhook-service (CRM)
    Endpoint("GET", "/api/v1/webhooks", WEBHOOK),
    Endpoint("POST", "/api/v1/webhooks", WEBHOOK),
    Endpoint("GET", "/api/v1/webhooks/event-types", WEBHOOK),
    Endpoint("GET", "/api/v1/webhooks/{id}", WEBHOOK),
    Endpoint("PATCH", "/api/v1/webhooks/{id}", WEBHOOK),
    Endpoint("DELETE", "/api/v1/webhooks/{id}", WEBHOOK),
    Endpoint("POST", "/api/v1/webhooks/{id}/rotate-secret", WEBHOOK),
    Endpoint("POST", "/api/v1/webhooks/{id}/test", WEBHOOK),
    Endpoint("GET", "/api/v1/webhooks/{id}/deliveries", WEBHOOK),
    Endpoint("GET", "/api/v1/webhooks/{id}/attempts", WEBHOOK),
    Endpoint("POST", "/api/v1/webhooks/{id}/redeliver", WEBHOOK),
)

# What the gateway forwards to each service, also where no endpoint matches (the service
# answers its own 404 or 405).
MOUNTS: tuple[Mount, ...] = (
    Mount(PROMOTION, "/api/v1/promotions*"),
    Mount(PROMOTION, "/api/v1/promotion-stats"),
    Mount(ISSUANCE, "/v2/coupon/issue*"),
    Mount(ISSUANCE, "/v2/coupon/series*"),
    Mount(ISSUANCE, "/v2/customers*"),
    Mount(REDEMPTION, "/v1.1/coupon/*"),
    Mount(REDEMPTION, "/v2/coupon/is_redeemable"),
    Mount(REDEMPTION, "/v2/coupon/redemptions*"),
    Mount(REDEMPTION, "/api/v1/coupon/activate"),
    Mount(REDEMPTION, "/api/v1/users/subscriptions"),
    Mount(REDEMPTION, "/api/v1/subscriptions"),
    Mount(WEBHOOK, "/api/v1/webhooks*"),
)

PLATFORM_ROUTES: tuple[tuple[str, str], ...] = tuple((e.method, e.template) for e in ENDPOINTS)
PUBLIC_ROUTES = frozenset((e.method, e.template) for e in ENDPOINTS if e.access is Access.PUBLIC)
# The only templates a user token reaches (SPEC section 2); API tokens never reach them.
USER_TEMPLATES = frozenset(e.template for e in ENDPOINTS if e.access is Access.USER)

# The gateway's own paths outside the API, reached without credentials.
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/favicon.ico", "/console"}
)
# Static assets of the interactive documentation at /docs.
# The console (/console) authenticates its own session cookie and reaches the API through
# the gateway's authorization like any client (gateway/console).
PUBLIC_PREFIXES = ("/docs/assets/", "/console/")
# Served without a rate-limit window when Redis, which keeps the windows, does not answer:
# the report that tells operators Redis is down (its callers are still authenticated and
# whitelisted, which needs only PostgreSQL).
UNMETERED_IN_OUTAGE = frozenset({("GET", "/api/v1/status")})

_PARAM = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")


class TemplateError(ValueError):
    """A route template, mount or table that is not well formed."""


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


def _mount_regex(mount: Mount) -> tuple[str, tuple[str, ...]]:
    """The regular expression of the paths ``mount`` holds, and its path's segments."""
    pattern = mount.pattern
    if pattern.endswith("/*"):  # everything below the path
        regex = re.escape(pattern[:-1])
    elif pattern.endswith("*"):  # the path and everything below it
        regex = re.escape(pattern[:-1]) + r"(?:/|\Z)"
    else:  # the path alone, with or without a trailing slash
        regex = re.escape(pattern) + r"/?\Z"
    segments = split_template(pattern.rstrip("*"))
    if not segments or any(s.startswith("{") for s in segments):
        raise TemplateError(f"mount {mount.pattern!r} must be a literal path")
    return regex, segments


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """What one path is: its endpoint template (None: no endpoint has it), and the service
    it is forwarded to (None: the gateway itself serves it, or nobody does)."""

    template: str | None
    upstream: str | None


NO_MATCH = RouteMatch(None, None)


@dataclass
class _Branch:
    """The templates below one path segment, written as one regular expression: literal
    segments first, then a parameter, so the first alternative that matches is the template
    a segment-by-segment walk preferring literals finds. Each template ends in an empty
    group named after it."""

    literals: dict[str, _Branch] = field(default_factory=dict)
    param: _Branch | None = None
    group: str | None = None

    def add(self, segments: tuple[str, ...], group: str) -> None:
        branch = self
        for segment in segments:
            if segment.startswith("{"):
                branch.param = branch.param or _Branch()
                branch = branch.param
            else:
                branch = branch.literals.setdefault(segment, _Branch())
        branch.group = group

    def pattern(self) -> str:
        alternatives = [f"/{re.escape(s)}{b.pattern()}" for s, b in self.literals.items()]
        if self.param is not None:
            alternatives.append(f"/[^/]+{self.param.pattern()}")
        if self.group is not None:
            alternatives.append(rf"/?\Z(?P<{self.group}>)")
        if len(alternatives) == 1:
            return alternatives[0]
        return f"(?:{'|'.join(alternatives)})" if alternatives else "(?!)"


class RouteTable:
    """The endpoints and mounts, matched by path. The templates are one regular expression
    shaped as their trie, so a path is matched once, in C; a template that matches brings
    its upstream with it (checked here to be its service's), and only a path no template
    matches is matched against the mounts."""

    def __init__(
        self, endpoints: tuple[Endpoint, ...] = ENDPOINTS, mounts: tuple[Mount, ...] = MOUNTS
    ) -> None:
        self.endpoints = endpoints
        self._answers: dict[str, RouteMatch] = {}
        mounted: dict[tuple[str, ...], tuple[str, str]] = {}
        for index, mount in enumerate(mounts):
            regex, segments = _mount_regex(mount)
            if segments in mounted:
                raise TemplateError(f"two mounts at {mount.pattern!r}")
            mounted[segments] = (f"m{index}", regex)
            self._answers[f"m{index}"] = RouteMatch(None, mount.service)
        # Longest first: the first mount that holds a path is the longest that does.
        self._mounts = re.compile(
            "|".join(
                f"(?P<{group}>{regex})"
                for _, (group, regex) in sorted(mounted.items(), key=lambda m: -len(m[0]))
            )
            or "(?!)"
        )
        self._by_shape: dict[tuple[str, tuple[str, ...]], Endpoint] = {}
        spelled: dict[tuple[str, ...], str] = {}
        branches = _Branch()
        groups: dict[str, str] = {}  # template -> the name of its group
        for endpoint in endpoints:
            segments = self._check(endpoint, spelled, list(mounted))
            upstream = self._sent_to(endpoint)
            if endpoint.template not in groups:
                groups[endpoint.template] = group = f"t{len(groups)}"
                branches.add(segments, group)
                self._answers[group] = RouteMatch(endpoint.template, upstream)
        self._templates = re.compile(branches.pattern())
        # Most requests are for a template without parameters: one dictionary lookup.
        self._literal_paths = {
            path: self._match(path)
            for endpoint in endpoints
            if "{" not in endpoint.template
            for path in (endpoint.template, endpoint.template + "/")
        }

    def _check(
        self,
        endpoint: Endpoint,
        spelled: dict[tuple[str, ...], str],
        mounts: list[tuple[str, ...]],
    ) -> tuple[str, ...]:
        label = f"{endpoint.method} {endpoint.template}"
        if endpoint.method not in METHODS:
            raise TemplateError(f"{label}: unknown method")
        segments = split_template(endpoint.template)
        template_shape = shape(endpoint.template)
        # One spelling per path shape: whitelist entries compare templates as strings.
        first = spelled.setdefault(template_shape, endpoint.template)
        if first != endpoint.template:
            raise TemplateError(f"{endpoint.template!r} is spelled {first!r} elsewhere")
        if self._by_shape.setdefault((endpoint.method, template_shape), endpoint) != endpoint:
            raise TemplateError(f"{label} is in the table twice")
        for mount in mounts:
            if _crosses(segments, mount):
                raise TemplateError(f"{label} has a parameter across the mount /{'/'.join(mount)}")
        return segments

    def _sent_to(self, endpoint: Endpoint) -> str | None:
        """The upstream of every path of ``endpoint``'s template, which must be its service.
        No parameter stands on a mount's literal segment, so one path of the template is
        sent where all are; with and without the trailing slash the template ignores."""
        path = re.sub(r"\{[^}]*\}", "{}", endpoint.template)
        wanted = None if endpoint.service == GATEWAY else endpoint.service
        for sample in (path, path + "/"):
            found = self._mounts.match(sample)
            routed = self._answers[found.lastgroup or ""].upstream if found else None
            if routed != wanted:
                raise TemplateError(
                    f"{endpoint.method} {endpoint.template} is the {endpoint.service}'s but"
                    f" is sent to {routed or 'the gateway'}"
                )
        return wanted

    def match(self, path: str) -> RouteMatch:
        """The endpoint template of ``path`` and the service that serves it, in one match."""
        found = self._literal_paths.get(path)
        return found if found is not None else self._match(path)

    def _match(self, path: str) -> RouteMatch:
        hit = self._templates.match(path) or self._mounts.match(path)
        return NO_MATCH if hit is None else self._answers[hit.lastgroup or ""]

    def template_for(self, path: str) -> str | None:
        """The template matching ``path`` (any method), or None."""
        return self.match(path).template

    def upstream_for(self, path: str) -> str | None:
        """The service that serves ``path``, or None when the gateway itself (or nobody)
        does."""
        return self.match(path).upstream

    def canonical(self, method: str, template: str) -> Endpoint | None:
        """The table's own spelling of ``method template``, or None when unknown."""
        return self._by_shape.get((method, shape(template)))


def _crosses(template: tuple[str, ...], mount: tuple[str, ...]) -> bool:
    """Whether a parameter of ``template`` stands where ``mount`` has a literal segment, so
    that some of the template's paths are in the mount and some are not."""
    if len(template) < len(mount):
        return False
    for have, want in zip(template, mount, strict=False):
        if have.startswith("{"):
            return True
        if have != want:
            return False
    return False


# The platform's table; immutable once built.
PLATFORM = RouteTable()
