"""``/api/v1/users/*`` served by the gateway: register, login, me, logout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from coupon_core.errors import BadRequest, NotFound, Unauthorized
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from gateway.api.middleware import client_address
from gateway.api.schemas import (
    AccessOut,
    Login,
    LoginOut,
    Register,
    RegisteredOut,
    StatusOut,
    UserOut,
    UserStatusOut,
    dump,
)
from gateway.db import users
from gateway.domain.secrets import USER_TOKEN_PREFIX, legacy_digest
from gateway.keys import CALLER, CREDENTIAL, GATEKEEPER, PASSWORDS, SETTINGS

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
TAGS = ("users",)


@documented(
    Doc(
        summary="Register a user",
        tags=TAGS,
        body=Register,
        responses={201: RegisteredOut, 400: "invalid input", 409: "email taken"},
        security=(),
    )
)
async def register(request: web.Request) -> web.Response:
    return await _create_user(request)


@documented(
    Doc(
        summary="Create a user (admin)",
        tags=TAGS,
        body=Register,
        responses={201: RegisteredOut, 400: "invalid input", 409: "email taken"},
        security=("bearerAuth", "basicAuth"),
    )
)
async def create_user(request: web.Request) -> web.Response:
    return await _create_user(request)


async def _create_user(request: web.Request) -> web.Response:
    body = parse_model(Register, await read_json(request))
    password_hash = await request.app[PASSWORDS].hash(body.password)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        user = await users.create(
            conn,
            email=body.email.lower(),
            password_hash=password_hash,
            first_name=body.firstName,
            last_name=body.lastName,
        )
    return json_response(dump(RegisteredOut(user=UserOut.of(user))), status=201)


async def _login_fields(request: web.Request) -> Any:
    if request.content_type in FORM_TYPES:
        try:
            form = await request.post()
        except (ValueError, HttpProcessingError) as exc:  # a malformed form is the caller's
            raise BadRequest("Malformed form body.") from exc
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return await read_json(request)


@documented(
    Doc(
        summary="Log in: a user token",
        tags=TAGS,
        body=Login,
        description=(
            "The same fields may also come as a form (application/x-www-form-urlencoded or "
            "multipart/form-data)."
        ),
        responses={
            200: LoginOut,
            400: "invalid input",
            401: "wrong email or password",
            429: "too many failed attempts",
        },
        security=(),
    )
)
async def login(request: web.Request) -> web.Response:
    body = parse_model(Login, await _login_fields(request))
    gatekeeper = request.app[GATEKEEPER]
    address = client_address(request)
    email = body.email.strip().lower()
    # Counted per email whether it exists or not: an unknown email and a wrong password get
    # the same answers, throttled ones included.
    await gatekeeper.check_login(email, address)
    async with request.app[PG_POOL].acquire() as conn:
        user = await users.by_email(conn, email)
    stored = user.password_hash if user is not None else None
    valid = await request.app[PASSWORDS].verify(stored, body.password)
    if user is None or not valid:
        await gatekeeper.login_failed(email, address)
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    token = gatekeeper.hasher.mint(USER_TOKEN_PREFIX)
    expires_at = datetime.now(UTC) + timedelta(seconds=request.app[SETTINGS].user_token_ttl_s)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        await users.add_token(
            conn,
            user_id=user.id,
            token_hash=gatekeeper.hasher.digest(token),
            expires_at=expires_at,
        )
    access = AccessOut(token=token, expiresAt=expires_at.isoformat())
    return json_response(dump(LoginOut(user=UserOut.of(user), access=access)))


@documented(
    Doc(
        summary="The user of the presented user token",
        tags=TAGS,
        responses={200: UserStatusOut},
        security=("userToken",),
    )
)
async def me(request: web.Request) -> web.Response:
    user_id = int(request[CALLER].principal.id)
    async with request.app[PG_POOL].acquire() as conn:
        user = await users.by_id(conn, user_id)
    if user is None:
        raise NotFound("This user no longer exists.", code="user_not_found")
    return json_response(dump(UserStatusOut(user=UserOut.of(user))))


@documented(
    Doc(
        summary="Revoke the presented user token",
        tags=TAGS,
        responses={200: StatusOut},
        security=("userToken",),
    )
)
async def logout(request: web.Request) -> web.Response:
    credential = request[CREDENTIAL]
    gatekeeper = request.app[GATEKEEPER]
    keyed, legacy = gatekeeper.hasher.digest(credential.secret), legacy_digest(credential.secret)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        await users.revoke_token(conn, keyed, legacy)
    gatekeeper.resolver.forget(credential)
    return json_response(dump(StatusOut()))


def add_user_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/users", create_user)
    app.router.add_post("/api/v1/users/register", register)
    app.router.add_post("/api/v1/users/login", login)
    app.router.add_get("/api/v1/users/me", me)
    app.router.add_post("/api/v1/users/logout", logout)
