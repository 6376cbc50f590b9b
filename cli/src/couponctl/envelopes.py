"""The API's reason for refusing a request, on one line, from the error envelope of any URL
family (SPEC section 7): Sylius ``message`` and ``errors.children.<field>.errors``, CRM
``message`` and ``code``, Capillary v1.1 ``response.status`` and each coupon's
``item_status``, Capillary v2 ``errors[].message``."""

from __future__ import annotations

import json
from typing import Any

MAX_TEXT = 300
REDEEMED = 700  # the Capillary item status of a coupon that passed


def summary(status: int, body: Any) -> str:
    """What the API said, for an answer with HTTP ``status`` and the decoded ``body``."""
    if body is None:
        return "(no body)"
    if isinstance(body, str):
        lines = [line.strip() for line in body.splitlines() if line.strip()]
        return _short(lines[0]) if lines else "(no body)"
    if isinstance(body, dict):
        if isinstance(body.get("response"), dict):
            return _capillary_v11(status, body["response"])
        if isinstance(body.get("errors"), list):
            return "; ".join(_with_code(status, e) for e in body["errors"]) or "(no message)"
        for key in ("message", "error_description"):
            if isinstance(body.get(key), str):
                fields = _field_errors(body.get("errors"))
                text = _with_code(status, {"message": body[key], "code": body.get("code")})
                return f"{text}: {'; '.join(fields)}" if fields else text
    return _short(json.dumps(body, separators=(",", ":")))


def _with_code(status: int, error: Any) -> str:
    """``message (code)``, the code shown when it says more than the HTTP status."""
    if not isinstance(error, dict):
        return str(error)
    message = str(error.get("message", "(no message)"))
    code = error.get("code")
    if isinstance(code, bool) or code is None or code == status:
        return message
    return f"{message} ({code})" if isinstance(code, str | int) else message


def _field_errors(form: Any, prefix: str = "") -> list[str]:
    """``field: message`` for each field of a Sylius form with errors, nested as
    ``parent.child``; the form's own errors under its name (or alone at the top)."""
    if not isinstance(form, dict):
        return []
    found: list[str] = []
    own = [m for m in form.get("errors", []) if isinstance(m, str)]
    if own:
        found.append(f"{prefix}: {' '.join(own)}" if prefix else " ".join(own))
    children = form.get("children")
    if isinstance(children, dict):
        for name, child in children.items():
            found += _field_errors(child, f"{prefix}.{name}" if prefix else str(name))
    return found


def _capillary_v11(status: int, response: dict[str, Any]) -> str:
    text = _with_code(status, response.get("status"))
    coupons = response.get("coupons")
    refused = []
    for entry in coupons.values() if isinstance(coupons, dict) else []:
        for coupon in entry if isinstance(entry, list) else [entry]:
            item = coupon.get("item_status") if isinstance(coupon, dict) else None
            if isinstance(item, dict) and item.get("code") != REDEEMED:
                refused.append(f"{coupon.get('code')}: {item.get('code')} {item.get('message')}")
    return f"{text}: {'; '.join(refused)}" if refused else text


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."
