"""``couponctl demo`` (what ``make run`` loads): idempotent, and its curl commands work."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

from coupon_dev.cli_fixtures import Couponctl


def test_demo_loads_once_and_its_curl_commands_work(ctl: Couponctl) -> None:
    first = ctl.ok("demo")
    second = ctl.ok("demo")
    assert second["created"] == []
    assert second["seriesId"] == first["seriesId"]
    assert second["customerId"] == first["customerId"]
    assert ctl.ok("promotions", "show", "HOLIDAY-SALE")["couponBased"] is True
    assert ctl.ok("coupons", "show", "HOLIDAY-SALE", "A8BAB")["perCustomerUsageLimit"] == 1
    activation = ctl.ok("coupons", "show", "new-user-promo", "123456-789ABC-DEFG")
    assert (activation["code"], activation["usageLimit"]) == ("123456-789ABC-DEFG", 1)
    staff = {s["email"]: s["role"] for s in ctl.ok("staff", "list")["items"]}
    assert staff == {
        "admin@example.com": "admin",
        "marketer@example.com": "marketer",
        "support@example.com": "support",
    }
    assert [c for c in first["created"] if c.startswith("staff ")] == [
        f"staff {email}" for email in staff
    ]

    printed = ctl("demo")
    assert printed.code == 0
    commands = [
        line.strip() for line in printed.out.splitlines() if line.strip().startswith("curl")
    ]
    assert commands == second["curl"]
    curl = shutil.which("curl")
    assert curl is not None, "the demo's commands are curl commands"
    answers = []
    for command in commands:
        argv = shlex.split(command)
        done = subprocess.run(
            [curl, "-w", "\n%{http_code}", *argv[1:]], capture_output=True, text=True, check=True
        )
        body, _, status = done.stdout.rpartition("\n")
        assert status == "200", (command, done.stdout)
        answers.append(json.loads(body))
    coupon, issued, redeemed = answers
    assert coupon["code"] == "A3BCB"
    assert issued["seriesId"] == first["seriesId"]
    assert issued["discountCode"] == "erg123"
    assert redeemed["response"]["coupons"]["coupon"]["item_status"]["code"] == 700
