"""Where a request goes: the service the route table sends its path to (SPEC section 1,
:mod:`coupon_core.routes`), round-robin over its replicas, and how many requests may be in
flight to each service."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from coupon_core.routes import PLATFORM, RouteMatch, RouteTable
from coupon_core.turns import Turns
from yarl import URL


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

    def replicas(self) -> Iterator[URL]:
        """Every replica's base URL once, starting from the next in turn (each taken when
        the one before did not take the request)."""
        for i in self._order():
            yield self.bases[i]


class Router:
    def __init__(
        self,
        upstreams: dict[str, list[str]],
        *,
        pool_size: int = 256,
        pool_wait_s: float = 10.0,
        routes: RouteTable = PLATFORM,
    ) -> None:
        self.upstreams = {
            name: Upstream(name, urls, pool_size, pool_wait_s) for name, urls in upstreams.items()
        }
        self.routes = routes

    def resolve(self, match: RouteMatch) -> Upstream | None:
        """The upstream of a path matched against :attr:`routes` (None: not forwarded)."""
        return self.upstreams[match.upstream] if match.upstream else None
