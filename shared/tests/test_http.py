"""Reading a numeric path or query parameter as a PostgreSQL bigint."""

from __future__ import annotations

import pytest
from coupon_core.http import BIGINT_MAX, bigint


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("007", 7), (str(BIGINT_MAX), BIGINT_MAX)],
)
def test_ascii_digits_within_bigint_are_read(text: str, expected: int) -> None:
    assert bigint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "-1",
        "+1",
        " 1",
        "1.0",
        "abc",
        "¹",  # superscript one: str.isdigit() is true, int() raises
        "٣",  # Arabic-Indic three: int() reads it as 3
        str(BIGINT_MAX + 1),
        "9" * 5000,  # past int()'s digit limit
    ],
)
def test_anything_else_is_refused(text: str | None) -> None:
    assert bigint(text) is None
