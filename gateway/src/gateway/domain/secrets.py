"""Token secrets: random, shown once, stored only as a keyed hash.

A secret is stored as HMAC-SHA256 under the server's ``TOKEN_HASH_KEY``, so a leaked table
cannot be checked offline, not even for a weak operator-chosen bootstrap secret. A presented
secret is found by the keyed hash of the whole string, so generated tokens and the bootstrap
secret work the same way. Rows from before keyed hashes hold the plain SHA-256
(``LEGACY_SCHEME``); they are found by it and rewritten keyed on first use.

Generated tokens also end in a tag (a MAC of the rest under the same key), so the gateway can
tell a token it made from a guess without asking the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "cpt_"  # noqa: S105 (a prefix, not a secret)
USER_TOKEN_PREFIX = "cpu_"  # noqa: S105 (a prefix, not a secret)
# A console sign-in (gateway.sessions): a bearer secret like the others, held in a cookie.
STAFF_SESSION_PREFIX = "gst_"
# The prefixes of minted secrets: all four characters, so all minted secrets are one length.
_MINTED_PREFIXES = (API_TOKEN_PREFIX, USER_TOKEN_PREFIX, STAFF_SESSION_PREFIX)
KEYED_SCHEME = "hmac-sha256"
LEGACY_SCHEME = "sha256"

_RANDOM_CHARS = 43  # secrets.token_urlsafe(32)
_TAG_BYTES = 16
_TAG_CHARS = 22  # base64url of 16 bytes, unpadded
_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.digest(key, b"coupon-platform token " + purpose, "sha256")


class TokenHasher:
    """Hashes and mints token secrets under one server-side key."""

    def __init__(self, key: bytes) -> None:
        # One key per use, so a tag never equals a stored hash.
        self._store_key = _derive(key, b"storage")
        self._tag_key = _derive(key, b"tag")

    def digest(self, secret: str) -> str:
        """What is stored for ``secret`` (hex)."""
        return hmac.digest(self._store_key, secret.encode(), "sha256").hex()

    def _tag(self, body: str) -> str:
        mac = hmac.digest(self._tag_key, body.encode(), "sha256")[:_TAG_BYTES]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def mint(self, prefix: str) -> str:
        body = prefix + secrets.token_urlsafe(32)
        return body + self._tag(body)

    def minted(self, secret: str) -> bool:
        """Whether ``secret`` is a token made under this key (revoked or not): only those,
        and the configured bootstrap secret, are worth a lookup from a throttled address."""
        if len(secret) != len(API_TOKEN_PREFIX) + _RANDOM_CHARS + _TAG_CHARS:
            return False
        if not secret.startswith(_MINTED_PREFIXES):
            return False
        body, tag = secret[:-_TAG_CHARS], secret[-_TAG_CHARS:]
        return hmac.compare_digest(tag.encode(), self._tag(body).encode())

    def matches(self, stored: str, scheme: str, secret: str) -> bool:
        """``secret`` against a stored hash of either scheme, in constant time."""
        presented = self.digest(secret) if scheme == KEYED_SCHEME else legacy_digest(secret)
        return hmac.compare_digest(stored.encode(), presented.encode())


def legacy_digest(secret: str) -> str:
    """The unkeyed SHA-256 rows from before keyed hashes hold."""
    return hashlib.sha256(secret.encode()).hexdigest()


def legacy_shaped(secret: str) -> bool:
    """A token generated before tags (prefix + 32 random bytes): it may still be valid, so
    it is looked up even from a throttled address."""
    return (
        len(secret) == len(API_TOKEN_PREFIX) + _RANDOM_CHARS
        and secret.startswith((API_TOKEN_PREFIX, USER_TOKEN_PREFIX))
        and _URLSAFE.issuperset(secret[len(API_TOKEN_PREFIX) :])
    )
