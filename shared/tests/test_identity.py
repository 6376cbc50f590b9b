"""The signed identity header: valid, tampered, expired, missing, malformed; bound to the
whole request (method, path, query, body) and carrying a fresh nonce each time."""

from __future__ import annotations

import pytest
from coupon_core.identity import (
    ANONYMOUS,
    IdentityError,
    Principal,
    sign_identity,
    verify_identity,
)

SECRET = b"a-secret-of-sufficient-length"
PRINCIPAL = Principal(kind="api_token", id="7", name="checkout")
REQUEST: dict[str, object] = {
    "method": "POST",
    "path": "/v1.1/coupon/redeem",
    "query": "mode=partial",
    "body": b'{"root": {"coupon": []}}',
}


def _verify(header: str | None, **overrides: object) -> Principal:
    args: dict[str, object] = {**REQUEST, "secret": SECRET, "max_age_s": 30.0, "now": 1_000_000.0}
    args.update(overrides)
    return verify_identity(header, **args).principal  # type: ignore[arg-type]


def _sign(principal: Principal = PRINCIPAL, **overrides: object) -> str:
    args: dict[str, object] = {**REQUEST, "secret": SECRET, "now": 1_000_000.0}
    args.update(overrides)
    return sign_identity(principal, **args)  # type: ignore[arg-type]


def test_valid_signature_round_trips_the_principal() -> None:
    assert _verify(_sign()) == PRINCIPAL
    assert _verify(_sign(ANONYMOUS)) == ANONYMOUS


def test_missing_header_is_refused() -> None:
    with pytest.raises(IdentityError, match="missing"):
        _verify(None)
    with pytest.raises(IdentityError, match="missing"):
        _verify("")


@pytest.mark.parametrize(
    "overrides",
    [
        {"method": "GET"},
        {"path": "/v1.1/coupon/isredeemable"},
        {"query": "mode=all"},
        {"query": ""},
        {"body": b'{"root": {"coupon": [{"code": "A"}]}}'},
        {"body": b""},
        {"secret": b"another-secret-of-enough-length"},
    ],
)
def test_signature_binds_method_path_query_body_and_secret(overrides: dict[str, object]) -> None:
    with pytest.raises(IdentityError, match="signature"):
        _verify(_sign(), **overrides)


def test_each_signature_carries_its_own_nonce() -> None:
    first, second = _sign(), _sign()
    assert first != second
    a = verify_identity(first, **REQUEST, secret=SECRET, max_age_s=30, now=1_000_000.0)  # type: ignore[arg-type]
    b = verify_identity(second, **REQUEST, secret=SECRET, max_age_s=30, now=1_000_000.0)  # type: ignore[arg-type]
    assert a.nonce != b.nonce
    assert len(a.nonce) >= 16
    assert a.issued == 1_000_000


def test_tampered_principal_is_refused() -> None:
    forged = _sign(Principal(kind="user", id="1", name="someone"))
    genuine = _sign()
    tampered = ".".join([forged.split(".")[0], *genuine.split(".")[1:]])
    with pytest.raises(IdentityError, match="signature"):
        _verify(tampered)


def test_tampered_timestamp_or_nonce_is_refused() -> None:
    principal, _, nonce, signature = _sign().split(".")
    with pytest.raises(IdentityError, match="signature"):
        _verify(f"{principal}.1000010.{nonce}.{signature}")
    other_nonce = _sign().split(".")[2]
    with pytest.raises(IdentityError, match="signature"):
        _verify(f"{principal}.1000000.{other_nonce}.{signature}")


def test_expired_and_future_signatures_are_refused() -> None:
    header = _sign()
    assert _verify(header, now=1_000_029.0) == PRINCIPAL
    with pytest.raises(IdentityError, match="expired"):
        _verify(header, now=1_000_031.0)
    with pytest.raises(IdentityError, match="expired"):
        _verify(header, now=999_960.0)


@pytest.mark.parametrize(
    "header", ["garbage", "a.b", "a.b.c", "a.b.c.d.e", "...", "a.1000000..sig"]
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(IdentityError):
        _verify(header)
