"""Wait for Kubernetes Jobs to finish, and stop at the first one that fails.

``kubectl wait --for=condition=complete`` waits out its whole timeout when a Job fails (it
never completes), and kubectl has no "complete or failed". This asks kubectl for the Jobs
every two seconds until every one has completed (exit 0), one has failed (exit 1, naming
it and the reason), or the timeout passes (exit 2). Standard library only:

    python3 deploy/tools/wait_jobs.py -n coupon-prod \\
        -l app.kubernetes.io/component=migration --timeout 600
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

POLL_S = 2.0


def state(job: dict[str, Any]) -> tuple[str, str]:
    """("complete" | "failed" | "running", why) from a Job's status conditions."""
    conditions = {c["type"]: c for c in job.get("status", {}).get("conditions") or []}
    for kind, name in (("Failed", "failed"), ("Complete", "complete")):
        condition = conditions.get(kind, {})
        if condition.get("status") == "True":
            return name, f"{condition.get('reason', '')}: {condition.get('message', '')}"
    return "running", ""


def jobs(namespace: str, selector: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "get", "jobs", "-n", namespace, "-l", selector, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def wait(namespace: str, selector: str, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        found = {job["metadata"]["name"]: state(job) for job in jobs(namespace, selector)}
        failed = {name: why for name, (what, why) in found.items() if what == "failed"}
        running = sorted(name for name, (what, _) in found.items() if what == "running")
        for name, why in failed.items():
            print(f"job/{name} failed ({why}); see: kubectl -n {namespace} logs job/{name}")
        if failed:
            return 1
        if found and not running:
            print(f"{len(found)} jobs complete: {', '.join(sorted(found))}")
            return 0
        if time.monotonic() >= deadline:
            print(
                f"timed out after {timeout_s:g} s; still running: {', '.join(running) or 'no job'}"
            )
            return 2
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--namespace", required=True)
    parser.add_argument("-l", "--selector", required=True, help="label selector of the Jobs")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    args = parser.parse_args(argv)
    return wait(args.namespace, args.selector, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
