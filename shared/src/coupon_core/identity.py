"""The signed identity header: the gateway vouches for the caller, services verify.

Wire format of ``X-Gateway-Identity``: ``<principal>.<timestamp>.<signature>`` where
``principal`` is base64url JSON, ``timestamp`` is Unix seconds and ``signature`` is hex
HMAC-SHA256 over principal, method, path and timestamp. A service accepts it only if the
signature matches its own request line and the timestamp is within the allowed age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

import orjson

IDENTITY_HEADER = "X-Gateway-Identity"

PrincipalKind = Literal["api_token", "user", "anonymous"]


class IdentityError(Exception):
    """The identity header is missing, malformed, forged or too old."""


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: str = ""
    name: str = ""

    def to_json(self) -> bytes:
        return orjson.dumps({"kind": self.kind, "id": self.id, "name": self.name})


ANONYMOUS = Principal(kind="anonymous")


def _mac(secret: bytes, principal_b64: str, method: str, path: str, ts: str) -> str:
    message = "\n".join((principal_b64, method.upper(), path, ts)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_identity(
    principal: Principal, *, method: str, path: str, secret: bytes, now: float | None = None
) -> str:
    principal_b64 = base64.urlsafe_b64encode(principal.to_json()).decode().rstrip("=")
    ts = str(int(time.time() if now is None else now))
    return f"{principal_b64}.{ts}.{_mac(secret, principal_b64, method, path, ts)}"


def verify_identity(
    header: str | None,
    *,
    method: str,
    path: str,
    secret: bytes,
    max_age_s: float,
    now: float | None = None,
) -> Principal:
    if not header:
        raise IdentityError("missing gateway identity")
    parts = header.split(".")
    if len(parts) != 3:
        raise IdentityError("malformed gateway identity")
    principal_b64, ts, signature = parts
    expected = _mac(secret, principal_b64, method, path, ts)
    if not hmac.compare_digest(expected, signature):
        raise IdentityError("gateway identity signature does not match")
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
        if kind not in ("api_token", "user", "anonymous"):
            raise ValueError(kind)
        return Principal(kind=kind, id=str(data.get("id", "")), name=str(data.get("name", "")))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise IdentityError("malformed gateway identity principal") from None
