"""API token whitelists: ``*`` or ``METHOD /route/template`` entries (SPEC section 2)."""

from __future__ import annotations

from collections.abc import Iterable

from coupon_core.routes import METHODS, RouteTable, TemplateError

WILDCARD = "*"
MAX_ENTRIES = 200


class WhitelistError(ValueError):
    """An entry that names no method, a malformed template or an unknown endpoint."""


def normalize_entries(entries: Iterable[str], routes: RouteTable) -> list[str]:
    """Validated entries in canonical spelling (the route table's), duplicates removed."""
    result: list[str] = []
    for raw in entries:
        entry = _normalize_entry(raw, routes)
        if entry not in result:
            result.append(entry)
    if len(result) > MAX_ENTRIES:
        raise WhitelistError(f"a whitelist holds at most {MAX_ENTRIES} entries")
    return result


def _normalize_entry(raw: str, routes: RouteTable) -> str:
    text = " ".join(raw.split())
    if text == WILDCARD:
        return WILDCARD
    method, _, template = text.partition(" ")
    method = method.upper()
    if method not in METHODS:
        raise WhitelistError(
            f"{raw!r}: unknown method {method!r}; use one of {', '.join(sorted(METHODS))} "
            "followed by a route template, or '*'"
        )
    if not template or " " in template:
        raise WhitelistError(f"{raw!r}: expected 'METHOD /route/template'")
    try:
        route = routes.canonical(method, template)
    except TemplateError as exc:
        raise WhitelistError(f"{raw!r}: {exc}") from None
    if route is None:
        raise WhitelistError(f"{raw!r}: no platform endpoint has this method and route template")
    return f"{route.method} {route.template}"


def allows(whitelist: Iterable[str], method: str, template: str | None) -> bool:
    """Whether ``whitelist`` lets ``method`` reach ``template`` (None: a path no template
    matches, which only ``*`` reaches)."""
    method = "GET" if method == "HEAD" else method
    wanted = f"{method} {template}" if template is not None else None
    return any(entry in (WILDCARD, wanted) for entry in whitelist)


def beyond(held: Iterable[str], entries: Iterable[str]) -> list[str]:
    """The entries of ``entries`` a token holding ``held`` cannot call itself (both in the
    table's spelling): only ``*`` holds ``*``, and ``*`` holds everything."""
    have = set(held)
    if WILDCARD in have:
        return []
    return [entry for entry in entries if entry not in have]
