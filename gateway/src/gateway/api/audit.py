"""``/api/v1/audit-log``: every change through the console or the admin API (SPEC section
11), newest first, for admins (``*``: no role or token whitelist names it otherwise).

Recorded by :mod:`gateway.audit`; kept ``AUDIT_RETENTION_DAYS`` (gateway.workers.retention).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from coupon_core.dates import in_utc_range
from coupon_core.errors import NotFound, ValidationFailed
from coupon_core.fields import IsoDatetime
from coupon_core.http import bigint, json_response, parse_model
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented
from pydantic import AfterValidator, BaseModel, Field

from gateway.api.schemas import PageQuery, PaginationOut, dump
from gateway.audit import install_audit
from gateway.db import audit as audit_db
from gateway.domain.audit import parameter_names

TAGS = ("audit-log",)
SECURITY = ("bearerAuth", "basicAuth")

Moment = Annotated[IsoDatetime, AfterValidator(in_utc_range)]


class AuditQuery(PageQuery):
    actor: str | None = Field(
        default=None,
        min_length=1,
        max_length=254,
        description="The staff member's email or the API token's name, exactly.",
    )
    actorKind: Literal["staff", "api_token"] | None = None
    action: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^(POST|PUT|PATCH|DELETE) /\S*$",
        description="Method and route template: 'PATCH /api/v1/promotions/{code}'.",
    )
    target: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="A value of the path's parameters: a promotion code, a token id...",
    )
    since: Moment | None = Field(default=None, description="Changes at or after (ISO 8601).")
    until: Moment | None = Field(default=None, description="Changes before (ISO 8601).")


class AuditRecordOut(BaseModel):
    id: int
    at: str
    actorKind: Literal["staff", "api_token"]
    actorId: str
    actorName: str = Field(description="The staff member's email or the API token's name.")
    via: Literal["console", "api"]
    action: str = Field(description="Method and route template.")
    method: str
    template: str
    path: str
    target: dict[str, str] = Field(description="The path's parameters: name to value.")
    status: int
    requestBody: Any = Field(description="The request's JSON body, secrets redacted.")
    before: Any = Field(
        description="The resource as a GET of the path answered before a PUT, PATCH or "
        "DELETE (secrets redacted); null otherwise."
    )
    after: Any = Field(description="The answer's JSON body, secrets redacted.")
    requestId: str

    @classmethod
    def of(cls, record: audit_db.AuditRecord) -> AuditRecordOut:
        entry = record.entry
        names = parameter_names(entry.template)
        return cls(
            id=record.id,
            at=record.at.isoformat(),
            actorKind=entry.actor_kind,  # the table checks it
            actorId=entry.actor_id,
            actorName=entry.actor_name,
            via=entry.via,  # the table checks it
            action=f"{entry.method} {entry.template}",
            method=entry.method,
            template=entry.template,
            path=entry.path,
            target=dict(zip(names, entry.target, strict=False)),
            status=entry.status,
            requestBody=entry.request_body,
            before=entry.before,
            after=entry.after,
            requestId=entry.request_id,
        )


class AuditLogOut(BaseModel):
    items: list[AuditRecordOut]
    pagination: PaginationOut


def _filters(query: AuditQuery) -> audit_db.Filters:
    method = template = None
    if query.action is not None:
        method, template = query.action.split(" ", 1)
    if query.since is not None and query.until is not None and query.since >= query.until:
        raise ValidationFailed({"until": ["This value should be after since."]})
    return audit_db.Filters(
        actor=query.actor,
        actor_kind=query.actorKind,
        method=method,
        template=template,
        target=query.target,
        since=query.since,
        until=query.until,
    )


@documented(
    Doc(
        summary="The audit log: changes through the console or the admin API",
        description=(
            "Every successful POST, PUT, PATCH or DELETE of a staff member (via console) or "
            "an API token (via api; checkout traffic excepted), newest first: who, when, "
            "the endpoint and its target, the request body, the resource before and the "
            "answer after, secrets redacted. Admins only ('*')."
        ),
        tags=TAGS,
        query=AuditQuery,
        responses={200: AuditLogOut, 400: "a filter, page or limit out of range"},
        security=SECURITY,
    )
)
async def list_audit_log(request: web.Request) -> web.Response:
    query = parse_model(AuditQuery, dict(request.query))
    filters = _filters(query)
    async with request.app[PG_POOL].acquire() as conn:
        records, total = await audit_db.page(conn, filters, offset=query.offset, limit=query.limit)
    listing = AuditLogOut(
        items=[AuditRecordOut.of(r) for r in records],
        pagination=PaginationOut.of(page=query.page, limit=query.limit, total=total),
    )
    return json_response(dump(listing))


@documented(
    Doc(
        summary="One audit record",
        tags=TAGS,
        responses={200: AuditRecordOut, 404: "no such record"},
        security=SECURITY,
    )
)
async def show_audit_record(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    record_id = bigint(raw)
    record = None
    if record_id is not None:
        async with request.app[PG_POOL].acquire() as conn:
            record = await audit_db.get(conn, record_id)
    if record is None:
        raise NotFound(f"No audit record with id {raw!r}.", code="audit_record_not_found")
    return json_response(dump(AuditRecordOut.of(record)))


def add_audit_routes(app: web.Application) -> None:
    """The routes; the recording middleware is in app.py's list (gateway.audit)."""
    install_audit(app)
    app.router.add_get("/api/v1/audit-log", list_audit_log)
    app.router.add_get("/api/v1/audit-log/{id}", show_audit_record)
