"""The stores a use case needs, gathered from the application once per request."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis
from redis.commands.core import AsyncScript


@dataclass(frozen=True, slots=True)
class Stores:
    pool: asyncpg.Pool
    redis: Redis
    scripts: dict[str, AsyncScript]
