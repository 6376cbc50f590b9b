"""Creating and changing coupon series; each change is published as facts and an event."""

from __future__ import annotations

from typing import Any

from coupon_core import events

from issuance_service.db import series as series_db
from issuance_service.domain.errors import series_not_found
from issuance_service.domain.models import Series
from issuance_service.usecases.issue import EVENT_STREAM_SERVICE
from issuance_service.usecases.publish import publish_series
from issuance_service.usecases.stores import Stores


def _event(series: Series) -> dict[str, Any]:
    return {"group": series.group, "seriesId": series.id}


async def create(stores: Stores, settings: dict[str, Any]) -> Series:
    async with stores.pool.acquire() as conn, conn.transaction():
        series = await series_db.insert(conn, settings)
        await events.enqueue(
            conn, service=EVENT_STREAM_SERVICE, event_type="series.updated", payload=_event(series)
        )
    await publish_series(stores.pool, stores.redis, series)
    return series


async def get(stores: Stores, series_id: int) -> Series:
    async with stores.pool.acquire() as conn:
        series = await series_db.get(conn, series_id)
    if series is None:
        raise series_not_found(series_id)
    return series


async def update(stores: Stores, series_id: int, settings: dict[str, Any]) -> Series:
    async with stores.pool.acquire() as conn, conn.transaction():
        series = await series_db.update(conn, series_id, settings)
        if series is None:
            raise series_not_found(series_id)
        await events.enqueue(
            conn, service=EVENT_STREAM_SERVICE, event_type="series.updated", payload=_event(series)
        )
    await publish_series(stores.pool, stores.redis, series)
    return series
