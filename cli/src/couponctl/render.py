"""Text output shared by the subcommands (``--json`` prints the API's answer instead)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)


def plain(doc: str | None) -> str:
    """A docstring as ``--help`` text: its ``literal`` marks dropped."""
    return _LITERAL.sub(r"\1", doc or "")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def describe(obj: Any) -> str:
    """One resource as ``field: value`` lines (links left out)."""
    if not isinstance(obj, dict):
        return _value(obj)
    fields = {k: v for k, v in obj.items() if k != "_links"}
    width = max((len(k) for k in fields), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {_value(v)}" for k, v in fields.items())


def items_of(listing: Any) -> list[dict[str, Any]]:
    """The items of any of the platform's list shapes (Sylius, Capillary v2, plain)."""
    if isinstance(listing, list):
        return listing
    if isinstance(listing, dict):
        embedded = listing.get("_embedded")
        if isinstance(embedded, dict) and isinstance(embedded.get("items"), list):
            return list(embedded["items"])
        for key in ("items", "data", "series", "customers", "coupons"):
            if isinstance(listing.get(key), list):
                return list(listing[key])
    return []


def table(columns: Sequence[str]) -> Callable[[Any], str]:
    def render(listing: Any) -> str:
        rows = [[_value(item.get(c)) for c in columns] for item in items_of(listing)]
        widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
        lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        if isinstance(listing, dict) and "total" in listing:
            lines.append(f"({listing['total']} in all, page {listing.get('page', 1)})")
        return "\n".join(line.rstrip() for line in lines)

    return render


def done(message: str) -> Callable[[Any], str]:
    return lambda _result: message
