"""Random coupon codes over an alphabet without look-alike characters."""

from __future__ import annotations

import re
import secrets

# No 0/O/Q/D, 1/I/L/J, 2/Z, 5/S, 8/B, U/V: what is left is hard to misread or mistype.
ALPHABET = "34679ACEFGHKMNPRTWXY"
CODE_RE = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_CODE_LENGTH = 64
MAX_RANDOM_LENGTH = 40
MAX_AFFIX_LENGTH = 20
# A generation request must leave the keyspace this sparse: with at most 1 in 20 random
# codes taken, retries stay rare and each code stays hard to guess.
KEYSPACE_HEADROOM = 20

_BASE = len(ALPHABET)
# Bytes below this map evenly onto the alphabet; the rest are dropped (no modulo bias).
_CUTOFF = 256 - 256 % _BASE
_TABLE = bytes(ord(ALPHABET[b % _BASE]) if b < _CUTOFF else 0 for b in range(256))
_DROP = bytes(range(_CUTOFF, 256))


def keyspace(code_length: int) -> int:
    return int(_BASE**code_length)


def keyspace_holds(*, code_length: int, amount: int, existing: int) -> bool:
    """Whether ``amount`` new codes of ``code_length`` random characters fit comfortably."""
    return keyspace(code_length) >= KEYSPACE_HEADROOM * (amount + existing)


def random_codes(count: int, *, code_length: int, prefix: str = "", suffix: str = "") -> set[str]:
    """``count`` distinct codes, each ``prefix`` + random part + ``suffix``."""
    codes: set[str] = set()
    while len(codes) < count:
        missing = count - len(codes)
        # Every byte survives with probability _CUTOFF/256; ask for a little more.
        needed = missing * code_length
        raw = secrets.token_bytes(needed + needed // 4 + 16)
        chars = raw.translate(_TABLE, _DROP).decode("ascii")
        usable = len(chars) // code_length
        for i in range(min(usable, missing)):
            start = i * code_length
            codes.add(prefix + chars[start : start + code_length] + suffix)
    return codes
