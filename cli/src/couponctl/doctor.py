"""``couponctl doctor``: is the platform reachable and healthy from here, with this token?

Checks, in order: the gateway answers ``/healthz``; ``/readyz`` (its migrations, and whether
its PostgreSQL and Redis answer); the token is accepted; each URL family reaches its service
(an answer from the service, even a refusal, counts; the gateway's 502/503/504 does not);
every replica behind the gateway is ready, its PostgreSQL and Redis answering and its
migrations applied (``GET /api/v1/status``;
skipped when the token is not whitelisted for it); every service's API description reaches
``/openapi.json``. Counter drift is what ``couponctl reconcile`` repairs and the
``redemption_counter_drift`` metric shows. Exit code 1 when a check fails; 3 when the
gateway does not answer or no token was given, and the checks stop there (the rest would
fail the same way).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from couponctl.client import EXIT_NOT_CONNECTED, EXIT_OK, ApiError, CliError, GatewayClient
from couponctl.render import plain
from couponctl.resources import Subparsers

UPSTREAM_ERRORS = frozenset({502, 503, 504})
FAMILIES = (
    ("promotion-service", "GET", "/api/v1/promotions", {"limit": 1}),
    ("issuance-service", "GET", "/v2/coupon/series", None),
    ("redemption-service", "GET", "/v2/coupon/is_redeemable", {"code": "DOCTOR", "id": 0}),
    ("webhook-service", "GET", "/api/v1/webhooks", None),
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: int = EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _attempt(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except CliError as exc:
        return Check(name, False, str(exc), exc.exit_code)


def _token(client: GatewayClient) -> str:
    try:
        client.request("GET", "/api/v1/api-tokens")
    except ApiError as exc:
        code = exc.body.get("code") if isinstance(exc.body, dict) else None
        if exc.status == 403 and code == "not_whitelisted":
            return "accepted (not whitelisted for token administration)"
        raise
    return "accepted (token administration allowed)"


def _family(client: GatewayClient, method: str, path: str, query: Any) -> str:
    try:
        client.request(method, path, query=query)
    except ApiError as exc:
        if exc.status in UPSTREAM_ERRORS:
            raise
        if exc.status == 403:
            return f"answers (this token is refused here: HTTP {exc.status})"
        return f"answers (HTTP {exc.status})"
    return "answers"


def _replicas(client: GatewayClient) -> str:
    try:
        report = client.request("GET", "/api/v1/status")
    except ApiError as exc:
        if exc.status == 403:
            return "skipped (this token is not whitelisted for GET /api/v1/status)"
        raise
    processes = report.get("processes", []) if isinstance(report, dict) else []
    # A process is ready while a store is down (SPEC section 8); the doctor reports both.
    found = [(p, {**p.get("checks", {}), **p.get("stores", {})}) for p in processes]
    troubled = [
        f"{p.get('process')} {p.get('url') or ''}: "
        + ", ".join(f"{k} {v}" for k, v in results.items() if v not in ("ok", "absent"))
        for p, results in found
        if not p.get("ready") or any(v not in ("ok", "absent") for v in results.values())
    ]
    if troubled:
        raise CliError("; ".join(troubled))
    return f"{len(processes)} processes ready, every migration applied"


def _documents(client: GatewayClient) -> str:
    missing = client.answer("GET", "/openapi.json", public=True).headers["OpenAPI-Unavailable"]
    if missing:
        raise CliError(f"services not answering for their API description: {missing}")
    return "every service describes its API"


def _probes(client: GatewayClient) -> Iterator[tuple[str, Callable[[], str]]]:
    yield "gateway reachable", partial(_status, client, "/healthz")
    yield "gateway ready", partial(_status, client, "/readyz")
    yield "token", partial(_token, client)
    for service, method, path, query in FAMILIES:
        yield f"{service} ({path})", partial(_family, client, method, path, query)
    yield "replicas and migrations", partial(_replicas, client)
    yield "API descriptions", partial(_documents, client)


def run(client: GatewayClient, args: argparse.Namespace) -> dict[str, Any]:
    checks: list[Check] = []
    for name, probe in _probes(client):
        checks.append(_attempt(name, probe))
        if checks[-1].exit_code == EXIT_NOT_CONNECTED:
            break  # no gateway or no token: every check after this one would fail alike
    ok = all(check.ok for check in checks)
    args.exit_status = max(check.exit_code for check in checks)
    return {"ok": ok, "checks": [check.as_dict() for check in checks]}


def _status(client: GatewayClient, path: str) -> str:
    body = client.request("GET", path, public=True)
    if isinstance(body, dict) and "checks" in body:
        results = {**body["checks"], **body.get("stores", {})}
        return ", ".join(f"{k} {v}" for k, v in results.items())
    return "ok"


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{'ok  ' if c['ok'] else 'FAIL'}  {c['name']}: {c['detail']}" for c in result["checks"]
    ]
    lines.append("healthy" if result["ok"] else "problems found")
    return "\n".join(lines)


def add_doctor(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "doctor", parents=[common], help="check the platform from here",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.set_defaults(run=run, render=render)


def reconcile(client: GatewayClient, args: argparse.Namespace) -> Any:
    return client.request("POST", "/v2/coupon/redemptions/reconcile")


def add_reconcile(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        parents=[common],
        help="set redemption counters back to the ledgers now; prints the drift repaired",
        description="Runs the redemption-service's reconciler once (it also runs on its own "
        "schedule). The same as 'python -m redemption_service reconcile' on a replica.",
    )
    parser.set_defaults(
        run=reconcile, render=lambda r: f"drift repaired: {r['reconcile']['drift']}"
    )
