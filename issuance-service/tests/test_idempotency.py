"""Idempotency-Key on both issue endpoints: replay, 422 for another body, 409 in flight."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from coupon_core import idempotency


async def test_issue_endpoints_honour_idempotency_keys(
    api: Any, new_series: Any, database_url: str
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    cases = [
        ("/v2/coupon/issue", {"seriesId": series["id"], "customer": {"mobile": "5"}}),
        (
            "/v2/coupon/issue/multiple",
            {"seriesId": series["id"], "customer": {"mobile": "5"}, "count": 2},
        ),
    ]
    db = await asyncpg.connect(database_url)
    try:
        for n, (path, body) in enumerate(cases):
            raw = orjson.dumps(body)
            headers = {"Idempotency-Key": f"key-{n}", "Content-Type": "application/json"}
            first = await api.post(path, data=raw, headers=headers)
            assert first.status == 200, await first.text()
            replayed = await api.post(path, data=raw, headers=headers)
            assert replayed.status == 200
            assert await replayed.json() == await first.json()

            other = orjson.dumps({**body, "customer": {"mobile": "6"}})
            resp = await api.post(path, data=other, headers=headers)
            assert resp.status == 422
            assert list(await resp.json()) == ["errors", "warnings"]

            scope = await db.fetchval(
                "SELECT scope FROM idempotency_keys WHERE key = $1", f"key-{n}"
            )
            async with asyncpg.create_pool(database_url, min_size=1, max_size=1) as pool:
                await idempotency.begin(
                    pool,
                    scope=scope,
                    key=f"busy-{n}",
                    fingerprint=idempotency.request_hash("POST", path, raw),
                    retention=timedelta(hours=24),
                )
            busy = await api.post(
                path, data=raw, headers={**headers, "Idempotency-Key": f"busy-{n}"}
            )
            assert busy.status == 409
            assert (await busy.json())["errors"][0]["code"] == 409

        issued = await db.fetchval("SELECT count(*) FROM issued_coupons")
        assert issued == 3  # one, then two: replays and refusals issued nothing
        failed = await api.post(
            "/v2/coupon/issue",
            json={"seriesId": 999999, "customer": {"mobile": "5"}},
            headers={"Idempotency-Key": "failed"},
        )
        assert failed.status == 404
        # A failed request leaves no key behind: the same key may be used again.
        assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'failed'") == 0
    finally:
        await db.close()


async def test_a_malformed_key_is_400(api: Any, new_series: Any) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    body = {"seriesId": series["id"], "customer": {"mobile": "5"}}
    resp = await api.post("/v2/coupon/issue", json=body, headers={"Idempotency-Key": "k" * 300})
    assert resp.status == 400
    assert list(await resp.json()) == ["errors", "warnings"]


async def test_a_replay_says_it_is_one(api: Any, new_series: Any) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    body = {"seriesId": series["id"], "customer": {"mobile": "7"}}
    headers = {"Idempotency-Key": "replayed"}
    first = await api.post("/v2/coupon/issue", json=body, headers=headers)
    assert first.status == 200, await first.text()
    assert "Idempotent-Replayed" not in first.headers
    replayed = await api.post("/v2/coupon/issue", json=body, headers=headers)
    assert replayed.status == 200
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await replayed.json() == await first.json()


async def test_a_refused_issue_is_replayed_as_the_same_refusal(
    api: Any, new_series: Any, database_url: str
) -> None:
    """SPEC section 5: a retry replays the first answer, a limit's refusal included, and has
    no second effect even once the limit would let it through."""
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=1))).json()
    path = f"/v2/coupon/series/{series['id']}"
    taken = await api.post(
        "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"mobile": "8"}}
    )
    assert taken.status == 200, await taken.text()
    body = {"seriesId": series["id"], "customer": {"mobile": "9"}}
    headers = {"Idempotency-Key": "refused"}
    refused = await api.post("/v2/coupon/issue", json=body, headers=headers)
    assert refused.status == 400, await refused.text()
    first = await refused.json()
    assert first["errors"][0]["code"] == 722

    raised = await api.put(path, json={"maxCreate": 5})
    assert raised.status == 200, await raised.text()
    retried = await api.post("/v2/coupon/issue", json=body, headers=headers)
    assert retried.status == 400
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert await retried.json() == first
    db = await asyncpg.connect(database_url)
    try:
        assert await db.fetchval("SELECT count(*) FROM issued_coupons") == 1
    finally:
        await db.close()
    # The same body under a new key is a new request: the raised limit lets it through.
    fresh = await api.post("/v2/coupon/issue", json=body, headers={"Idempotency-Key": "new"})
    assert fresh.status == 200, await fresh.text()


async def test_the_query_string_is_part_of_the_request(api: Any, new_series: Any) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    body = {"seriesId": series["id"], "customer": {"mobile": "10"}}
    headers = {"Idempotency-Key": "with-query"}
    first = await api.post("/v2/coupon/issue?channel=a", json=body, headers=headers)
    assert first.status == 200, await first.text()
    other = await api.post("/v2/coupon/issue?channel=b", json=body, headers=headers)
    assert other.status == 422
    assert (await other.json())["errors"][0]["code"] == 422
    same = await api.post("/v2/coupon/issue?channel=a", json=body, headers=headers)
    assert same.status == 200
    assert await same.json() == await first.json()
