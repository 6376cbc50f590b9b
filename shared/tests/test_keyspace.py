"""docs/keyspace.md names every Redis key coupon_core.redis_keys spells, and no other."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from coupon_core import redis_keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "keyspace.md"
# Functions of the module that build a hash tag, a group reference or a SCAN pattern from
# the keys' parts: they name no key of their own.
NOT_KEYS = {"group_ref", "group_tag", "group_keys_pattern", "group_all_keys_pattern"}


def _patterns() -> set[str]:
    """Each key function called with ``<parameter>`` for every parameter."""
    patterns: set[str] = set()
    for name, function in inspect.getmembers(redis_keys, inspect.isfunction):
        if name.startswith("_") or name in NOT_KEYS or function.__module__ != redis_keys.__name__:
            continue
        parameters = inspect.signature(function).parameters
        patterns.add(function(*(f"<{p}>" for p in parameters)))
    return patterns


def _documented() -> set[str]:
    """The first cell of every row of the doc's key tables."""
    return set(re.findall(r"^\| `([^`]+)` \|", DOC.read_text(), re.MULTILINE))


def test_the_doc_names_every_key_the_code_spells() -> None:
    patterns = _patterns()
    assert len(patterns) > 20
    assert sorted(patterns - _documented()) == []


def test_the_doc_names_no_key_the_code_does_not_spell() -> None:
    assert sorted(_documented() - _patterns()) == []
