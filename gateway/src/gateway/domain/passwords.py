"""Password hashing with Argon2. CPU-bound: callers run it off the event loop."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if stored is None and self._decoy is None:
            # Verified when the email is unknown, so both failures cost the same time.
            self._decoy = self._hasher.hash("decoy password never used")
        try:
            ok = self._hasher.verify(stored or self._decoy or "", password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored is not None
