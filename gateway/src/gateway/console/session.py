"""The console's session: the cookie, who is signed in, and CSRF checks.

A staff session is a bearer credential (a ``gst_`` token, gateway/sessions.py) that the
browser holds in the ``console_session`` cookie; the console sends it to the API as
``Authorization: Bearer``. The cookie is HttpOnly, SameSite=Strict, Path=/console and Secure
unless the console is reached on a loopback host over http (``console_cookie_secure=auto``).

Every unsafe console request carries ``csrf_token``: for a signed-in session it is derived
from the session token (nothing stored); the sign-in form, which has no session yet, uses
a double-submit cookie. Each is also refused when the browser says it came from another site
(``Sec-Fetch-Site``) or another origin (``Origin``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web
from coupon_core.keys import PG_POOL

from gateway.domain.credentials import Credential
from gateway.domain.secrets import STAFF_SESSION_PREFIX
from gateway.domain.whitelist import allows
from gateway.keys import GATEKEEPER, SETTINGS
from gateway.principals import Caller

SESSION_COOKIE = "console_session"
CSRF_COOKIE = "console_csrf"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
SIGN_IN = "/console/sign-in"
HOME = "/console"
_MAX_TOKEN = 256


@dataclass(frozen=True, slots=True)
class StaffContext:
    """The signed-in staff member of one request."""

    caller: Caller
    token: str
    csrf: str

    @property
    def email(self) -> str:
        return self.caller.principal.name

    @property
    def role(self) -> str:
        return self.caller.role or ""

    def may(self, method: str, template: str) -> bool:
        """Whether the role's whitelist lets it call ``method template`` (the route table's
        spelling): what the console shows; the gateway enforces it regardless."""
        return allows(self.caller.whitelist, method, template)


def _loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_secure(request: web.Request) -> bool:
    mode = request.app[SETTINGS].console_cookie_secure
    if mode != "auto":
        return mode == "always"
    host = urlsplit("//" + (request.host or "")).hostname or ""
    return request.scheme == "https" or not _loopback(host)


def _cookie_options(request: web.Request) -> dict[str, Any]:
    return {
        "path": COOKIE_PATH,
        "httponly": True,
        "samesite": "Strict",
        "secure": cookie_secure(request),
    }


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """A session cookie (no Max-Age): the server's idle and absolute limits end the session;
    closing the browser forgets it sooner."""
    response.set_cookie(SESSION_COOKIE, token, **_cookie_options(request))


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, **_cookie_options(request))


def csrf_for(request: web.Request, token: str) -> str:
    """The CSRF token of a session: a keyed digest of its secret, so nothing is stored."""
    return request.app[GATEKEEPER].hasher.digest("csrf:" + token)[:32]


def sign_in_csrf(request: web.Request) -> tuple[str, bool]:
    """The sign-in form's double-submit token: the ``console_csrf`` cookie's value, or a
    fresh one (True: to be set with :func:`set_sign_in_csrf`)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 16 <= len(current) <= 64 and current.isascii() and current.isalnum():
        return current, False
    return secrets.token_hex(16), True


def set_sign_in_csrf(request: web.Request, response: web.StreamResponse, value: str) -> None:
    response.set_cookie(CSRF_COOKIE, value, **_cookie_options(request))


def sign_in_url(next_path: str | None = None) -> str:
    if not next_path or next_path == HOME:
        return SIGN_IN
    return f"{SIGN_IN}?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path under /console only, never an absolute or
    protocol-relative URL (no open redirect)."""
    if not value or not value.isascii() or any(c in value for c in "\\\r\n\t"):
        return HOME
    if not value.startswith("/") or value.startswith("//"):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    # Dot segments (plain or percent-encoded) would climb out of /console in the browser.
    segments = unquote(parts.path).split("/")
    if "." in segments or ".." in segments or "%" in unquote(parts.path):
        return HOME
    if parts.path != HOME and not parts.path.startswith(HOME + "/"):
        return HOME
    if parts.path == SIGN_IN or parts.path.startswith("/console/sign-out"):
        return HOME
    return value


def session_token(request: web.Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > _MAX_TOKEN or not token.startswith(STAFF_SESSION_PREFIX):
        return None
    return token if token.isascii() else None


async def current_staff(request: web.Request) -> StaffContext | None:
    """The signed-in staff member, or None: no cookie, or a session that is over (signed
    out, idle or too old, the account disabled or its role changed)."""
    token = session_token(request)
    gatekeeper = request.app[GATEKEEPER]
    # A cookie this gateway did not mint (its tag proves it) is not worth a lookup.
    if token is None or not gatekeeper.hasher.minted(token):
        return None
    resolver = gatekeeper.resolver
    credential = Credential(secret=token)
    hit, caller = resolver.cached(credential)
    if not hit:
        caller = await resolver.load(request.app[PG_POOL], credential)
    if caller is None or caller.principal.kind != "staff" or caller.expired():
        return None
    return StaffContext(caller=caller, token=token, csrf=csrf_for(request, token))


async def require_staff(request: web.Request) -> StaffContext:
    """The signed-in staff member; otherwise a redirect to the sign-in page that comes back
    here (for a GET) afterwards."""
    staff = await current_staff(request)
    if staff is None:
        next_path = request.path_qs if request.method in ("GET", "HEAD") else None
        raise web.HTTPSeeOther(location=sign_in_url(next_path))
    return staff


class CsrfRefused(web.HTTPForbidden):
    """An unsafe console request without a valid CSRF token or from another site."""


def _same_origin(request: web.Request) -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" and other opaque origins
    # The host (and port) must be the one the request was sent to; the scheme is not
    # compared, so a TLS-terminating ingress in front of a plain-http gateway still works.
    return parts.netloc.lower() == (request.host or "").lower()


def check_csrf(request: web.Request, form: Any, staff: StaffContext | None) -> None:
    """Refuses (403) an unsafe request that is cross-site or carries the wrong CSRF token:
    the session's (``staff``), or the sign-in form's double-submit cookie (``staff`` None)."""
    if not _same_origin(request):
        raise CsrfRefused(reason="Cross-site request refused")
    sent = form.get(CSRF_FIELD, "") if form is not None else ""
    expected = staff.csrf if staff is not None else request.cookies.get(CSRF_COOKIE, "")
    if (
        not isinstance(sent, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused(reason="Missing or wrong CSRF token")


async def checked_form(request: web.Request, staff: StaffContext | None) -> Any:
    """The POSTed form, after :func:`check_csrf` (every console POST handler starts here)."""
    form = await request.post()
    check_csrf(request, form, staff)
    return form
