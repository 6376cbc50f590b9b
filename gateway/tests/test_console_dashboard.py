"""The console's dashboard (SPEC section 11): its panels from the platform's real stats
endpoints through the API, each shown only to a role that may read it and failing alone; and
the server-rendered SVG charts it draws them with."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from coupon_core.identity import Principal
from coupon_dev.testing.console import ConsoleStack, Page, console_stack, new_mobile, unique
from coupon_dev.testing.poll import until
from coupon_dev.testing.provision import Infra
from gateway.console.charts import Series, chart, nice_scale
from gateway.console.pages.dashboard import SOURCES, visible
from gateway.console.session import StaffContext
from gateway.domain.roles import RoleName
from gateway.principals import Caller

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    """The chart's figure as XML (it is well-formed: every element closed, all escaped)."""
    text = str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return ET.fromstring(text)  # noqa: S314 (our own output)


@pytest.mark.parametrize(
    ("maximum", "top", "ticks"),
    [
        (7, 8, (0, 2, 4, 6, 8)),
        (3, 3, (0, 1, 2, 3)),
        (1, 1, (0, 1)),
        (10, 10, (0, 5, 10)),
        (100, 100, (0, 50, 100)),
        (1234, 1500, (0, 500, 1000, 1500)),
        (0, 1, (0, 1)),
        (-5, 1, (0, 1)),
        (float("nan"), 1, (0, 1)),
    ],
)
def test_the_scale_is_round_and_reaches_the_maximum(
    maximum: float, top: float, ticks: tuple[float, ...]
) -> None:
    scale = nice_scale(maximum)
    assert scale.top == top
    assert scale.ticks == ticks
    assert scale.top >= (maximum if maximum == maximum else 0)


def test_a_fractional_scale_when_not_counting() -> None:
    assert nice_scale(0.8, integer=False).ticks == (0.0, 0.2, 0.4, 0.6, 0.8)


def test_bars_are_drawn_to_scale() -> None:
    figure = parsed(
        chart(
            chart_id="c", title="Per hour", labels=["a", "b", "c"], series=[Series("n", [0, 5, 10])]
        )
    )
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    heights = [float(rect.attrib["height"]) for rect in svg.iter(f"{SVG}rect")]
    assert len(heights) == 2  # a zero draws no bar
    assert heights[1] == pytest.approx(2 * heights[0])
    tick_labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert tick_labels[:3] == ["0", "5", "10"]


def test_a_chart_says_what_it_shows_and_has_its_numbers_in_a_table() -> None:
    figure = parsed(
        chart(
            chart_id="redemptions",
            title="Redemptions per day",
            labels=["12-01", "12-02"],
            series=[Series("Redemptions", [3, 1200]), Series("Reversals", [0, 2])],
            kind="line",
            axis="Day",
        )
    )
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert svg.attrib["role"] == "img"
    title = svg.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Redemptions per day"
    assert svg.attrib["aria-label"] == (
        "Redemptions per day. Redemptions: 1,203 in all, at most 1,200 (12-02); "
        "Reversals: 2 in all, at most 2 (12-02)."
    )
    assert len(list(svg.iter(f"{SVG}polyline"))) == 2
    table = figure.find("details/div/table")
    assert table is not None
    assert table.findtext("caption") == "Redemptions per day"
    head = [(th.text, th.attrib["scope"]) for th in table.iter("th")][:3]
    assert head == [("Day", "col"), ("Redemptions", "col"), ("Reversals", "col")]
    rows = [[cell.text for cell in row] for row in table.iter("tr")][1:]
    assert rows == [["12-01", "3", "0"], ["12-02", "1,200", "2"]]
    legend = figure.find("ul")
    assert legend is not None
    assert [li.itertext() and "".join(li.itertext()) for li in legend] == [
        "Redemptions",
        "Reversals",
    ]


