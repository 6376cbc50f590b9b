"""Every ``couponctl`` subcommand against the running platform (gateway and services)."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

from coupon_dev.cli_fixtures import Couponctl, unique


def test_promotions_and_coupons(ctl: Couponctl) -> None:
    code = unique("CLI")
    created = ctl.ok(
        "promotions", "create", "--code", code, "--name", "CLI sale", "--coupon-based",
        "--fixed-discount", "300",
    )  # fmt: skip
    assert created["code"] == code
    assert created["actions"][0]["type"] == "order_fixed_discount"
    listed = ctl("promotions", "list", "--search", code)
    assert listed.code == 0
    assert code in listed.out
    assert ctl.ok("promotions", "show", code)["couponBased"] is True

    coupon = ctl.ok("coupons", "create", code, "--code", f"{code}-1", "--usage-limit", "3")
    assert coupon["usageLimit"] == 3
    assert f"{code}-1" in ctl("coupons", "list", code).out
    assert ctl.ok("coupons", "show", code, f"{code}-1")["code"] == f"{code}-1"
    assert ctl("coupons", "delete", code, f"{code}-1").code == 0
    missing = ctl("coupons", "show", code, f"{code}-1")
    assert missing.code == 1
    assert "HTTP 404" in missing.err

    assert ctl("promotions", "delete", code).code == 0
    assert ctl("promotions", "show", code).code == 1


def test_generate_follows_the_job_import_and_export(ctl: Couponctl, tmp_path: Path) -> None:
    code = unique("BULK")
    ctl.ok("promotions", "create", "--code", code, "--name", "Bulk", "--coupon-based")
    generated = ctl("coupons", "generate", code, "--amount", "50", "--code-length", "8", "--json")
    assert generated.code == 0, generated.err
    job = generated.json()
    assert (job["state"], job["done"], job["total"]) == ("done", 50, 50)
    # The progress bar, on stderr: not a terminal, so its final state only, on one line.
    assert generated.err.splitlines() == [f"generating {code} [{'#' * 30}] 100% 50/50"]

    source = tmp_path / "in.csv"
    source.write_text("code,usageLimit\nIMPORT-A1,2\nIMPORT-B2,\n", encoding="utf-8")
    imported = ctl("coupons", "import", code, str(source), "--json")
    assert imported.code == 0, imported.err
    assert imported.json() == {"imported": 2}
    again = ctl("coupons", "import", code, str(source))
    assert again.code == 1
    assert "2 of 2 coupons refused" in again.err

    target = tmp_path / "out.csv"
    exported = ctl.ok("coupons", "export", code, "-o", str(target))
    assert exported["coupons"] == 52
    with target.open(newline="", encoding="utf-8") as handle:
        codes = {row["code"] for row in csv.DictReader(handle)}
    assert {"IMPORT-A1", "IMPORT-B2"} <= codes
    assert len(codes) == 52


def test_series_customers_and_users(ctl: Couponctl) -> None:
    series = ctl.ok(
        "series", "create", "--description", "CLI series", "--discount-type", "PERC",
        "--discount-value", "10", "--body", '{"validTillDate": "2031-01-01T00:00:00Z"}',
    )  # fmt: skip
    assert ctl.ok("series", "show", str(series["id"]))["description"] == "CLI series"
    assert "CLI series" in ctl("series", "list").out

    mobile = str(uuid.uuid4().int)[:11]
    customer = ctl.ok("customers", "create", "--first-name", "Ada", "--mobile", mobile)
    customer_id = customer.get("customer", customer)["id"]
    shown = ctl.ok("customers", "show", str(customer_id))
    assert shown.get("customer", shown)["id"] == customer_id
    found = ctl.ok("customers", "lookup", "--mobile", mobile)
    assert found.get("customer", found)["id"] == customer_id
    no_identifier = ctl("customers", "lookup")
    assert no_identifier.code == 2  # a bad command line
    assert "--mobile" in no_identifier.err

    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user = ctl.ok("users", "create", "--email", email, "--password", "long enough secret")
    assert user["user"]["email"] == email


def test_doctor(ctl: Couponctl) -> None:
    healthy = ctl("doctor")
    assert healthy.code == 0, healthy.out
    assert "healthy" in healthy.out
    report = ctl.ok("doctor")
    assert report["ok"] is True
    assert len(report["checks"]) == 9
    replicas = next(c for c in report["checks"] if c["name"] == "replicas and migrations")
    assert replicas["detail"] == "5 processes ready, every migration applied"  # gateway + 4
    refused = Couponctl(ctl.url, token="not-a-token-at-all")("doctor")
    assert refused.code == 1
    assert "FAIL  token" in refused.out


def test_reconcile(ctl: Couponctl) -> None:
    assert ctl.ok("reconcile")["reconcile"]["drift"] == 0
    assert ctl("reconcile").out.strip() == "drift repaired: 0"
