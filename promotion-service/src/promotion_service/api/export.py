"""``GET .../coupons/export.csv``: every coupon of a promotion, streamed in constant memory."""

from __future__ import annotations

import csv
import io

from aiohttp import web
from coupon_core.keys import PG_POOL

from promotion_service.db import coupons as coupon_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.errors import promotion_not_found
from promotion_service.domain.times import format_date
from promotion_service.keys import SETTINGS

HEADER = ("code", "usageLimit", "used", "expiresAt", "perCustomerUsageLimit", "createdAt")
BATCH = 5_000


async def export_csv(request: web.Request) -> web.StreamResponse:
    promotion_code = request.match_info["promotion"]
    zone = request.app[SETTINGS].zone
    async with request.app[PG_POOL].acquire() as conn, conn.transaction(readonly=True):
        promo = await promotion_db.get(conn, promotion_code)
        if promo is None:
            raise promotion_not_found(promotion_code)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{promotion_code}-coupons.csv"',
            }
        )
        await response.prepare(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HEADER)
        async for batch in coupon_db.batches(conn, batch_size=BATCH, promotion_id=promo.id):
            for c in batch:
                writer.writerow(
                    (
                        c.code,
                        "" if c.usage_limit is None else c.usage_limit,
                        c.used,
                        "" if c.expires_at is None else format_date(c.expires_at, zone),
                        "" if c.per_customer_usage_limit is None else c.per_customer_usage_limit,
                        format_date(c.created_at, zone),
                    )
                )
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response
