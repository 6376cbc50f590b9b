"""limit.reached: the issue that takes a series' last unit of maxCreate writes one, in its
own statement; an issue given back writes none."""

from __future__ import annotations

from typing import Any

import asyncpg
from coupon_dev.testing.plugin import outbox_payloads

REFUSE_EVERY_ISSUE = """
CREATE FUNCTION refuse_issue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused by test trigger';
END $$;
CREATE TRIGGER refuse_issue BEFORE INSERT ON issued_coupons
    FOR EACH ROW EXECUTE FUNCTION refuse_issue();
"""


async def test_the_issue_that_reaches_max_create_writes_one_limit_reached(
    api: Any, new_series: Any, conn: asyncpg.Connection
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=3))).json()
    target = {"seriesId": series["id"], "customer": {"mobile": "61"}}
    two = await api.post("/v2/coupon/issue/multiple", json={**target, "count": 2})
    assert two.status == 200, await two.text()
    assert await outbox_payloads(conn, "limit.reached") == []  # below the limit: none
    last = await api.post("/v2/coupon/issue", json=target)
    assert last.status == 200, await last.text()
    refused = await api.post("/v2/coupon/issue", json=target)
    assert refused.status == 400
    [reached] = await outbox_payloads(conn, "limit.reached")
    issued = (await outbox_payloads(conn, "coupon.issued"))[-1]
    assert reached == {
        "scope": "series",
        "group": f"S:{series['id']}",
        "code": None,
        "counter": "issues",
        "limit": 3,
        "used": 3,
        "reachedAt": issued["issuedAt"],
    }


async def test_a_batch_reaching_max_create_at_once_writes_one(
    api: Any, new_series: Any, conn: asyncpg.Connection
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=4))).json()
    body = {"seriesId": series["id"], "customer": {"mobile": "62"}, "count": 4}
    resp = await api.post("/v2/coupon/issue/multiple", json=body)
    assert resp.status == 200, await resp.text()
    assert [(e["limit"], e["used"]) for e in await outbox_payloads(conn, "limit.reached")] == [
        (4, 4)
    ]


async def test_an_issue_given_back_writes_no_limit_reached(
    api: Any, new_series: Any, conn: asyncpg.Connection
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=1))).json()
    target = {"seriesId": series["id"], "customer": {"mobile": "63"}}
    await conn.execute(REFUSE_EVERY_ISSUE)
    failed = await api.post("/v2/coupon/issue", json=target)
    assert failed.status == 500
    assert await outbox_payloads(conn, "limit.reached") == []
    await conn.execute("DROP TRIGGER refuse_issue ON issued_coupons")
    again = await api.post("/v2/coupon/issue", json=target)  # the take was given back
    assert again.status == 200, await again.text()
    assert len(await outbox_payloads(conn, "limit.reached")) == 1


async def test_a_series_without_max_create_writes_none(
    api: Any, new_series: Any, conn: asyncpg.Connection
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    body = {"seriesId": series["id"], "customer": {"mobile": "64"}, "count": 3}
    assert (await api.post("/v2/coupon/issue/multiple", json=body)).status == 200
    assert await outbox_payloads(conn, "limit.reached") == []
