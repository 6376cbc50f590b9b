"""Request bodies and response shapes of the gateway's own endpoints."""

from __future__ import annotations

from typing import Any, Literal

from coupon_core.dates import iso_or_none
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.db.api_tokens import ApiToken
from gateway.db.staff import Staff
from gateway.db.users import User
from gateway.domain.roles import RoleName

TOKEN_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # noqa: S105 (a pattern)
EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
# The password policy of users and staff alike (hashed with Argon2).
PASSWORD_MIN = 8
PASSWORD_MAX = 1024


def _printable(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL; control characters have no place in these fields."""
    if isinstance(value, str) and not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


class _Body(BaseModel):
    # Strict: a string or a boolean is not a number (SPEC section 7).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

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
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    firstName: str | None = Field(default=None, max_length=100)
    lastName: str | None = Field(default=None, max_length=100)


class Login(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    _no_control = field_validator("*")(_printable)

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class ApiTokenOut(BaseModel):
    id: int
    name: str
    whitelist: list[str]
    rateLimit: int | None
    createdAt: str
    revokedAt: str | None

    @classmethod
    def of(cls, token: ApiToken) -> ApiTokenOut:
        return cls(
            id=token.id,
            name=token.name,
            whitelist=token.whitelist,
            rateLimit=token.rate_limit,
            createdAt=token.created_at.isoformat(),
            revokedAt=iso_or_none(token.revoked_at),
        )


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(description="The secret, shown this once.")


class ApiTokenListOut(BaseModel):
    items: list[ApiTokenOut]
    total: int


class UserOut(BaseModel):
    id: int
    email: str
    firstName: str | None
    lastName: str | None
    createdAt: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            firstName=user.first_name,
            lastName=user.last_name,
            createdAt=user.created_at.isoformat(),
        )


class RegisteredOut(BaseModel):
    user: UserOut


class UserStatusOut(BaseModel):
    status: Literal["ok"] = "ok"
    user: UserOut


class AccessOut(BaseModel):
    token: str
    expiresAt: str


class LoginOut(UserStatusOut):
    access: AccessOut


class StatusOut(BaseModel):
    status: Literal["ok"] = "ok"


class ProcessStatusOut(BaseModel):
    process: str  # "gateway", or the service name
    url: str | None = None  # the replica's upstream URL; None for the gateway itself
    # Whether the process can serve (its /readyz): started and migrated. A data store that
    # does not answer leaves it ready (each request needing the store gets a 503) and shows
    # in ``stores``.
    ready: bool
    # migrations: "ok", "absent", "pending: 0003_x", "error: ..."; "reachable": "error: ..."
    # for a replica that did not answer
    checks: dict[str, str]
    # postgres / redis: "ok" or "error: ..."; empty for a replica that did not answer
    stores: dict[str, str] = {}


class PlatformStatusOut(BaseModel):
    status: Literal["ready", "degraded"]
    processes: list[ProcessStatusOut]


class CreateStaff(_Body):
    email: str = Field(pattern=EMAIL, max_length=254)
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    role: RoleName


class UpdateStaff(_Body):
    """Fields left out stay as they are; ``name: null`` clears the name."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    role: RoleName | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)

    @field_validator("role", "active", "password", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; leave the field out to keep it")
        return value


class PageQuery(BaseModel):
    """The query of a paged admin list (staff, audit log): its filters, then a page."""

    # Query values are text: numbers are read from it, nothing else is coerced.
    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.limit


class StaffQuery(PageQuery):
    email: str | None = Field(
        default=None, min_length=1, max_length=254, description="Emails containing this (any case)."
    )


class StaffOut(BaseModel):
    id: int
    email: str
    name: str | None
    role: RoleName
    active: bool
    createdAt: str
    lastSignInAt: str | None

    @classmethod
    def of(cls, staff: Staff) -> StaffOut:
        return cls(
            id=staff.id,
            email=staff.email,
            name=staff.name,
            role=staff.role,
            active=staff.active,
            createdAt=staff.created_at.isoformat(),
            lastSignInAt=iso_or_none(staff.last_sign_in_at),
        )


class PaginationOut(BaseModel):
    page: int
    limit: int
    total: int = Field(description="Items the filters keep, on every page.")
    pages: int

    @classmethod
    def of(cls, *, page: int, limit: int, total: int) -> PaginationOut:
        return cls(page=page, limit=limit, total=total, pages=max(1, -(-total // limit)))


class StaffListOut(BaseModel):
    items: list[StaffOut]
    pagination: PaginationOut


class RoleOut(BaseModel):
    name: RoleName
    whitelist: list[str] = Field(description="Endpoints the role reaches ('*': all).")


class RolesOut(BaseModel):
    items: list[RoleOut]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
