"""Reading the ``Authorization`` header: a bearer secret, or Basic ``name:secret``."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

MAX_HEADER = 4096


class CredentialError(ValueError):
    """An Authorization header that carries no usable credential."""


@dataclass(frozen=True, slots=True)
class Credential:
    secret: str
    # Set for Basic: the API token's name.
    name: str | None = None


def parse_authorization(header: str) -> Credential:
    if len(header) > MAX_HEADER:
        raise CredentialError("Authorization header too long")
    if not header.isascii():
        # Headers arrive as latin-1/surrogate-escaped text; no credential of ours is non-ASCII.
        raise CredentialError("Authorization header must be ASCII")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not value:
        raise CredentialError("Authorization header carries no credential")
    if scheme.lower() == "bearer":
        return Credential(secret=value)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError("Basic credential is not base64 of 'name:secret'") from None
        name, sep, secret = decoded.partition(":")
        if not sep or not name or not secret or not decoded.isprintable():
            raise CredentialError("Basic credential is not 'name:secret'")
        return Credential(secret=secret, name=name)
    raise CredentialError(f"unsupported authorization scheme {scheme!r}; use Bearer or Basic")
