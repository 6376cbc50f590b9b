"""The signed identity header: the gateway vouches for the caller and the request, services
verify.

Wire format of ``X-Gateway-Identity``: ``<principal>.<timestamp>.<nonce>.<signature>`` where
``principal`` is base64url JSON, ``timestamp`` is Unix seconds, ``nonce`` is random per
signed request (base64url) and ``signature`` is hex HMAC-SHA256 over principal, method,
path, query string, the SHA-256 of the body, timestamp and nonce. The path and the query
string are the request target's as sent (still percent-encoded), so the signature covers
the very bytes the service routes. A service accepts the header only if the signature
matches its own request (body included), the timestamp is within the allowed age, and the
nonce was not seen before (:mod:`coupon_core.replay`): a captured header is good for
nothing else, and for its own request only once.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import orjson

IDENTITY_HEADER = "X-Gateway-Identity"

# A staff session (the console's) is served like an API token: its whitelist is its role's.
PrincipalKind = Literal["api_token", "staff", "user", "anonymous"]

NONCE_BYTES = 16
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class IdentityError(Exception):
    """The identity header is missing, malformed, forged, too old or replayed."""


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: str = ""
    name: str = ""

    def to_json(self) -> bytes:
        return orjson.dumps({"kind": self.kind, "id": self.id, "name": self.name})


ANONYMOUS = Principal(kind="anonymous")


@dataclass(frozen=True, slots=True)
class SignedIdentity:
    """A verified header: who calls, and the nonce and time that make it single-use."""

    principal: Principal
    nonce: str
    issued: int


_EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()


@functools.lru_cache(maxsize=4096)
def _principal_b64(principal: Principal) -> str:
    """The encoded principal: the same few callers sign most requests."""
    return base64.urlsafe_b64encode(principal.to_json()).decode().rstrip("=")


def _mac(
    secret: bytes,
    principal_b64: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    ts: str,
    nonce: str,
) -> str:
    # No part can hold a newline: the principal, timestamp and nonce are base64url and
    # digits, and a request target cannot carry one (HTTP parsers refuse it).
    digest = hashlib.sha256(body).hexdigest() if body else _EMPTY_DIGEST
    message = "\n".join((principal_b64, method.upper(), path, query, digest, ts, nonce))
    return hmac.digest(secret, message.encode(), "sha256").hex()


def sign_identity(
    principal: Principal,
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    secret: bytes,
    now: float | None = None,
) -> str:
    """The header for one request: ``path`` and ``query`` as they go on the wire
    (percent-encoded, no ``?``), ``body`` the exact bytes sent (``b""`` for none)."""
    principal_b64 = _principal_b64(principal)
    ts = str(int(time.time() if now is None else now))
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    signature = _mac(secret, principal_b64, method, path, query, body, ts, nonce)
    return f"{principal_b64}.{ts}.{nonce}.{signature}"


def verify_identity(
    header: str | None,
    *,
    method: str,
    path: str,
    query: str,
    body: bytes,
    secret: bytes,
    max_age_s: float,
    now: float | None = None,
) -> SignedIdentity:
    """The identity ``header`` vouches for, if it was signed for exactly this request and is
    recent; whether its nonce is fresh is the caller's to check (it needs shared state)."""
    if not header:
        raise IdentityError("missing gateway identity")
    parts = header.split(".")
    if len(parts) != 4:
        raise IdentityError("malformed gateway identity")
    principal_b64, ts, nonce, signature = parts
    if not _NONCE.match(nonce):
        raise IdentityError("malformed gateway identity nonce")
    expected = _mac(secret, principal_b64, method, path, query, body, ts, nonce)
    if not hmac.compare_digest(expected, signature):
        raise IdentityError("gateway identity signature does not match this request")
    try:
        issued = int(ts)
    except ValueError:
        raise IdentityError("malformed gateway identity timestamp") from None
    current = time.time() if now is None else now
    if abs(current - issued) > max_age_s:
        raise IdentityError("gateway identity expired")
    try:
        padded = principal_b64 + "=" * (-len(principal_b64) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        kind = data["kind"]
        if kind not in ("api_token", "staff", "user", "anonymous"):
            raise ValueError(kind)
        principal = Principal(kind=kind, id=str(data.get("id", "")), name=str(data.get("name", "")))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise IdentityError("malformed gateway identity principal") from None
    return SignedIdentity(principal=principal, nonce=nonce, issued=issued)
