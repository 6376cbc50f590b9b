"""Request bodies and response shapes of the gateway's own endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.db.api_tokens import ApiToken
from gateway.db.users import User

TOKEN_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # noqa: S105 (a pattern)
EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


def _printable(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL; control characters have no place in these fields."""
    if isinstance(value, str) and not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _no_control = field_validator("*")(_printable)


class CreateToken(_Body):
    name: str = Field(pattern=TOKEN_NAME)
    whitelist: list[str] = Field(default_factory=list, max_length=200)
    rateLimit: int | None = Field(default=None, ge=1, le=10_000_000)


class UpdateToken(_Body):
    whitelist: list[str] | None = Field(default=None, max_length=200)
    rateLimit: int | None = Field(default=None, ge=1, le=10_000_000)


class Register(_Body):
    email: str = Field(pattern=EMAIL, max_length=254)
    password: str = Field(min_length=8, max_length=1024)
    firstName: str | None = Field(default=None, max_length=100)
    lastName: str | None = Field(default=None, max_length=100)


class Login(BaseModel):
    model_config = ConfigDict(extra="ignore")

    _no_control = field_validator("*")(_printable)

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def token_view(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "whitelist": token.whitelist,
        "rateLimit": token.rate_limit,
        "createdAt": _iso(token.created_at),
        "revokedAt": _iso(token.revoked_at),
    }


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "createdAt": _iso(user.created_at),
    }
