"""``/api/v1/staff`` and ``/api/v1/staff-roles``: staff accounts of the console.

A staff account's role is a named whitelist (gateway.domain.roles), so the escalation rule of
API tokens holds here too (SPEC section 2): a caller gives a role, and manages an account,
only when the role's whitelist lies within its own; only a ``*`` caller makes admins. The
last active admin cannot be disabled, deleted or demoted. A change of role, of password or a
disable ends every session of the account (within ``AUTH_CACHE_TTL_S`` on every replica).
"""

from __future__ import annotations

from aiohttp import web
from coupon_core.db import Connection
from coupon_core.errors import Conflict, Forbidden, NotFound
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from gateway.api.common import path_id
from gateway.api.schemas import (
    CreateStaff,
    PaginationOut,
    RoleOut,
    RolesOut,
    StaffListOut,
    StaffOut,
    StaffQuery,
    UpdateStaff,
    dump,
)
from gateway.db import staff as staff_db
from gateway.domain.roles import ADMIN, ROLES, whitelist_of
from gateway.domain.whitelist import beyond
from gateway.keys import CALLER, PASSWORDS

TAGS = ("staff",)
SECURITY = ("bearerAuth", "basicAuth")


def _grantable(request: web.Request, role: str) -> None:
    exceeding = beyond(request[CALLER].whitelist, whitelist_of(role))
    if exceeding:
        raise Forbidden(
            f"A caller gives only roles within its own whitelist; the role {role!r} also "
            f"reaches {', '.join(exceeding)}.",
            code="role_exceeds_caller",
        )


def _manageable(request: web.Request, account: staff_db.Staff) -> None:
    if beyond(request[CALLER].whitelist, whitelist_of(account.role)):
        raise Forbidden(
            f"Staff account {account.id} has the role {account.role!r}, which reaches "
            "endpoints this caller cannot call; only a caller that reaches all of them "
            "manages it (an admin only a '*' caller).",
            code="cannot_manage_staff",
        )


def _staff_id(request: web.Request) -> int:
    return path_id(request, "staff account", "staff_not_found")


def _not_found(staff_id: int) -> NotFound:
    return NotFound(f"No staff account with id {staff_id}.", code="staff_not_found")


async def _locked(conn: Connection, staff_id: int, *, admins: bool) -> tuple[staff_db.Staff, bool]:
    """The account, locked, and (``admins``) whether it is the last active admin. The active
    admins are locked first, always in id order, so two changes never wait on each other."""
    active_admins = await staff_db.active_admins(conn) if admins else []
    account = await staff_db.get(conn, staff_id, for_update=True)
    if account is None:
        raise _not_found(staff_id)
    return account, active_admins == [account.id]


def _last_admin(account: staff_db.Staff) -> Conflict:
    return Conflict(
        f"Staff account {account.id} ({account.email}) is the last active admin: it cannot be "
        "disabled, deleted or given another role. Make another account admin first.",
        code="last_admin",
    )


@documented(
    Doc(
        summary="Create a staff account",
        description="The email is stored in lower case and is unique whatever its case.",
        tags=TAGS,
        body=CreateStaff,
        body_example={
            "email": "mia@example.com",
            "password": "a long passphrase",
            "name": "Mia Rossi",
            "role": "marketer",
        },
        responses={
            201: StaffOut,
            400: "invalid input",
            403: "the role reaches beyond the caller's own whitelist",
            409: "email taken",
        },
        security=SECURITY,
    )
)
async def create_staff(request: web.Request) -> web.Response:
    body = parse_model(CreateStaff, await read_json(request))
    _grantable(request, body.role)
    password_hash = await request.app[PASSWORDS].hash(body.password)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        account = await staff_db.create(
            conn,
            email=body.email.lower(),
            name=body.name,
            role=body.role,
            password_hash=password_hash,
        )
    return json_response(dump(StaffOut.of(account)), status=201)


