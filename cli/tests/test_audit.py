"""``couponctl audit`` against the launched platform: the changes just made through the admin
API are listed, filtered and shown in full, with the resource as it was before."""

from __future__ import annotations

from coupon_dev.cli_fixtures import Couponctl, unique


def test_audit_lists_filters_and_shows_the_changes_just_made(ctl: Couponctl) -> None:
    code = unique("AUDIT")
    ctl.ok("promotions", "create", "--code", code, "--name", "Audited")
    ctl.ok("promotions", "delete", code)

    listed = ctl.ok("audit", "--target", code, "--actor", "bootstrap-admin")
    [deleted] = listed["items"]
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 1, "pages": 1}
    assert deleted["action"] == "DELETE /api/v1/promotions/{code}"
    assert deleted["actorName"] == "bootstrap-admin"
    assert deleted["via"] == "api"
    # The promotion as the promotion-service answered its GET just before the delete.
    assert deleted["before"]["code"] == code
    assert deleted["before"]["name"] == "Audited"

    created = ctl.ok(
        "audit", "--action", "POST /api/v1/promotions", "--since", "10m", "--limit", "100"
    )
    [creation] = [r for r in created["items"] if (r["after"] or {}).get("code") == code]
    assert creation["requestBody"]["name"] == "Audited"
    assert ctl.ok("audit", "--since", "10m", "--limit", "1")["items"][0]["id"] >= deleted["id"]

    table = ctl("audit", "--target", code)
    assert table.code == 0, table.err
    header, row, footer = table.out.splitlines()
    assert header.split() == ["ID", "AT", "ACTOR", "VIA", "METHOD", "PATH", "STATUS"]
    assert row.split()[2:] == [
        "bootstrap-admin",
        "api",
        "DELETE",
        f"/api/v1/promotions/{code}",
        "204",
    ]
    assert footer == "(1 in all, page 1 of 1)"

    shown = ctl("audit", str(deleted["id"]))
    assert shown.code == 0, shown.err
    assert "action:   DELETE /api/v1/promotions/{code}" in shown.out
    assert f"target:   code={code}" in shown.out
    assert f'"code": "{code}"' in shown.out.split("before:", 1)[1]

    assert ctl("audit", "--since", "yesterday").code == 2
    refused = ctl("audit", "--limit", "101")
    assert refused.code == 1
    assert "limit" in refused.err
    missing = ctl("audit", "999999999")
    assert missing.code == 1
    assert "No audit record" in missing.err
