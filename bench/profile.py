"""Where the time goes: py-spy samples of one process while load runs in the background."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from bench.cases import Case
from bench.load import run_load


def py_spy_profile(pid: int, seconds: int, out: Path) -> list[str]:
    """Top functions by own samples, from ``py-spy record --format raw``."""
    spy = Path(sys.executable).with_name("py-spy")
    result = subprocess.run(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    if result.returncode != 0 or not out.exists():
        return [f"py-spy failed: {result.stderr.strip()[-300:]}"]
    own: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        own[_short(leaf)] += n
    return [f"{n / total * 100:5.1f}%  {frame}" for frame, n in own.most_common(15)]


def _short(frame: str) -> str:
    frame = frame.replace(str(Path(sys.prefix)), "<venv>")
    return frame.replace(str(Path(__file__).resolve().parent.parent), "")


def profile_load(wrk: str | None, case: Case) -> bool:
    """Starts 7 s of load in the background while py-spy samples; True when started."""
    thread = threading.Thread(
        target=run_load,
        args=(wrk, case.url),
        kwargs={
            "seconds": 7,
            "connections": 16,
            "headers": case.headers,
            "method": case.method,
            "body": case.body,
            "lua": case.lua,
        },
        daemon=True,
    )
    thread.start()
    return True
