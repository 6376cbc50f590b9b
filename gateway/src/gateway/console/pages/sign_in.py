"""``/console/sign-in`` and ``/console/sign-out``: a staff session in the console's cookie.

Sign-in is the console's one unauthenticated form, so it carries a double-submit CSRF token
(the ``console_csrf`` cookie) and is rate-limited per client address like the API's public
endpoints; the sign-in itself (gateway.sessions) is throttled per account and address.
"""

from __future__ import annotations

from aiohttp import web
from coupon_core.errors import DomainError, TooManyRequests, Unauthorized

from gateway.api.middleware import client_address
from gateway.console.render import redirect, render
from gateway.console.session import (
    SIGN_IN,
    check_csrf,
    checked_form,
    clear_session_cookie,
    current_staff,
    safe_next,
    set_session_cookie,
    set_sign_in_csrf,
    sign_in_csrf,
)
from gateway.keys import GATEKEEPER
from gateway.sessions import sign_in, sign_out

WRONG = "Wrong email or password."


def _form_page(
    request: web.Request,
    *,
    next_path: str,
    email: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    csrf, fresh = sign_in_csrf(request)
    response = render(
        request,
        "sign_in.html",
        staff=None,
        status=status,
        title="Sign in",
        email=email,
        next_path=next_path,
        errors=errors or {},
        message=message,
        csrf=csrf,
    )
    if fresh:
        set_sign_in_csrf(request, response, csrf)
    response.headers.update(headers or {})
    return response


def _missing(email: str, password: str) -> dict[str, str]:
    """The fields left empty, each said beside its field (nothing is tried without both)."""
    missing = {}
    if not email.strip():
        missing["email"] = "Enter your email."
    if not password:
        missing["password"] = "Enter your password."  # noqa: S105 (words, not a secret)
    return missing


def _throttled(err: TooManyRequests) -> str:
    wait = err.headers.get("Retry-After")
    seconds = f"{wait} seconds" if wait and wait != "1" else "a moment"
    return f"Too many sign-in attempts from here or for this account. Wait {seconds} and try again."


async def sign_in_page(request: web.Request) -> web.Response:
    next_path = safe_next(request.query.get("next"))
    if await current_staff(request) is not None:
        return redirect(request, next_path)
    return _form_page(request, next_path=next_path)


async def sign_in_submit(request: web.Request) -> web.Response:
    form = await request.post()
    check_csrf(request, form, None)
    next_path = safe_next(str(form.get("next", "")))
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    address = client_address(request)
    gatekeeper = request.app[GATEKEEPER]
    try:
        await gatekeeper.admit_anonymous(address)
        if missing := _missing(email, password):
            return _form_page(request, next_path=next_path, email=email, errors=missing, status=400)
        signed_in = await sign_in(
            request.app, email, password, address, request.headers.get("User-Agent")
        )
    except TooManyRequests as err:
        return _form_page(
            request,
            next_path=next_path,
            email=email,
            message=_throttled(err),
            status=429,
            headers={"Retry-After": err.headers.get("Retry-After", "60")},
        )
    except Unauthorized:
        return _form_page(request, next_path=next_path, email=email, message=WRONG, status=401)
    except DomainError as err:  # 503: the password hashers are busy; retry shortly
        return _form_page(
            request, next_path=next_path, email=email, message=err.message, status=err.status
        )
    response = redirect(request, next_path)
    set_session_cookie(request, response, signed_in.token)
    return response


async def sign_out_submit(request: web.Request) -> web.Response:
    staff = await current_staff(request)
    if staff is None:  # already over: nothing to end, but the cookie goes
        response = redirect(request, SIGN_IN)
        clear_session_cookie(request, response)
        return response
    await checked_form(request, staff)
    await sign_out(request.app, staff.token)
    response = redirect(request, SIGN_IN, flash="You are signed out.")
    clear_session_cookie(request, response)
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(SIGN_IN, sign_in_page)
    router.add_post(SIGN_IN, sign_in_submit)
    router.add_post("/console/sign-out", sign_out_submit)
