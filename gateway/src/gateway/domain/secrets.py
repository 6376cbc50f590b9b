"""Token secrets: random, shown once, stored only as a SHA-256 hash.

A presented secret is found by the hash of the whole string, so generated tokens and an
operator-chosen bootstrap secret work the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "cpt_"  # noqa: S105 (a prefix, not a secret)
USER_TOKEN_PREFIX = "cpu_"  # noqa: S105 (a prefix, not a secret)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_user_token() -> str:
    return USER_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(stored: str, presented_secret: str) -> bool:
    return hmac.compare_digest(stored.encode(), hash_secret(presented_secret).encode())
