"""Request paths that read the same at the gateway and at the service behind it.

The gateway authorizes a request by its decoded path and forwards the path as it was sent;
the service decodes and routes it again. The two readings agree only when decoding cannot
add a separator or hide a dot segment, and when neither side would turn a control
character into data. Such paths are refused (400) by the gateway, and by every service
again; a path with an empty segment (``//``) matches no route anywhere.
"""

from __future__ import annotations

import re

_ENCODED_SEPARATOR = re.compile(r"%(?:2f|5c)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")


def path_problem(raw_path: str, path: str) -> str | None:
    """Why a request path must be refused with 400, or None. ``raw_path`` is the path as
    sent (percent-encoded), ``path`` the same decoded."""
    if _ENCODED_SEPARATOR.search(raw_path) or "\\" in path:
        return "The URL path must not contain '\\' or an encoded '/' or '\\' (%2F, %5C)."
    if _CONTROL.search(path):
        return "The URL path must not contain a control character (NUL, newline, ...)."
    if _DOT_SEGMENT.search(path):
        return "The URL path must not contain '.' or '..' segments."
    return None


def has_empty_segment(path: str) -> bool:
    """``//`` anywhere in the path: no route has an empty segment."""
    return "//" in path
