"""Which service serves a path (SPEC section 1), and round-robin over its replicas."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

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


def _matches(path: str, prefix: str, exact: bool) -> bool:
    if exact:
        return path == prefix or path == prefix + "/"
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


def upstream_for(path: str) -> str | None:
    """The upstream that serves ``path``, or None when the gateway itself (or nobody) does."""
    best: tuple[int, str] | None = None
    for prefix, exact, upstream in _ROUTES:
        if _matches(path, prefix, exact) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), upstream)
    return best[1] if best else None


@dataclass
class Upstream:
    name: str
    urls: list[str]
    _cycle: Iterator[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cycle = itertools.cycle(self.urls)

    def attempts(self) -> list[str]:
        """Every replica once, starting from the next in turn."""
        first = next(self._cycle)
        start = self.urls.index(first)
        return self.urls[start:] + self.urls[:start]


class Router:
    def __init__(self, upstreams: dict[str, list[str]]) -> None:
        self.upstreams = {name: Upstream(name, urls) for name, urls in upstreams.items()}

    def resolve(self, path: str) -> Upstream | None:
        name = upstream_for(path)
        return self.upstreams[name] if name else None