def test_zero_data_draws_an_empty_chart() -> None:
    markup = chart(chart_id="z", title="Nothing", labels=["a", "b"], series=[Series("n", [0, 0])])
    figure = parsed(markup)
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert list(svg.iter(f"{SVG}rect")) == []
    assert svg.attrib["aria-label"] == "Nothing. n: none."
    assert "nan" not in markup.lower()
    empty = parsed(chart(chart_id="e", title="Empty", labels=[], series=[Series("n", [])]))
    assert empty.find(f"{SVG}svg") is not None


def test_labels_and_names_are_escaped() -> None:
    markup = chart(
        chart_id="x",
        title='<script>alert("t")</script>',
        labels=["<b>label</b>", "a&b"],
        series=[Series('"><img src=x>', [1, 2])],
    )
    assert "<script>" not in markup
    assert "<b>" not in markup
    assert "<img" not in markup
    figure = parsed(markup)  # still well-formed
    texts = "".join(figure.itertext())
    assert "<b>label</b>" in texts
    assert "a&b" in texts
    assert '<script>alert("t")</script>' in texts


def test_an_unknown_chart_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="pie"):
        chart(chart_id="p", title="t", labels=["a"], series=[Series("n", [1])], kind="pie")


def staff_with(whitelist: tuple[str, ...]) -> StaffContext:
    caller = Caller(
        principal=Principal(kind="staff", id="1", name="ada@example.com"),
        whitelist=whitelist,
        role="custom",
    )
    return StaffContext(caller=caller, token="gst_x", csrf="c")


def test_a_panel_is_shown_only_to_a_role_that_may_read_its_endpoint() -> None:
    everything = [s.key for s in visible(staff_with(("*",)))]
    assert everything == ["health", "redemptions", "issues", "promotions"]
    only_status = visible(staff_with(("GET /api/v1/status", "GET /v2/coupon/issue/stats")))
    assert [s.key for s in only_status] == ["health", "issues"]
    assert visible(staff_with(())) == []
    assert {s.template for s in SOURCES} == {
        "/api/v1/status",
        "/v2/coupon/redemptions/stats",
        "/v2/coupon/issue/stats",
        "/api/v1/promotion-stats",
    }


