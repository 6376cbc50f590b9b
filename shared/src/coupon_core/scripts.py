"""Redis Lua scripts live in ``.lua`` files and are registered once per client."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def load_scripts(redis: Redis, directory: Path) -> dict[str, AsyncScript]:
    """``{name: script}`` for every ``<name>.lua`` in ``directory``. redis-py reloads a
    script by itself when the server answers NOSCRIPT (after SCRIPT FLUSH or a restart)."""
    return {
        path.stem: redis.register_script(path.read_text())
        for path in sorted(directory.glob("*.lua"))
    }
