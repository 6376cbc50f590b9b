"""Signing secrets of webhook endpoints, as the Standard Webhooks specification writes them:
``whsec_`` and the base64 of 32 random bytes (the HMAC-SHA256 key). The service keeps them
(it signs with them), and shows one to a user only when it is made: on create, on rotation."""

from __future__ import annotations

import base64
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
