"""``couponctl staff`` against a live in-process gateway (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.errors import Unauthorized
from coupon_dev.gateway_fixtures import TEST_ADMIN_TOKEN, StartGateway
from couponctl.__main__ import main
from gateway.sessions import sign_in

PASSWORD = "a long staff passphrase"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Ctl:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.url = str(client.make_url("")).rstrip("/")
        self.env = {"COUPONCTL_URL": self.url, "COUPONCTL_TOKEN": TEST_ADMIN_TOKEN}

    async def __call__(self, *argv: str, stdin: str = "") -> Run:
        out, err = io.StringIO(), io.StringIO()
        # The CLI is synchronous; the gateway serves on this loop meanwhile.
        code = await asyncio.to_thread(
            main, list(argv), env=self.env, stdout=out, stderr=err, stdin=io.StringIO(stdin)
        )
        return Run(code, out.getvalue(), err.getvalue())


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app: web.Application | None = client.app
    assert app is not None
    return app


async def test_create_list_show_update_set_password_disable_and_roles(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    ctl = Ctl(client)
    created = await ctl(
        "staff", "create", "Mia@Example.com", "--role", "marketer", "--name", "Mia Rossi",
        "--password-stdin", "--json", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.code == 0, created.err
    account = created.json()
    assert (account["email"], account["role"], account["name"]) == (
        "mia@example.com",
        "marketer",
        "Mia Rossi",
    )
    signed = await sign_in(app_of(client), "mia@example.com", PASSWORD, "192.0.2.1", None)
    assert signed.staff.id == account["id"]
    staff_id = str(account["id"])

    # Without --password-stdin and without a terminal, one line of stdin is the password.
    piped = await ctl("staff", "create", "sam@example.com", "--role", "support", stdin=PASSWORD)
    assert piped.code == 0, piped.err
    assert "email:        sam@example.com" in piped.out
    assert PASSWORD not in piped.out

    listed = await ctl("staff", "list")
    assert listed.code == 0
    assert listed.out.splitlines()[1:] == [
        f"{account['id']:>5}  {'mia@example.com':<32} marketer  yes     Mia Rossi",
        f"{account['id'] + 1:>5}  {'sam@example.com':<32} support   yes     -",
        "(2 in all, page 1 of 1)",
    ]
    found = await ctl("staff", "list", "--email", "SAM", "--json")
    assert [s["email"] for s in found.json()["items"]] == ["sam@example.com"]
    shown = (await ctl("staff", "show", staff_id, "--json")).json()
    assert shown["lastSignInAt"] is not None  # signed in above
    assert {**shown, "lastSignInAt": None} == account

    updated = await ctl("staff", "update", staff_id, "--role", "support", "--name", "M.", "--json")
    assert (updated.json()["role"], updated.json()["name"]) == ("support", "M.")
    disabled = await ctl("staff", "update", staff_id, "--inactive", "--json")
    assert disabled.json()["active"] is False
    enabled = await ctl("staff", "update", staff_id, "--active", "--json")
    assert enabled.json()["active"] is True

    changed = await ctl("staff", "set-password", staff_id, stdin="another passphrase\n")
    assert changed.code == 0, changed.err
    await sign_in(app_of(client), "mia@example.com", "another passphrase", "192.0.2.2", None)

    gone = await ctl("staff", "disable", staff_id)
    assert gone.code == 0
    assert "active:       False" in gone.out
    try:
        await sign_in(app_of(client), "mia@example.com", "another passphrase", "192.0.2.3", None)
    except Unauthorized:
        pass
    else:
        raise AssertionError("a disabled account signed in")

    roles = await ctl("staff", "roles")
    assert roles.code == 0
    assert roles.out.startswith("admin:\n  *\nmarketer:\n  GET /api/v1/status\n")
    assert "  POST /v2/coupon/redemptions/{redemptionId}/reverse" in roles.out


async def test_refusals_and_usage_errors(gateways: StartGateway) -> None:
    ctl = Ctl(await gateways())
    await ctl("staff", "create", "dup@example.com", "--role", "support", stdin=PASSWORD)
    duplicate = await ctl("staff", "create", "DUP@example.com", "--role", "admin", stdin=PASSWORD)
    assert duplicate.code == 1
    assert "HTTP 409" in duplicate.err
    weak = await ctl("staff", "create", "weak@example.com", "--role", "support", stdin="short")
    assert weak.code == 1
    assert "HTTP 400" in weak.err
    assert "password" in weak.err
    unknown_role = await ctl("staff", "create", "r@example.com", "--role", "root", stdin=PASSWORD)
    assert unknown_role.code == 1
    assert "role" in unknown_role.err
    empty = await ctl("staff", "create", "e@example.com", "--role", "support", stdin="\n")
    assert empty.code == 2
    assert "no password given" in empty.err
    nothing = await ctl("staff", "update", "1")
    assert nothing.code == 2
    assert "nothing to change" in nothing.err
    both = await ctl("staff", "update", "1", "--active", "--inactive")
    assert both.code == 2
    missing = await ctl("staff", "show", "999")
    assert missing.code == 1
    assert "HTTP 404" in missing.err


def _create_on_a_terminal(url: str, typed: list[str]) -> tuple[int, str]:
    """``couponctl staff create`` in a process whose controlling terminal is a new pty, with
    ``typed`` entered at its prompts; its exit code and what the terminal showed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COUPONCTL_URL": url, "COUPONCTL_TOKEN": TEST_ADMIN_TOKEN}
    argv = ["staff", "create", "tty@example.com", "--role", "support"]
    process = subprocess.Popen(
        [sys.executable, "-m", "couponctl", *argv],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,  # its own session: the pty becomes its /dev/tty
    )
    os.close(follower)
    shown = b""
    try:
        deadline = time.monotonic() + 30
        for prompts, line in enumerate(typed, start=1):
            # "Password: ", then "Password again: ".
            while shown.count(b"Password") < prompts or not shown.endswith(b": "):
                ready, _, _ = select.select([leader], [], [], deadline - time.monotonic())
                assert ready, f"no password prompt {prompts} on the terminal: {shown!r}"
                shown += os.read(leader, 1024)
            os.write(leader, line.encode() + b"\n")
        code = process.wait(timeout=60)
        while True:
            try:
                chunk = os.read(leader, 1024)
            except OSError:  # the terminal is closed once the process has exited
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, shown.decode(errors="replace")


async def test_on_a_terminal_the_password_is_asked_twice(gateways: StartGateway) -> None:
    client = await gateways()
    url = str(client.make_url("")).rstrip("/")
    code, shown = await asyncio.to_thread(_create_on_a_terminal, url, [PASSWORD, "different"])
    assert code == 2
    assert "the two passwords differ" in shown
    code, shown = await asyncio.to_thread(_create_on_a_terminal, url, [PASSWORD, PASSWORD])
    assert code == 0, shown
    assert "Password: " in shown
    assert "Password again: " in shown
    assert PASSWORD not in shown  # not echoed
    await sign_in(app_of(client), "tty@example.com", PASSWORD, "192.0.2.1", None)
