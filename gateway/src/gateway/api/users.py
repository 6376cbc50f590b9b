"""``/api/v1/users/*`` served by the gateway: register, login, me, logout."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from coupon_core.errors import NotFound, Unauthorized
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import PG_POOL

from gateway.api.middleware import client_address
from gateway.api.schemas import Login, Register, user_view
from gateway.db import users
from gateway.domain.secrets import hash_secret, new_user_token
from gateway.keys import CALLER, CREDENTIAL, GATEKEEPER, PASSWORDS, SETTINGS

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def register(request: web.Request) -> web.Response:
    body = parse_model(Register, await read_json(request))
    password_hash = await asyncio.to_thread(request.app[PASSWORDS].hash, body.password)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        user = await users.create(
            conn,
            email=body.email.lower(),
            password_hash=password_hash,
            first_name=body.firstName,
            last_name=body.lastName,
        )
    return json_response({"user": user_view(user)}, status=201)


async def _login_fields(request: web.Request) -> Any:
    if request.content_type in FORM_TYPES:
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return await read_json(request)


async def login(request: web.Request) -> web.Response:
    body = parse_model(Login, await _login_fields(request))
    gatekeeper = request.app[GATEKEEPER]
    address = client_address(request)
    await gatekeeper.check_not_throttled(address)
    async with request.app[PG_POOL].acquire() as conn:
        user = await users.by_email(conn, body.email.strip().lower())
    stored = user.password_hash if user is not None else None
    valid = await asyncio.to_thread(request.app[PASSWORDS].verify, stored, body.password)
    if user is None or not valid:
        await gatekeeper.record_failure(address)
        # The same answer for an unknown email and a wrong password.
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    token = new_user_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=request.app[SETTINGS].user_token_ttl_s)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        await users.add_token(
            conn, user_id=user.id, token_hash=hash_secret(token), expires_at=expires_at
        )
    return json_response(
        {
            "status": "ok",
            "user": user_view(user),
            "access": {"token": token, "expiresAt": expires_at.isoformat()},
        }
    )


async def me(request: web.Request) -> web.Response:
    user_id = int(request[CALLER].principal.id)
    async with request.app[PG_POOL].acquire() as conn:
        user = await users.by_id(conn, user_id)
    if user is None:
        raise NotFound("This user no longer exists.", code="user_not_found")
    return json_response({"status": "ok", "user": user_view(user)})


async def logout(request: web.Request) -> web.Response:
    credential = request[CREDENTIAL]
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        await users.revoke_token(conn, hash_secret(credential.secret))
    request.app[GATEKEEPER].resolver.forget(credential)
    return json_response({"status": "ok"})


def add_user_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/users/register", register)
    app.router.add_post("/api/v1/users/login", login)
    app.router.add_get("/api/v1/users/me", me)
    app.router.add_post("/api/v1/users/logout", logout)
