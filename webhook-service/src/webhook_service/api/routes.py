"""The routes of the webhook-service (CRM family)."""

from __future__ import annotations

from aiohttp import web

from webhook_service.api import actions, catalogue, endpoints, log

BASE = "/api/v1/webhooks"
ONE = BASE + "/{id}"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(BASE, endpoints.create_webhook)
    r.add_get(BASE, endpoints.list_webhooks, allow_head=False)
    # Before {id}: a literal segment wins.
    r.add_get(BASE + "/event-types", catalogue.list_event_types, allow_head=False)
    r.add_get(ONE, endpoints.show_webhook, allow_head=False)
    r.add_patch(ONE, endpoints.update_webhook)
    r.add_delete(ONE, endpoints.delete_webhook)
    r.add_post(ONE + "/rotate-secret", endpoints.rotate_secret)
    r.add_post(ONE + "/test", actions.send_test)
    r.add_get(ONE + "/deliveries", log.list_deliveries, allow_head=False)
    r.add_get(ONE + "/attempts", log.list_attempts, allow_head=False)
    r.add_post(ONE + "/redeliver", actions.redeliver_events)