@documented(
    Doc(
        summary="List staff accounts",
        description="By id, a page at a time.",
        tags=TAGS,
        query=StaffQuery,
        responses={200: StaffListOut, 400: "email, page or limit out of range"},
        security=SECURITY,
    )
)
async def list_staff(request: web.Request) -> web.Response:
    query = parse_model(StaffQuery, dict(request.query))
    async with request.app[PG_POOL].acquire() as conn:
        accounts, total = await staff_db.list_page(
            conn, email=query.email, offset=query.offset, limit=query.limit
        )
    listing = StaffListOut(
        items=[StaffOut.of(account) for account in accounts],
        pagination=PaginationOut.of(page=query.page, limit=query.limit, total=total),
    )
    return json_response(dump(listing))


@documented(
    Doc(
        summary="Show a staff account",
        tags=TAGS,
        responses={200: StaffOut, 404: "no such account"},
        security=SECURITY,
    )
)
async def show_staff(request: web.Request) -> web.Response:
    staff_id = _staff_id(request)
    async with request.app[PG_POOL].acquire() as conn:
        account = await staff_db.get(conn, staff_id)
    if account is None:
        raise _not_found(staff_id)
    return json_response(dump(StaffOut.of(account)))


@documented(
    Doc(
        summary="Change a staff account's name, role, password or whether it is active",
        description=(
            "Fields left out stay as they are; name null clears the name. A new role, a new "
            "password or active false ends every session of the account."
        ),
        tags=TAGS,
        body=UpdateStaff,
        body_example={"role": "support"},
        responses={
            200: StaffOut,
            400: "invalid input",
            403: "the account's role, or the new one, reaches beyond the caller's whitelist",
            404: "no such account",
            409: "the last active admin would be disabled or demoted",
        },
        security=SECURITY,
    )
)
async def update_staff(request: web.Request) -> web.Response:
    staff_id = _staff_id(request)
    body = parse_model(UpdateStaff, await read_json(request))
    if body.role is not None:
        _grantable(request, body.role)
    # Hashed before the transaction: no row stays locked while Argon2 runs.
    password_hash = None
    if body.password is not None:
        password_hash = await request.app[PASSWORDS].hash(body.password)
    removes_admin = body.role not in (None, ADMIN) or body.active is False
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        current, last_admin = await _locked(conn, staff_id, admins=removes_admin)
        _manageable(request, current)
        if last_admin:
            raise _last_admin(current)
        account = await staff_db.update(
            conn,
            staff_id,
            name=body.name,
            clear_name="name" in body.model_fields_set and body.name is None,
            role=body.role,
            active=body.active,
            password_hash=password_hash,
        )
        assert account is not None  # locked above
        if account.role != current.role or body.active is False or password_hash is not None:
            await staff_db.revoke_sessions(conn, staff_id)
    return json_response(dump(StaffOut.of(account)))


@documented(
    Doc(
        summary="Disable a staff account and end its sessions",
        description="The account stays (and may be enabled again with PATCH active true).",
        tags=TAGS,
        responses={
            200: StaffOut,
            403: "the account's role reaches beyond the caller's whitelist",
            404: "no such account",
            409: "the last active admin",
        },
        security=SECURITY,
    )
)
async def delete_staff(request: web.Request) -> web.Response:
    staff_id = _staff_id(request)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        current, last_admin = await _locked(conn, staff_id, admins=True)
        _manageable(request, current)
        if last_admin:
            raise _last_admin(current)
        account = await staff_db.update(
            conn,
            staff_id,
            name=None,
            clear_name=False,
            role=None,
            active=False,
            password_hash=None,
        )
        assert account is not None  # locked above
        await staff_db.revoke_sessions(conn, staff_id)
    return json_response(dump(StaffOut.of(account)))


@documented(
    Doc(
        summary="The staff roles and the endpoints each reaches",
        tags=TAGS,
        responses={200: RolesOut},
        security=SECURITY,
    )
)
async def list_roles(request: web.Request) -> web.Response:
    roles = [RoleOut(name=name, whitelist=list(whitelist)) for name, whitelist in ROLES.items()]
    return json_response(dump(RolesOut(items=roles)))


def add_staff_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/staff", create_staff)
    app.router.add_get("/api/v1/staff", list_staff)
    app.router.add_get("/api/v1/staff/{id}", show_staff)
    app.router.add_patch("/api/v1/staff/{id}", update_staff)
    app.router.add_delete("/api/v1/staff/{id}", delete_staff)
    app.router.add_get("/api/v1/staff-roles", list_roles)
