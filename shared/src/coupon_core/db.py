"""Database typing shared by every repository."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# What ``pool.acquire()`` yields and what ``asyncpg.connect()`` returns, interchangeably.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
