"""Coupon codes: the series' prefix and suffix around a random part."""

from __future__ import annotations

import secrets

# No look-alikes: 0/O, 1/I/L, 5/S, 2/Z, 8/B are left out.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"


def generate(*, prefix: str, suffix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length)) + suffix
