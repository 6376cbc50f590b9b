"""``/console``: the dashboard. Each panel comes from one API endpoint and is shown only when
the role may call it; an endpoint that fails shows its error in its panel, in words, and the
rest of the page still renders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages import dashboard_data as data
from gateway.console.render import render
from gateway.console.session import StaffContext, require_staff

HOURS = 48
DAYS = 30
SERIES_ONE = "/v2/coupon/series/{id}"


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    method: str
    template: str
    params: dict[str, int]
    build: Callable[[Any], dict[str, Any]]


SOURCES = (
    Source("health", "GET", "/api/v1/status", {}, data.health),
    Source(
        "redemptions",
        "GET",
        "/v2/coupon/redemptions/stats",
        {"hours": HOURS, "days": DAYS},
        data.redemptions,
    ),
    Source("issues", "GET", "/v2/coupon/issue/stats", {"hours": HOURS, "days": DAYS}, data.issues),
    Source("promotions", "GET", "/api/v1/promotion-stats", {}, data.promotions),
)


@dataclass
class Panel:
    """One source's part of the page: what it built, or the API's error in words."""

    view: dict[str, Any] | None = None
    error: str | None = None


async def _panel(api: ConsoleApi, source: Source) -> Panel:
    try:
        body = await api.get(source.template, params=source.params)
    except ApiError as exc:
        return Panel(error=f"{exc.message} (HTTP {exc.status})")
    try:
        return Panel(view=source.build(body))
    except (KeyError, TypeError, ValueError, AttributeError):
        return Panel(error="The API's answer could not be read.")


async def _name_top_series(api: ConsoleApi, staff: StaffContext, panel: Panel | None) -> None:
    """The redemption stats know a series by its id: put in each top series' name from
    ``GET /v2/coupon/series/{id}`` when the role may read it ("Series 7" otherwise, and
    when that answer fails)."""
    if panel is None or panel.view is None or not staff.may("GET", SERIES_ONE):
        return

    async def name(row: dict[str, Any]) -> None:
        try:
            series = await api.get(SERIES_ONE.format(id=row["series_id"]))
        except ApiError:
            return
        row["name"] = data.series_name(series)

    await asyncio.gather(*(name(row) for row in panel.view["top_series"]))


def visible(staff: StaffContext) -> list[Source]:
    return [s for s in SOURCES if staff.may(s.method, s.template)]


async def dashboard(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    api = ConsoleApi(request, staff)
    sources = visible(staff)
    loads: list[Awaitable[Panel]] = [_panel(api, source) for source in sources]
    panels = dict(zip((s.key for s in sources), await asyncio.gather(*loads), strict=True))
    await _name_top_series(api, staff, panels.get("redemptions"))
    return render(
        request,
        "dashboard/index.html",
        staff=staff,
        title="Dashboard",
        panels=panels,
        hours=HOURS,
        days=DAYS,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console", dashboard)
