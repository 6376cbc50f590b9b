"""A burst of one credential's requests costs the gateway one database lookup per cache
lifetime, not one per request: its PostgreSQL pool serves distinct credentials, however
many requests each of them sends at once."""

from __future__ import annotations

import asyncio
import math
import re
import time

from coupon_dev.gateway_fixtures import StartGateway, bearer, create_token

BURST = 50
CACHE_TTL_S = 1.0


async def test_concurrent_requests_of_one_token_share_its_lookup(gateways: StartGateway) -> None:
    admin = await gateways()
    token = await create_token(admin, "burst", ["GET /v2/customers/{id}"], rateLimit=1_000_000)
    client = await gateways(auth_cache_ttl_s=CACHE_TTL_S)  # its cache has not seen the token
    auth = bearer(token["token"])
    started = time.monotonic()
    responses = await asyncio.gather(
        *(client.get("/v2/customers/1", headers=auth) for _ in range(BURST))
    )
    elapsed = time.monotonic() - started
    assert [r.status for r in responses] == [200] * BURST
    metrics = await (await client.get("/metrics")).text()
    found = re.search(r'^gateway_credential_lookups_total\{result="found"\} (\S+)$', metrics, re.M)
    assert found is not None
    # A lookup's answer is kept for the cache's lifetime; only then does another one start.
    assert float(found.group(1)) <= math.ceil(elapsed / CACHE_TTL_S)
