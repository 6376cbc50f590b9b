"""``couponctl webhooks``: endpoints that receive the platform's events (docs/webhooks.md).

``create`` prints the signing secret once; ``rotate-secret`` prints the new one (the old
one stays valid for a grace period). ``test`` sends a ``webhook.test`` event to one endpoint
and, with ``--wait``, waits for its first attempt and exits 1 unless it was delivered.
``deliveries`` lists what is queued, delivered or given up, ``attempts`` the attempt log, and
``redeliver`` queues one event again, or every delivery since a time.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from couponctl.client import EXIT_FAILED, CliError, GatewayClient, UsageError
from couponctl.render import plain, table
from couponctl.resources import Run, Subparsers, command

BASE = "/api/v1/webhooks"
ID_HELP = "the endpoint's id (couponctl webhooks list)"
STATUSES = ("pending", "delivered", "failed")
OUTCOMES = ("delivered", "http_error", "timeout", "refused", "network_error")
DELIVERY_COLUMNS = ["eventId", "eventType", "status", "attempts", "lastAttemptAt", "nextAttemptAt"]
ATTEMPT_COLUMNS = ["attemptedAt", "outcome", "httpStatus", "latencyMs", "eventId", "response"]
RESPONSE_SHOWN = 60  # characters of a response's first bytes in the attempt table
WAIT_LIMIT = 200  # attempts looked through for the test event's
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


# arguments -------------------------------------------------------------------------------


def event_types(text: str) -> list[str]:
    """``TYPE[,TYPE...]`` or ``*``."""
    types = [part.strip() for part in text.split(",") if part.strip()]
    if not types:
        raise argparse.ArgumentTypeError("one event type at least, or '*'")
    return types


def moment(text: str) -> str:
    """An ISO 8601 time, or a duration ago (``30m``, ``2h``, ``3d``), as ISO 8601."""
    if match := _DURATION.fullmatch(text.strip()):
        ago = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return (datetime.now(UTC) - ago).isoformat()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "an ISO 8601 time (2026-12-06T09:00:00Z) or a duration ago (30m, 2h, 3d)"
        ) from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("a time with its offset (Z or +01:00)")
    return when.isoformat()


# output ----------------------------------------------------------------------------------


def _events(endpoint: dict[str, Any]) -> str:
    events = endpoint.get("events") or []
    return "* (every type)" if events == ["*"] else ", ".join(events)


def _state(endpoint: dict[str, Any]) -> str:
    if endpoint.get("enabled"):
        failing = endpoint.get("failingSince")
        return f"yes (failing since {failing})" if failing else "yes"
    if endpoint.get("disabledAt"):
        reason = endpoint.get("disabledReason") or "no reason given"
        return f"no: disabled at {endpoint['disabledAt']} ({reason})"
    return "no"


def describe(endpoint: dict[str, Any]) -> str:
    lines = [
        f"id:          {endpoint['id']}",
        f"url:         {endpoint['url']}",
        f"events:      {_events(endpoint)}",
        f"description: {endpoint.get('description') or '-'}",
        f"enabled:     {_state(endpoint)}",
        f"created:     {endpoint.get('createdAt') or '-'}",
        f"updated:     {endpoint.get('updatedAt') or '-'}",
    ]
    if endpoint.get("secret"):
        lines.append(f"secret:      {endpoint['secret']}")
        lines.append("             (shown only this once: store it now)")
    if endpoint.get("previousSecretExpiresAt"):
        until = endpoint["previousSecretExpiresAt"]
        lines.append(f"             (the previous secret stays valid until {until})")
    return "\n".join(lines)


def _listed(
    key: str, columns: list[str], shown: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> Callable[[Any], str]:
    """A table of ``answer[key]``, each item first passed through ``shown``."""
    render = table(columns)

    def text(answer: Any) -> str:
        items = answer.get(key, []) if isinstance(answer, dict) else answer
        return render([shown(item) if shown else item for item in items])

    return text


def _endpoint_row(endpoint: dict[str, Any]) -> dict[str, Any]:
    enabled = "yes" if endpoint.get("enabled") else "no"
    return {**endpoint, "events": _events(endpoint), "enabled": enabled}


def _attempt_row(attempt: dict[str, Any]) -> dict[str, Any]:
    text = attempt.get("response") or attempt.get("error") or ""
    text = " ".join(str(text).split())
    if len(text) > RESPONSE_SHOWN:
        text = text[: RESPONSE_SHOWN - 3] + "..."
    latency = attempt.get("latencyMs")
    return {
        **attempt,
        "latencyMs": f"{latency:.0f} ms" if isinstance(latency, int | float) else latency,
        "response": text,
    }


def _outcome(attempt: dict[str, Any]) -> str:
    status = attempt.get("httpStatus")
    said = f", HTTP {status}" if status is not None else ""
    latency = attempt.get("latencyMs")
    took = f" in {latency:.0f} ms" if isinstance(latency, int | float) else ""
    text = f"{attempt['outcome']}{said}{took}"
    detail = attempt.get("error") or attempt.get("response")
    return f"{text}: {' '.join(str(detail).split())[:200]}" if detail else text


def _tested(answer: dict[str, Any]) -> str:
    text = f"sent webhook.test event {answer['eventId']}"
    attempt = answer.get("attempt")
    if attempt is None:
        return f"{text} (its attempts: couponctl webhooks attempts ID)"
    return f"{text}\nfirst attempt at {attempt['attemptedAt']}: {_outcome(attempt)}"


# commands --------------------------------------------------------------------------------


def _path(args: argparse.Namespace, tail: str = "") -> str:
    return f"{BASE}/{args.id}{tail}"


def _create(client: GatewayClient, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"url": args.endpoint_url, "events": args.events}
    if args.description is not None:
        body["description"] = args.description
    if args.disabled:
        body["enabled"] = False
    return client.request("POST", BASE, body)


def _update(client: GatewayClient, args: argparse.Namespace) -> Any:
    body = {
        field: value
        for field, value in (
            ("url", args.endpoint_url), ("events", args.events), ("description", args.description),
        )
        if value is not None
    }  # fmt: skip
    if not body:
        raise UsageError("update needs --endpoint-url, --events or --description")
    return client.request("PATCH", _path(args), body)


def _enabled(value: bool) -> Run:
    return lambda client, args: client.request("PATCH", _path(args), {"enabled": value})


def _rotate(client: GatewayClient, args: argparse.Namespace) -> Any:
    body = {} if args.grace_hours is None else {"graceHours": args.grace_hours}
    return client.request("POST", _path(args, "/rotate-secret"), body)


def _test(client: GatewayClient, args: argparse.Namespace) -> Any:
    answer = client.request("POST", _path(args, "/test"), {})
    if not args.wait:
        return answer
    event_id = answer["eventId"]
    deadline = time.monotonic() + args.timeout
    while (attempt := _first_attempt(client, args, event_id)) is None:
        if time.monotonic() >= deadline:
            raise CliError(
                f"sent webhook.test event {event_id}, but no attempt was recorded within "
                f"{args.timeout:g} s (is the webhook service running?)"
            )
        time.sleep(args.poll_interval)
    if attempt.get("outcome") != "delivered":
        args.exit_status = EXIT_FAILED
    return {**answer, "attempt": attempt}


def _first_attempt(
    client: GatewayClient, args: argparse.Namespace, event_id: str
) -> dict[str, Any] | None:
    log = client.request("GET", _path(args, "/attempts"), query={"limit": WAIT_LIMIT})
    mine = [a for a in log.get("attempts", []) if a.get("eventId") == event_id]
    return min(mine, key=lambda a: str(a.get("attemptedAt"))) if mine else None


def _deliveries(client: GatewayClient, args: argparse.Namespace) -> Any:
    query = {"status": args.status, "limit": args.limit, "before": args.before}
    return client.request("GET", _path(args, "/deliveries"), query=query)


def _attempts(client: GatewayClient, args: argparse.Namespace) -> Any:
    query = {
        "since": args.since, "outcome": args.outcome, "limit": args.limit,
        "before": args.before,
    }  # fmt: skip
    return client.request("GET", _path(args, "/attempts"), query=query)


def _redeliver(client: GatewayClient, args: argparse.Namespace) -> Any:
    if args.event is not None:
        if args.status is not None:
            raise UsageError("--status goes with --since, not with --event")
        body: dict[str, Any] = {"eventId": args.event}
    else:
        body = {"since": args.since}
        if args.status is not None:
            body["status"] = args.status
    return client.request("POST", _path(args, "/redeliver"), body)


def _queued(answer: Any) -> str:
    queued = answer.get("queued", 0) if isinstance(answer, dict) else answer
    return f"queued {queued} deliver{'y' if queued == 1 else 'ies'} again"


# the parser ------------------------------------------------------------------------------


def _paging(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--limit", type=int, help=f"{what} to show at most, newest first (default 100)"
    )
    parser.add_argument(
        "--before", type=int, metavar="ID", help=f"only {what} older than this id (the next page)"
    )


def _one(
    commands: Subparsers, common: argparse.ArgumentParser, name: str, help_text: str,
    run: Run, render: Callable[[Any], str] = describe,
) -> argparse.ArgumentParser:  # fmt: skip
    """A command about one endpoint: its id is the first argument."""
    sub = command(commands, common, name, help_text, run, render)
    sub.add_argument("id", type=int, metavar="ID", help=ID_HELP)
    return sub


def add_webhooks(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "webhooks", help="endpoints that receive the platform's events, signed",
        description=plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    types_help = "TYPE[,TYPE...] of the event types (couponctl webhooks event-types), or '*'"

    create = command(
        commands, common, "create", "subscribe an endpoint; prints its secret once", _create,
        describe,
    )  # fmt: skip
    # A positional: --url is the gateway's (a connection option of every command).
    create.add_argument(
        "endpoint_url", metavar="ENDPOINT_URL", help="where events are POSTed (https)"
    )
    create.add_argument(
        "--events",
        type=event_types,
        default=["*"],
        metavar="TYPES",
        help=f"{types_help} (default: '*')",
    )
    create.add_argument("--description", help="free text")
    create.add_argument(
        "--disabled", action="store_true", help="create it disabled (enable it later)"
    )

    listing = command(
        commands, common, "list", "list the endpoints, by id (one page)",
        lambda c, a: c.request("GET", BASE, query={"after": a.after, "limit": a.limit}),
        _listed("webhooks", ["id", "enabled", "events", "url", "description"], _endpoint_row),
    )  # fmt: skip
    listing.add_argument(
        "--after", type=int, metavar="ID", help="only endpoints after this id (the next page)"
    )
    listing.add_argument("--limit", type=int, help="endpoints to show at most (default 100)")
    command(
        commands, common, "event-types", "the event types an endpoint can subscribe to",
        lambda c, a: c.request("GET", f"{BASE}/event-types"),
        _listed("eventTypes", ["type", "description"]),
    )  # fmt: skip
    _one(
        commands, common, "show", "show an endpoint (its secret is never shown again)",
        lambda c, a: c.request("GET", _path(a)),
    )  # fmt: skip
    update = _one(
        commands, common, "update", "change an endpoint's URL, events or description", _update
    )
    update.add_argument("--endpoint-url", metavar="ENDPOINT_URL", help="the new URL (https)")
    update.add_argument("--events", type=event_types, metavar="TYPES", help=types_help)
    update.add_argument("--description", help="free text")
    _one(
        commands, common, "enable", "enable an endpoint again (its failure record is cleared)",
        _enabled(True),
    )  # fmt: skip
    _one(
        commands, common, "disable", "stop sending to an endpoint until it is enabled again",
        _enabled(False),
    )  # fmt: skip
    _one(
        commands, common, "delete", "delete an endpoint, its deliveries and its attempt log",
        lambda c, a: c.request("DELETE", _path(a)),
        lambda e: f"deleted webhook {e['id']} ({e['url']})",
    )  # fmt: skip
    rotate = _one(
        commands, common, "rotate-secret",
        "a new secret, printed once; the old one stays valid for a grace period", _rotate,
    )  # fmt: skip
    rotate.add_argument(
        "--grace-hours", type=int, metavar="N",
        help="hours the old secret stays valid (default: the service's WEBHOOK_SECRET_GRACE_H)",
    )  # fmt: skip

    test = _one(
        commands, common, "test", "send a webhook.test event to the endpoint", _test, _tested
    )
    test.add_argument(
        "--wait", action="store_true",
        help="wait for the first attempt and print its outcome; exit 1 unless delivered",
    )  # fmt: skip
    test.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS",
        help="how long --wait waits for an attempt (default 30)",
    )  # fmt: skip
    test.add_argument(
        "--poll-interval", type=float, default=0.5, metavar="SECONDS", help=argparse.SUPPRESS
    )

    deliveries = _one(
        commands, common, "deliveries", "the endpoint's deliveries (one per event)", _deliveries,
        _listed("deliveries", DELIVERY_COLUMNS),
    )  # fmt: skip
    deliveries.add_argument(
        "--status", choices=STATUSES,
        help="pending (being retried), delivered, or failed (given up)",
    )  # fmt: skip
    _paging(deliveries, "deliveries")

    attempts = _one(
        commands, common, "attempts",
        "the attempt log: time, outcome, HTTP status, latency, first bytes of the answer",
        _attempts, _listed("attempts", ATTEMPT_COLUMNS, _attempt_row),
    )  # fmt: skip
    attempts.add_argument(
        "--since", type=moment, metavar="TIME", help="ISO 8601, or a duration ago (30m, 2h, 3d)"
    )
    attempts.add_argument("--outcome", choices=OUTCOMES, help="only attempts with this outcome")
    _paging(attempts, "attempts")

    redeliver = _one(
        commands, common, "redeliver", "queue one event, or every delivery since a time, again",
        _redeliver, _queued,
    )  # fmt: skip
    which = redeliver.add_mutually_exclusive_group(required=True)
    which.add_argument("--event", metavar="EVENT_ID", help="the event's id (evt_...)")
    which.add_argument(
        "--since", type=moment, metavar="TIME",
        help="every delivery since: ISO 8601, or a duration ago (30m, 2h, 3d)",
    )  # fmt: skip
    redeliver.add_argument(
        "--status", choices=STATUSES,
        help="with --since: the deliveries in this status (default: failed, the given-up ones)",
    )  # fmt: skip
