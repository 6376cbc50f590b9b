"""A secret the API shows once (an API token's, a webhook endpoint's signing secret), shown
once on the page a form redirects to.

POST -> redirect -> GET: the secret goes to that one page in a cookie limited to its path,
sealed under the gateway's token key and the staff session (a pad of keyed digests, and a
tag), so the cookie is of no use without both, and the page deletes it as it shows the
secret: reloading the page, or coming back to it, does not show the secret again.
"""

from __future__ import annotations

import base64
import hmac
import secrets

from aiohttp import web

from gateway.console.session import StaffContext, cookie_secure
from gateway.keys import GATEKEEPER

REVEAL_COOKIE = "console_reveal"
_MAX_SECRET = 256


def _digest(request: web.Request, text: str) -> bytes:
    return bytes.fromhex(request.app[GATEKEEPER].hasher.digest(text))


def _pad(request: web.Request, staff: StaffContext, nonce: str, size: int) -> bytes:
    blocks = b"".join(
        _digest(request, f"console-reveal-pad:{n}:{nonce}:{staff.token}")
        for n in range(-(-size // 32))
    )
    return blocks[:size]


def _tag(request: web.Request, staff: StaffContext, nonce: str, path: str, sealed: str) -> str:
    return _digest(request, f"console-reveal-tag:{nonce}:{path}:{sealed}:{staff.token}").hex()[:32]


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def reveal_on(
    request: web.Request, response: web.StreamResponse, staff: StaffContext, path: str, secret: str
) -> None:
    """Have the page at ``path`` (a console path) show ``secret`` once, to this session."""
    plain = secret.encode()[:_MAX_SECRET]
    nonce = secrets.token_urlsafe(12)
    sealed = _b64(_xor(plain, _pad(request, staff, nonce, len(plain))))
    value = f"{nonce}.{sealed}.{_tag(request, staff, nonce, path, sealed)}"
    response.set_cookie(
        REVEAL_COOKIE,
        value,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(request),
    )


def revealed(request: web.Request, staff: StaffContext) -> str | None:
    """The secret sealed for this page and this session, or None."""
    value = request.cookies.get(REVEAL_COOKIE)
    if value is None:
        return None
    nonce, _, rest = value.partition(".")
    sealed, _, tag = rest.partition(".")
    expected = _tag(request, staff, nonce, request.path, sealed)
    if not nonce or not hmac.compare_digest(tag.encode(), expected.encode()):
        return None
    try:
        data = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except ValueError:
        return None
    return _xor(data, _pad(request, staff, nonce, len(data))).decode(errors="replace")


def forget_revealed(request: web.Request, response: web.StreamResponse) -> None:
    """Delete the cookie of :func:`revealed` (the page showed it: it is not shown again)."""
    if REVEAL_COOKIE in request.cookies:
        response.del_cookie(
            REVEAL_COOKIE,
            path=request.path,
            httponly=True,
            samesite="Strict",
            secure=cookie_secure(request),
        )
