"""Running a process's command line (``python -m <package> <command>``) from a test."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping

from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET


def command_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment a command needs against the test's own stores."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "IDENTITY_SECRET": TEST_IDENTITY_SECRET,
        "ENVIRONMENT": "test",
    }


async def run_command(package: str, command: str, env: Mapping[str, str]) -> str:
    """Its output (standard output and error); fails the test when it exits non-zero."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        package,
        command,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"python -m {package} {command} exited {proc.returncode}:\n{text}"
    return text
