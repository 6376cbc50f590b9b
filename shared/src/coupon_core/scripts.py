"""Redis Lua scripts live in ``.lua`` files and are registered once per client."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client import Histogram
from redis.asyncio import Redis
from redis.commands.core import AsyncScript


class TimedScript(AsyncScript):
    """A script whose every call is observed in ``histogram`` under its name."""

    def __init__(self, redis: Redis, script: str, name: str, histogram: Histogram) -> None:
        super().__init__(redis, script)
        self.observed = histogram.labels(script=name)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await super().__call__(*args, **kwargs)
        finally:
            self.observed.observe(time.perf_counter() - started)


def load_scripts(
    redis: Redis, directory: Path, *, timing: Histogram | None = None
) -> dict[str, AsyncScript]:
    """``{name: script}`` for every ``<name>.lua`` in ``directory``. redis-py reloads a
    script by itself when the server answers NOSCRIPT (after SCRIPT FLUSH or a restart).
    With ``timing`` (``Metrics.script_duration``) every call is timed under its name."""
    scripts: dict[str, AsyncScript] = {}
    for path in sorted(directory.glob("*.lua")):
        if timing is None:
            scripts[path.stem] = redis.register_script(path.read_text())
        else:
            scripts[path.stem] = TimedScript(redis, path.read_text(), path.stem, timing)
    return scripts