# The dashboard against a real gateway, issuance-, redemption- and promotion-service.

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
STACK_SERVICES = ("issuance", "redemption", "promotion")
SERIES = {
    "description": "Dashboard welcome",
    "discountCode": "dw10",
    "discountType": "ABS",
    "discountValue": 500,
    "detailedInfo": "Five off",
    "validTillDate": "2031-06-30T12:00:00Z",
    "maxCreate": 10,
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(infra: Infra) -> AsyncIterator[ConsoleStack]:
    async with console_stack(infra, services=STACK_SERVICES) as running:
        yield running


@dataclass
class Seeded:
    series_id: int
    coupons: list[str]
    promotion: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(stack: ConsoleStack) -> Seeded:
    """A limited series with three coupons issued and one of them redeemed, and a promotion
    with a usage limit."""
    series = await stack.call("POST", "/v2/coupon/series", json=SERIES, expect=201)
    mobile = new_mobile()
    issued = await stack.call(
        "POST",
        "/v2/coupon/issue/multiple",
        json={"seriesId": series["id"], "customer": {"mobile": mobile}, "count": 3},
    )
    codes = [c["code"] for c in issued["coupons"]]
    await stack.redeem(codes[0], {"mobile": mobile}, amount="1000", number=unique("T-"))
    promotion = unique("DASH-").upper()
    await stack.call(
        "POST",
        "/api/v1/promotions/",
        json={"code": promotion, "name": "Dashboard <sale>", "usageLimit": 40},
        expect=201,
    )
    return Seeded(series_id=int(series["id"]), coupons=codes, promotion=promotion)


def panel(page: Page, key: str) -> str:
    """The words of the dashboard's panel ``key``, as a reader gets them."""
    found = re.search(
        rf'<section[^>]*aria-labelledby="panel-{key}"[^>]*>(.*?)</section>', page.html, re.S
    )
    assert found, f"no panel {key!r}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


PANELS = ("Platform health", "Redemptions", "Coupons issued", "Promotions")


@MODULE_LOOP
async def test_an_admin_sees_every_panel_from_real_data(
    stack: ConsoleStack, seeded: Seeded
) -> None:
    admin = await stack.staff("admin")

    async def redeemed() -> bool:
        body = await stack.call("GET", "/v2/coupon/redemptions/stats")
        counted: int = sum(hour["redemptions"] for hour in body["hourly"])
        return counted == 1

    await until(redeemed, "the redemption counted by the stats", 30)
    page = await admin.get("/console")
    assert page.status == 200
    assert "Could not load" not in page.text
    headings = [text for tag, _, text in page.elements if tag == "h2"]
    assert headings == list(PANELS)

    health = panel(page, "health")
    for process in ("gateway", "issuance", "redemption", "promotion"):
        assert process in health
    # The webhook-service is not started: the platform says so, in words.
    assert "The platform is degraded" in health

    redemptions = panel(page, "redemptions")
    assert "Redemptions: 1 in all" in page.html  # the hourly chart's label
    assert "redeemed" in redemptions
    assert f"/console/series/{seeded.series_id}" in page.hrefs()
    # The top series by redemptions by name, as the issues panel names them.
    assert f"Dashboard welcome ({seeded.series_id})" in redemptions
    assert f"Series {seeded.series_id}" not in redemptions

    issues = panel(page, "issues")
    assert "Dashboard welcome" in issues
    charts = [attrs for tag, attrs, _ in page.elements if tag == "svg"]
    assert len(charts) == 4
    assert all(svg["role"] == "img" and svg["aria-label"] for svg in charts)
    issued_label = next(
        s["aria-label"] for s in charts if "Coupons issued per hour" in s["aria-label"]
    )
    assert "Issued: 3 in all" in issued_label
    meters = {
        attrs.get("aria-labelledby"): attrs for tag, attrs, _ in page.elements if tag == "meter"
    }
    series_meter = next(m for m in meters.values() if m["max"] == "10")
    assert series_meter["value"] == "3"

    promotions = panel(page, "promotions")
    assert f"Dashboard <sale> ({seeded.promotion})" in promotions  # escaped in the HTML
    assert "Dashboard &lt;sale&gt;" in page.html
    assert f"/console/promotions/{seeded.promotion}" in page.hrefs()


@MODULE_LOOP
async def test_each_role_sees_the_navigation_it_may_use(stack: ConsoleStack) -> None:
    expected: dict[RoleName, set[str]] = {
        "admin": {"Promotions", "Series", "Customers", "Redemptions", "API tokens", "Webhooks",
                  "Staff", "Audit log"},
        "marketer": {"Promotions", "Series", "Customers"},
        "support": {"Promotions", "Series", "Customers", "Redemptions"},
    }  # fmt: skip
    for role, pages in expected.items():
        browser = await stack.staff(role)
        page = await browser.get("/console")
        assert page.status == 200
        nav = page.links()
        shown = {label for label in ALL_PAGES if label in nav}
        assert shown == pages, role
        # Every role here may read the four stats endpoints: all panels show.
        headings = [text for tag, _, text in page.elements if tag == "h2"]
        assert headings == list(PANELS), role
        assert browser.email in page.text
        assert f"({role})" in page.text


ALL_PAGES = ("Promotions", "Series", "Customers", "Redemptions", "API tokens", "Webhooks",
             "Staff", "Audit log")  # fmt: skip


@MODULE_LOOP
async def test_a_failing_endpoint_fails_only_its_panel(infra: Infra) -> None:
    # Only the issuance-service runs: the other stats endpoints' services do not answer.
    async with console_stack(infra, services=("issuance",)) as lonely:
        admin = await lonely.staff("admin")
        page = await admin.get("/console")
    assert page.status == 200
    issues = panel(page, "issues")
    assert "Could not load" not in issues
    assert "Issued: none" in page.html
    for key in ("redemptions", "promotions"):
        text = panel(page, key)
        assert "Could not load this panel" in text, text
        assert "(HTTP 502)" in text, text
