"""``GET /api/v1/webhooks/event-types``: the catalogue of event types (domain.catalogue)."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import json_response
from coupon_core.openapi import Doc, documented

from webhook_service.api.endpoints import TAGS
from webhook_service.api.views import EventTypesOut, event_types
from webhook_service.domain.catalogue import CATALOGUE

_LISTED = "\n".join(
    f"- `{entry.type}`: {entry.description}" + ("" if entry.subscribable else " (not subscribable)")
    for entry in CATALOGUE
)
DESCRIPTION = (
    "Every body an endpoint receives is `{id, type, timestamp, data}`, signed per the Standard "
    "Webhooks specification; the schema of each type is the component `<Type>Event` (its data: "
    "`<Type>Data`). The types:\n\n" + _LISTED
)


@documented(
    Doc(
        summary="The event types, each with a description and an example body",
        description=DESCRIPTION,
        tags=TAGS,
        responses={200: EventTypesOut},
    )
)
async def list_event_types(request: web.Request) -> web.Response:
    del request
    return json_response(event_types().body())
