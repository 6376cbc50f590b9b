"""deploy/tools/wait_jobs.py returns as soon as a Job fails, instead of waiting out its
timeout as `kubectl wait --for=condition=complete` does. The cluster is the outside world
here: a stand-in kubectl on PATH answers `kubectl get jobs -o json` with the Jobs a test
gives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import check
from processes import PROCESSES

WAIT_JOBS = Path(check.__file__).resolve().parent / "wait_jobs.py"


def _job(name: str, *conditions: tuple[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": kind, "status": "True", "reason": reason, "message": "m"}
                for kind, reason in conditions
            ]
        },
    }


def _wait(
    tmp_path: Path, jobs: list[dict[str, Any]], timeout: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "jobs.json").write_text(json.dumps({"items": jobs}))
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "assert sys.argv[1:4] == ['get', 'jobs', '-n'], sys.argv\n"
        f"print(open({str(tmp_path / 'jobs.json')!r}).read())\n"
    )
    kubectl.chmod(0o755)
    return subprocess.run(
        [sys.executable, str(WAIT_JOBS), "-n", "coupon-prod", "-l", "a=b", "--timeout", timeout],
        env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_failed_job_ends_the_wait_at_once(tmp_path: Path) -> None:
    jobs = [
        _job("gateway-migrate", ("SuccessCriteriaMet", "x"), ("Complete", "x")),
        _job(
            "redemption-service-migrate", ("FailureTarget", "x"), ("Failed", "BackoffLimitExceeded")
        ),
        _job("issuance-service-migrate"),
    ]
    # Ten minutes to go: only the failure can end it within the test's own timeout.
    result = _wait(tmp_path, jobs, "600")
    assert result.returncode == 1, result
    assert "job/redemption-service-migrate failed (BackoffLimitExceeded: m)" in result.stdout


def test_every_job_complete_ends_the_wait(tmp_path: Path) -> None:
    jobs = [_job(f"{p}-migrate", ("Complete", "x")) for p in PROCESSES]
    result = _wait(tmp_path, jobs, "600")
    assert result.returncode == 0, result
    assert f"{len(PROCESSES)} jobs complete" in result.stdout


def test_jobs_still_running_at_the_timeout(tmp_path: Path) -> None:
    result = _wait(tmp_path, [_job("gateway-migrate"), _job("x", ("Complete", "x"))], "0")
    assert result.returncode == 2, result
    assert "still running: gateway-migrate" in result.stdout
