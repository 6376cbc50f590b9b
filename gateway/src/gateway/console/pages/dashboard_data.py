"""The dashboard's panels from the API's answers: charts, tables and burn bars, ready for
the template (pages/dashboard.py fetches, this module only reads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from gateway.console.charts import Series, chart

# The generation job states that are over (the promotion-service's words).
FINISHED_JOBS = ("done", "failed")


def _hour_label(value: str) -> str:
    """``2026-12-06T14:00:00Z`` -> ``14:00`` (UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%H:%M")


def _day_label(value: str) -> str:
    """``2026-12-06`` (or a timestamp) -> ``12-06``."""
    return value[5:10]


def promotion_href(code: Any) -> str:
    return "/console/promotions/" + quote(str(code), safe="")


def series_href(series_id: Any) -> str:
    return "/console/series/" + quote(str(series_id), safe="")


def _top(name: Any, count: Any, href: str | None) -> dict[str, Any]:
    return {"name": str(name), "count": int(count or 0), "href": href}


def _burn(used: Any, limit: Any) -> dict[str, Any]:
    used_n, limit_n = int(used or 0), int(limit or 0)
    percent = round(100 * used_n / limit_n) if limit_n > 0 else 0
    return {"used": used_n, "limit": limit_n, "percent": percent}


def time_charts(
    *,
    prefix: str,
    noun: str,
    hourly: Sequence[Mapping[str, Any]],
    daily: Sequence[Mapping[str, Any]],
    hour_key: str,
    day_key: str,
    series: Iterable[tuple[str, str]],
) -> dict[str, Markup]:
    """A bar chart per hour and a line chart per day of the ``series`` (key in each bucket,
    name shown) of one stats answer."""
    named = list(series)
    hour_labels = [_hour_label(str(b[hour_key])) for b in hourly]
    day_labels = [_day_label(str(b[day_key])) for b in daily]
    return {
        "per_hour": chart(
            chart_id=f"{prefix}-hourly",
            title=f"{noun} per hour, last {len(hourly)} hours (UTC)",
            labels=hour_labels,
            series=[Series(name, [int(b.get(key, 0)) for b in hourly]) for key, name in named],
            kind="bar",
            axis="Hour (UTC)",
        ),
        "per_day": chart(
            chart_id=f"{prefix}-daily",
            title=f"{noun} per day, last {len(daily)} days (UTC)",
            labels=day_labels,
            series=[Series(name, [int(b.get(key, 0)) for b in daily]) for key, name in named],
            kind="line",
            axis="Day (UTC)",
        ),
    }


def health(body: Mapping[str, Any]) -> dict[str, Any]:
    processes = []
    for process in body["processes"]:
        stores = process.get("stores") or {}
        checks = process.get("checks") or {}
        problems = [f"{k}: {v}" for k, v in {**checks, **stores}.items() if v != "ok"]
        processes.append(
            {
                "process": process["process"],
                "url": process.get("url") or "",
                "ready": bool(process.get("ready")),
                "stores": ", ".join(f"{k} {v}" for k, v in stores.items()) or "none",
                "problems": "; ".join(problems),
            }
        )
    return {"status": body["status"], "processes": processes}


def redemptions(body: Mapping[str, Any]) -> dict[str, Any]:
    charts = time_charts(
        prefix="redemptions",
        noun="Redemptions and reversals",
        hourly=body["hourly"],
        daily=body["daily"],
        hour_key="hour",
        day_key="day",
        series=(("redemptions", "Redemptions"), ("reversals", "Reversals")),
    )
    outcomes = [
        {
            "status": int(o["status"]),
            "success": bool(o["success"]),
            "message": str(o["message"]),
            "count": int(o["count"]),
        }
        for o in body["outcomes"]
    ]
    return {
        **charts,
        "outcomes": outcomes,
        "top_promotions": [
            _top(p["promotionCode"], p["redemptions"], promotion_href(p["promotionCode"]))
            for p in body["topPromotions"]
        ],
        # Named by id here: pages/dashboard.py puts each series' name in when it may.
        "top_series": [
            {
                **_top(f"Series {s['seriesId']}", s["redemptions"], series_href(s["seriesId"])),
                "series_id": s["seriesId"],
            }
            for s in body["topSeries"]
        ],
    }


def series_name(series: Mapping[str, Any]) -> str:
    """A series as the dashboard names it: its description and id."""
    return f"{series.get('description') or 'Series'} ({series['id']})"


def issues(body: Mapping[str, Any]) -> dict[str, Any]:
    charts = time_charts(
        prefix="issues",
        noun="Coupons issued",
        hourly=body["issuesPerHour"],
        daily=body["issuesPerDay"],
        hour_key="hour",
        day_key="day",
        series=(("issued", "Issued"),),
    )
    limited = [
        {
            "name": series_name(s),
            "href": series_href(s["id"]),
            **_burn(s["numIssued"], s["maxCreate"]),
        }
        for s in body["limitedSeries"]
    ]
    top = [_top(series_name(s), s["numIssued"], series_href(s["id"])) for s in body["topSeries"]]
    return {**charts, "limited": limited, "top_series": top}


def promotions(body: Mapping[str, Any]) -> dict[str, Any]:
    limited = [
        {
            "name": f"{p['name']} ({p['code']})",
            "href": promotion_href(p["code"]),
            **_burn(p["used"], p["usageLimit"]),
        }
        for p in body["limitedPromotions"]
    ]
    coupons = [
        {
            "name": f"{c['code']} ({c['promotionCode']})",
            "href": promotion_href(c["promotionCode"]),
            **_burn(c["used"], c["usageLimit"]),
        }
        for c in body["limitedCoupons"]
    ]
    running: list[dict[str, Any]] = []
    finished: list[dict[str, Any]] = []
    for job in body["generationJobs"]:
        page = f"{promotion_href(job['promotionCode'])}/jobs/{quote(str(job['jobId']), safe='')}"
        row = {
            "promotion": job["promotionCode"],
            "id": job["jobId"],
            "state": job["state"],
            "requested": int(job["requested"]),
            "generated": int(job["generated"]),
            "error": job.get("error"),
            "updated": job.get("updatedAt", ""),
            "page_url": page,
            "progress_url": page + ".json",
        }
        (finished if job["state"] in FINISHED_JOBS else running).append(row)
    top = [
        _top(f"{p['name']} ({p['code']})", p["used"], promotion_href(p["code"]))
        for p in body["topPromotions"]
    ]
    return {
        "limited": limited,
        "coupons": coupons,
        "top": top,
        "jobs": running,
        "finished_jobs": finished,
    }
