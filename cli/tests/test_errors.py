"""What ``couponctl`` says when something goes wrong: the API's own reason in every family's
envelope, the wait a 429 asks for, one line instead of a traceback, the documented exit
codes (1 refused or failed, 2 bad command line, 3 gateway unreachable or no token)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from coupon_core.errors import DomainError, NotFound, ValidationFailed
from coupon_core.families import Family, error_body
from coupon_dev.cli_fixtures import Couponctl, unique
from couponctl.client import ApiError


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_refused_generation_prints_the_apis_reason(ctl: Couponctl) -> None:
    code = unique("SHORT")
    ctl.ok("promotions", "create", "--code", code, "--name", "Short codes", "--coupon-based")
    refused = ctl("coupons", "generate", code, "--amount", "5000", "--code-length", "3")
    assert refused.code == 1
    line = _one_line(refused.err)
    assert line.startswith("couponctl: HTTP 400: Validation Failed")
    assert "codeLength: Codes of 3 random characters cannot hold 5000 more" in line
    assert "use longer codes" in line


def test_every_familys_envelope_gives_its_message_and_field_errors() -> None:
    invalid = ValidationFailed(
        {"codeLength": ["too short"], "amount": ["at most 1000000"]},
        form_fields=["amount", "codeLength", "prefix"],
    )
    sylius = str(ApiError(400, error_body(Family.SYLIUS, invalid)))
    # In the form's order of fields, as the envelope lists them.
    assert sylius == "HTTP 400: Validation Failed: amount: at most 1000000; codeLength: too short"
    missing = NotFound("Promotion XMAS not found.")
    assert str(ApiError(404, error_body(Family.SYLIUS, missing))) == (
        "HTTP 404: Promotion XMAS not found."
    )
    denied = DomainError("No token.", status=401, code="unauthorized")
    assert str(ApiError(401, error_body(Family.SYLIUS, denied))) == "HTTP 401: No token."
    crm = error_body(Family.CRM, DomainError("Coupon gone.", status=404, code="coupon_gone"))
    assert str(ApiError(404, crm)) == "HTTP 404: Coupon gone. (coupon_gone)"
    v2 = error_body(Family.CAPILLARY_V2, invalid)
    assert str(ApiError(400, v2)) == "HTTP 400: codeLength: too short; amount: at most 1000000"
    unknown = NotFound("Customer not found: id 5.", numeric_code=8003)
    assert str(ApiError(404, error_body(Family.CAPILLARY_V2, unknown))) == (
        "HTTP 404: Customer not found: id 5. (8003)"
    )
    v11 = error_body(Family.CAPILLARY_V11, DomainError("Bad request.", status=400))
    assert str(ApiError(400, v11)) == "HTTP 400: Bad request."
    redeemed = {
        "response": {
            "status": {"success": "false", "code": 500, "message": "All requests have failed"},
            "coupons": {
                "coupon": [
                    {"code": "A3BCB", "item_status": {"code": 711, "message": "Already used"}},
                    {"code": "B4", "item_status": {"code": 713, "message": "Coupon expired"}},
                ]
            },
        }
    }
    assert str(ApiError(500, redeemed)) == (
        "HTTP 500: All requests have failed: A3BCB: 711 Already used; B4: 713 Coupon expired"
    )
    assert str(ApiError(502, "<html>Bad Gateway</html>\n")) == "HTTP 502: <html>Bad Gateway</html>"
    assert str(ApiError(500, None)) == "HTTP 500: (no body)"


def test_a_rate_limited_request_says_how_long_to_wait(ctl: Couponctl) -> None:
    token = ctl.ok(
        "tokens", "create", "--name", unique("slow"), "--allow", "GET /api/v1/promotions",
        "--rate-limit", "1",
    )["token"]  # fmt: skip
    slow = Couponctl(ctl.url, token=token)
    assert slow("promotions", "list").code == 0
    limited = slow("promotions", "list")
    assert limited.code == 1
    line = _one_line(limited.err)
    assert line.startswith("couponctl: HTTP 429: ")
    seconds = line.rpartition("retry after ")[2].removesuffix(" s)")
    assert seconds.isdigit(), line
    assert 1 <= int(seconds) <= 60


def test_doctor_exits_3_once_when_the_gateway_is_unreachable(reserved_port: int) -> None:
    url = f"http://127.0.0.1:{reserved_port}"
    down = Couponctl(url)("doctor")
    assert down.code == 3
    assert down.out.count("FAIL") == 1
    assert f"FAIL  gateway reachable: cannot reach the gateway at {url}" in down.out
    report = Couponctl(url)("doctor", "--json")
    assert report.code == 3
    assert [c["name"] for c in report.json()["checks"]] == ["gateway reachable"]


def test_doctor_without_a_token_exits_3(ctl: Couponctl) -> None:
    tokenless = Couponctl(ctl.url, token="")
    result = tokenless("doctor")
    assert result.code == 3
    assert "ok    gateway reachable" in result.out
    assert "FAIL  token: no token" in result.out
    assert result.out.count("FAIL") == 1
    assert tokenless("promotions", "list").code == 3


def test_files_that_cannot_be_written_or_read_are_one_line_errors(
    ctl: Couponctl, tmp_path: Path
) -> None:
    exported = ctl("coupons", "export", "HOLIDAY-SALE", "-o", "/nonexistent/x.csv")
    assert exported.code == 2
    line = _one_line(exported.err)
    assert line == "couponctl: cannot write /nonexistent/x.csv: No such file or directory"
    imported = ctl("coupons", "import", "HOLIDAY-SALE", str(tmp_path / "absent.csv"))
    assert imported.code == 2
    assert "cannot read" in _one_line(imported.err)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,usageLimit\nOK-1,2\n,3\n", encoding="utf-8")
    malformed = ctl("coupons", "import", "HOLIDAY-SALE", str(bad))
    assert malformed.code == 2
    assert _one_line(malformed.err) == f"couponctl: {bad}: line 3: no code"


def test_a_failed_export_leaves_no_file(ctl: Couponctl, tmp_path: Path) -> None:
    target = tmp_path / "none.csv"
    missing = ctl("coupons", "export", unique("NO-SUCH-PROMO"), "-o", str(target))
    assert missing.code == 1
    assert "HTTP 404" in _one_line(missing.err)
    assert not target.exists()


def test_a_reader_that_stops_early_ends_couponctl_quietly(ctl: Couponctl, tmp_path: Path) -> None:
    code = unique("PIPE")
    ctl.ok("promotions", "create", "--code", code, "--name", "Piped", "--coupon-based")
    ctl.ok("coupons", "create", code, "--code", f"{code}-1")
    env = {**os.environ, **ctl.env}
    for argv in (["coupons", "list", code], ["--help"]):
        # The reader is gone before couponctl writes: every write to the pipe fails (EPIPE),
        # as with 'couponctl coupons list X | head -1' once head has its line.
        reader, writer = os.pipe()
        os.close(reader)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "couponctl", *argv],
                stdout=writer, stderr=subprocess.PIPE, env=env, cwd=tmp_path, timeout=60,
                check=False,
            )  # fmt: skip
        finally:
            os.close(writer)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stderr == b"", done.stderr.decode()
