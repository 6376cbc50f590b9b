"""Which service serves a path (SPEC section 1), round-robin over its replicas, and how many
requests may be in flight to each service."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from coupon_core.turns import Turns
from yarl import URL

PROMOTION = "promotion"
ISSUANCE = "issuance"
REDEMPTION = "redemption"

# (prefix, exact?) -> upstream. Longest match wins, so order here does not matter.
_ROUTES: tuple[tuple[str, bool, str], ...] = (
    ("/api/v1/promotions", False, PROMOTION),
    ("/v2/coupon/issue", False, ISSUANCE),
    ("/v2/coupon/series", False, ISSUANCE),
    ("/v2/customers", False, ISSUANCE),
    ("/v1.1/coupon/", False, REDEMPTION),
    ("/v2/coupon/is_redeemable", True, REDEMPTION),
    ("/v2/coupon/redemptions", False, REDEMPTION),
    ("/api/v1/coupon/activate", True, REDEMPTION),
    ("/api/v1/users/subscriptions", True, REDEMPTION),
)


def _pattern(prefix: str, exact: bool) -> str:
    if exact:
        return re.escape(prefix) + r"/?\Z"
    if prefix.endswith("/"):
        return re.escape(prefix)
    return re.escape(prefix) + r"(?:/|\Z)"


# One match per request: the alternatives, longest prefix first, so the first that matches
# is the longest match; the group that matched names the upstream.
_ROUTE_RE = re.compile(
    "|".join(
        f"(?P<r{index}>{_pattern(prefix, exact)})"
        for index, (prefix, exact, _) in sorted(
            enumerate(_ROUTES), key=lambda item: -len(item[1][0])
        )
    )
)


def upstream_for(path: str) -> str | None:
    """The upstream that serves ``path``, or None when the gateway itself (or nobody) does."""
    match = _ROUTE_RE.match(path)
    if match is None or match.lastgroup is None:
        return None
    return _ROUTES[int(match.lastgroup[1:])][2]


def forward_url(base: URL, raw_path: str, raw_query: str) -> URL:
    """The URL of a request forwarded to the replica at ``base``: its scheme and authority,
    and the request's path and query exactly as the client sent them (percent-encoded).
    Built from parts, never by joining strings, so no request target can reach another
    host or port."""
    return URL.build(
        scheme=base.scheme,
        authority=base.raw_authority,
        path=raw_path,
        query_string=raw_query,
        encoded=True,
    )


@dataclass
class Upstream:
    name: str
    urls: list[str]
    # Requests in flight to this service at once, and how long the next waits for one.
    pool_size: int = 256
    pool_wait_s: float = 10.0
    bases: list[URL] = field(init=False, repr=False)
    in_flight: Turns = field(init=False, repr=False)
    _turn: Iterator[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.bases = [URL(url) for url in self.urls]
        for url, base in zip(self.urls, self.bases, strict=True):
            if not base.absolute or base.raw_path not in ("", "/") or base.raw_query_string:
                raise ValueError(f"upstream {url!r} must be scheme://host[:port] only")
        self.in_flight = Turns(self.pool_size, self.pool_wait_s)
        self._turn = itertools.cycle(range(len(self.urls)))

    def _order(self) -> list[int]:
        """Every replica once, starting from the next in turn."""
        start = next(self._turn)
        return [(start + i) % len(self.urls) for i in range(len(self.urls))]

    def attempts(self) -> list[str]:
        return [self.urls[i] for i in self._order()]

    def forward_urls(self, raw_path: str, raw_query: str) -> Iterator[URL]:
        """The request's URL at every replica once, starting from the next in turn (each
        made when the one before did not take the request)."""
        for i in self._order():
            yield forward_url(self.bases[i], raw_path, raw_query)


class Router:
    def __init__(
        self, upstreams: dict[str, list[str]], *, pool_size: int = 256, pool_wait_s: float = 10.0
    ) -> None:
        self.upstreams = {
            name: Upstream(name, urls, pool_size, pool_wait_s) for name, urls in upstreams.items()
        }

    def resolve(self, path: str) -> Upstream | None:
        name = upstream_for(path)
        return self.upstreams[name] if name else None
