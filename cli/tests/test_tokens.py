"""``couponctl tokens`` against a live in-process gateway (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from typing import Any

from coupon_dev.gateway_fixtures import TEST_ADMIN_TOKEN, StartGateway
from couponctl.__main__ import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Ctl:
    def __init__(self, url: str, token: str = TEST_ADMIN_TOKEN) -> None:
        self.env = {"COUPONCTL_URL": url, "COUPONCTL_TOKEN": token}

    async def __call__(self, *argv: str, env: dict[str, str] | None = None) -> Run:
        out, err = io.StringIO(), io.StringIO()
        # The CLI is synchronous; the gateway serves on this loop meanwhile.
        code = await asyncio.to_thread(
            main, list(argv), env=self.env if env is None else env, stdout=out, stderr=err
        )
        return Run(code, out.getvalue(), err.getvalue())


async def _ctl(gateways: StartGateway) -> tuple[Ctl, Any]:
    client = await gateways()
    return Ctl(str(client.make_url("")).rstrip("/")), client


async def test_create_list_show_edit_revoke(gateways: StartGateway) -> None:
    ctl, client = await _ctl(gateways)
    created = await ctl(
        "tokens", "create", "--name", "pos", "--allow", "POST /v2/coupon/issue",
        "--allow", "POST /v2/coupon/redemptions/{id}/reverse", "--rate-limit", "30", "--json",
    )  # fmt: skip
    assert created.code == 0, created.err
    token = created.json()
    assert token["whitelist"] == [
        "POST /v2/coupon/issue",
        "POST /v2/coupon/redemptions/{redemptionId}/reverse",
    ]
    assert token["rateLimit"] == 30
    secret = token["token"]
    issued = await client.post("/v2/coupon/issue", headers={"Authorization": f"Bearer {secret}"})
    assert issued.status == 200

    listed = await ctl("tokens", "list")
    assert listed.code == 0
    assert "bootstrap-admin" in listed.out
    assert "pos" in listed.out
    assert secret not in listed.out

    shown = await ctl("--json", "tokens", "show", str(token["id"]))
    assert shown.code == 0
    assert "token" not in shown.json()

    allowed = await ctl("tokens", "allow", str(token["id"]), "GET /v2/customers/{id}", "--json")
    assert allowed.json()["whitelist"][-1] == "GET /v2/customers/{id}"
    removed = await ctl(
        "tokens", "disallow", str(token["id"]), "post /v2/coupon/redemptions/{x}/reverse", "--json"
    )
    assert removed.json()["whitelist"] == ["POST /v2/coupon/issue", "GET /v2/customers/{id}"]
    replaced = await ctl("tokens", "set-whitelist", str(token["id"]), "*", "--json")
    assert replaced.json()["whitelist"] == ["*"]
    cleared = await ctl("tokens", "set-whitelist", str(token["id"]), "--json")
    assert cleared.json()["whitelist"] == []
    limited = await ctl("tokens", "set-rate-limit", str(token["id"]), "default", "--json")
    assert limited.json()["rateLimit"] is None

    revoked = await ctl("tokens", "revoke", str(token["id"]))
    assert revoked.code == 0
    assert "revoked:    -" not in revoked.out
    # A fresh replica (no cache) refuses it at once.
    other = await gateways()
    refused = await other.post("/v2/coupon/issue", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 403


async def test_human_output_of_create_shows_the_secret_once(gateways: StartGateway) -> None:
    ctl, _ = await _ctl(gateways)
    created = await ctl("tokens", "create", "--name", "plain")
    assert created.code == 0
    assert "token:" in created.out
    assert "reaches no endpoint" in created.out


async def test_exit_codes(gateways: StartGateway) -> None:
    ctl, _ = await _ctl(gateways)
    bad_entry = await ctl("tokens", "create", "--name", "x", "--allow", "FETCH /v2/coupon/issue")
    assert bad_entry.code == 1
    assert "HTTP 400" in bad_entry.err
    assert "invalid_whitelist" in bad_entry.err
    missing = await ctl("tokens", "show", "999")
    assert missing.code == 1
    assert "HTTP 404" in missing.err
    forbidden = await ctl("tokens", "list", env={**ctl.env, "COUPONCTL_TOKEN": "wrong-token"})
    assert forbidden.code == 1
    assert "HTTP 403" in forbidden.err
    flags = await ctl(
        "--url", ctl.env["COUPONCTL_URL"], "--token", TEST_ADMIN_TOKEN, "tokens", "list", env={}
    )
    assert flags.code == 0
    no_token = await ctl("tokens", "list", env={"COUPONCTL_URL": ctl.env["COUPONCTL_URL"]})
    assert no_token.code == 3
    assert "COUPONCTL_TOKEN" in no_token.err
    unreachable = await ctl("tokens", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.code == 3
    assert "cannot reach" in unreachable.err
    usage = await ctl("tokens", "show", "not-a-number")
    assert usage.code == 2
    nothing = await ctl()
    assert nothing.code == 2
