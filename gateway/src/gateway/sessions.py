"""Staff sign-in and sign-out: the use cases behind the console's session (SPEC section 11).

A session's secret is a ``gst_`` token, stored only as its keyed hash; the console holds it
in its cookie and sends it to the API as a bearer, where it resolves to the account's role
(gateway.principals). Sign-in is throttled exactly like a user's login, on an account key of
its own, and answers a wrong password, an unknown email and a disabled account alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from coupon_core.errors import Unauthorized
from coupon_core.keys import PG_POOL

from gateway.db import staff as staff_db
from gateway.domain.credentials import Credential
from gateway.domain.secrets import STAFF_SESSION_PREFIX
from gateway.keys import GATEKEEPER, PASSWORDS

MAX_EMAIL = 254
MAX_PASSWORD = 1024
MAX_USER_AGENT = 512
# Failed sign-ins are counted per account under a key no user's email can have.
_ACCOUNT = "staff:"


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str  # the raw gst_ secret, for the session cookie; stored only hashed
    staff: staff_db.Staff


def _wrong() -> Unauthorized:
    return Unauthorized("Wrong email or password.", code="invalid_credentials")


async def sign_in(
    app: web.Application, email: str, password: str, address: str, user_agent: str | None
) -> SignedIn:
    """A new session for the active account with this email and password, or 401 (429 when
    throttled, per account and per address, as a user's login)."""
    gatekeeper = app[GATEKEEPER]
    email = email.strip().lower()
    account = _ACCOUNT + email
    await gatekeeper.check_login(account, address)
    if not email or len(email) > MAX_EMAIL or not email.isprintable():
        found = None  # nothing to look up, but the attempt counts like any other
    else:
        async with app[PG_POOL].acquire() as conn:
            found = await staff_db.by_email(conn, email)
    if found is not None and not found.active:
        found = None
    valid = False
    if len(password) <= MAX_PASSWORD:
        # Without an account a decoy is verified: the same time as a wrong password.
        valid = await app[PASSWORDS].verify(found.password_hash if found else None, password)
    if found is None or not valid:
        await gatekeeper.login_failed(account, address)
        raise _wrong()
    token = gatekeeper.hasher.mint(STAFF_SESSION_PREFIX)
    async with app[PG_POOL].acquire() as conn, conn.transaction():
        await staff_db.start_session(
            conn,
            staff_id=found.id,
            token_hash=gatekeeper.hasher.digest(token),
            user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
            address=address,
            policy=gatekeeper.staff_sessions,
        )
        signed_in = await staff_db.get(conn, found.id)
    assert signed_in is not None
    return SignedIn(token=token, staff=signed_in)


async def sign_out(app: web.Application, token: str) -> None:
    """Ends the session of ``token`` (a no-op for one that is over or unknown). This replica
    forgets it at once; the others within ``AUTH_CACHE_TTL_S``."""
    gatekeeper = app[GATEKEEPER]
    async with app[PG_POOL].acquire() as conn:
        await staff_db.end_session(conn, gatekeeper.hasher.digest(token))
    gatekeeper.resolver.forget(Credential(secret=token))
