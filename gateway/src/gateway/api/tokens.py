"""``/api/v1/api-tokens``: create, list, show, edit the whitelist of, and revoke API tokens.

A token never grants what it cannot do (SPEC section 2): the whitelist it creates a token
with, or sets, lies within its own, and it edits or revokes only tokens whose whitelist lies
within its own, so only a ``*`` token manages a ``*`` token.
"""

from __future__ import annotations

from aiohttp import web
from coupon_core.errors import BadRequest, Forbidden, NotFound
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from gateway.api.common import path_id
from gateway.api.schemas import (
    ApiTokenCreatedOut,
    ApiTokenListOut,
    ApiTokenOut,
    CreateToken,
    UpdateToken,
    dump,
)
from gateway.db import api_tokens
from gateway.domain.secrets import API_TOKEN_PREFIX
from gateway.domain.whitelist import WhitelistError, beyond, normalize_entries
from gateway.keys import CALLER, GATEKEEPER

TAGS = ("api-tokens",)
SECURITY = ("bearerAuth", "basicAuth")


def _whitelist(request: web.Request, entries: list[str]) -> list[str]:
    try:
        return normalize_entries(entries, request.app[GATEKEEPER].routes)
    except WhitelistError as exc:
        raise BadRequest(f"Invalid whitelist entry {exc}", code="invalid_whitelist") from None


def _grantable(request: web.Request, whitelist: list[str]) -> None:
    exceeding = beyond(request[CALLER].whitelist, whitelist)
    if exceeding:
        raise Forbidden(
            "A token grants only endpoints it can call itself; this one cannot call "
            f"{', '.join(exceeding)}.",
            code="whitelist_exceeds_caller",
        )


def _manageable(request: web.Request, token: api_tokens.ApiToken) -> None:
    if beyond(request[CALLER].whitelist, token.whitelist):
        raise Forbidden(
            f"API token {token.id} reaches endpoints this token cannot call; only a token that "
            "reaches all of them manages it (a '*' token only a '*' token).",
            code="cannot_manage_token",
        )


def _token_id(request: web.Request) -> int:
    return path_id(request, "API token", "token_not_found")


def _not_found(token_id: int) -> NotFound:
    return NotFound(f"No API token with id {token_id}.", code="token_not_found")


@documented(
    Doc(
        summary="Create an API token (the secret is shown once)",
        tags=TAGS,
        body=CreateToken,
        responses={
            201: ApiTokenCreatedOut,
            400: "invalid input or whitelist",
            403: "the whitelist reaches beyond the caller's own",
            409: "name taken",
        },
        security=SECURITY,
    )
)
async def create_token(request: web.Request) -> web.Response:
    body = parse_model(CreateToken, await read_json(request))
    whitelist = _whitelist(request, body.whitelist)
    _grantable(request, whitelist)
    hasher = request.app[GATEKEEPER].hasher
    secret = hasher.mint(API_TOKEN_PREFIX)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        token = await api_tokens.create(
            conn,
            name=body.name,
            secret_hash=hasher.digest(secret),
            whitelist=whitelist,
            rate_limit=body.rateLimit,
        )
    created = ApiTokenCreatedOut(**ApiTokenOut.of(token).model_dump(), token=secret)
    return json_response(dump(created), status=201)


@documented(
    Doc(summary="List API tokens", tags=TAGS, responses={200: ApiTokenListOut}, security=SECURITY)
)
async def list_tokens(request: web.Request) -> web.Response:
    async with request.app[PG_POOL].acquire() as conn:
        tokens = await api_tokens.list_all(conn)
    listing = ApiTokenListOut(items=[ApiTokenOut.of(t) for t in tokens], total=len(tokens))
    return json_response(dump(listing))


@documented(
    Doc(
        summary="Show an API token",
        tags=TAGS,
        responses={200: ApiTokenOut, 404: "no such token"},
        security=SECURITY,
    )
)
async def show_token(request: web.Request) -> web.Response:
    token_id = _token_id(request)
    async with request.app[PG_POOL].acquire() as conn:
        token = await api_tokens.get(conn, token_id)
    if token is None:
        raise _not_found(token_id)
    return json_response(dump(ApiTokenOut.of(token)))


@documented(
    Doc(
        summary="Replace the whitelist and/or the rate limit of an API token",
        tags=TAGS,
        body=UpdateToken,
        responses={
            200: ApiTokenOut,
            400: "invalid input or whitelist",
            403: "the token, or the new whitelist, reaches beyond the caller's own",
            404: "no such token",
        },
        security=SECURITY,
    )
)
async def update_token(request: web.Request) -> web.Response:
    token_id = _token_id(request)
    body = parse_model(UpdateToken, await read_json(request))
    whitelist = _whitelist(request, body.whitelist) if body.whitelist is not None else None
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        current = await api_tokens.get(conn, token_id, for_update=True)
        if current is None:
            raise _not_found(token_id)
        _manageable(request, current)
        if whitelist is not None:
            _grantable(request, whitelist)
        token = await api_tokens.update(
            conn,
            token_id,
            whitelist=whitelist,
            rate_limit=body.rateLimit,
            clear_rate_limit="rateLimit" in body.model_fields_set and body.rateLimit is None,
        )
    if token is None:
        raise _not_found(token_id)
    return json_response(dump(ApiTokenOut.of(token)))


@documented(
    Doc(
        summary="Revoke an API token (effective within a second)",
        tags=TAGS,
        responses={
            200: ApiTokenOut,
            403: "the token reaches beyond the caller's own whitelist",
            404: "no such token",
        },
        security=SECURITY,
    )
)
async def revoke_token(request: web.Request) -> web.Response:
    token_id = _token_id(request)
    async with request.app[PG_POOL].acquire() as conn, conn.transaction():
        current = await api_tokens.get(conn, token_id, for_update=True)
        if current is None:
            raise _not_found(token_id)
        _manageable(request, current)
        token = await api_tokens.revoke(conn, token_id)
    if token is None:
        raise _not_found(token_id)
    return json_response(dump(ApiTokenOut.of(token)))


def add_token_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/api-tokens", create_token)
    app.router.add_get("/api/v1/api-tokens", list_tokens)
    app.router.add_get("/api/v1/api-tokens/{id}", show_token)
    app.router.add_patch("/api/v1/api-tokens/{id}", update_token)
    app.router.add_delete("/api/v1/api-tokens/{id}", revoke_token)
