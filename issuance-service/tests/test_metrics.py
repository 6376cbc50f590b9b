"""Issues, limit rejections and Lua script latency show in the service's /metrics."""

from __future__ import annotations

from typing import Any

from coupon_core.keys import METRICS
from coupon_dev.testing.prometheus import samples
from issuance_service.app import create_app
from issuance_service.settings import Settings

from .conftest import series_body


async def test_issue_metrics(service_env: dict[str, Any], through_gateway: Any) -> None:
    app = create_app(Settings(**service_env))
    api = await through_gateway(app)
    created = await api.post("/v2/coupon/series", json=series_body(maxVouchersPerUser=1))
    assert created.status == 201
    series_id = (await created.json())["id"]
    body = {"seriesId": series_id, "customer": {"mobile": "15550001111"}}
    assert (await api.post("/v2/coupon/issue", json=body)).status == 200
    refused = await api.post("/v2/coupon/issue", json=body)
    assert refused.status == 400
    found = samples(app[METRICS].render().decode())
    assert found["coupon_issues_total", (("endpoint", "issue"),)] == 1
    assert found["coupon_limit_rejections_total", (("limit", "maxVouchersPerUser"),)] == 1
    assert found["redis_script_duration_seconds_count", (("script", "issue_take"),)] >= 2
