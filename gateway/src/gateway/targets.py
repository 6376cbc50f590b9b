"""The request targets the gateway takes: a path (origin-form) that reads the same at the
gateway, which authorizes it, and at the service, which routes it (:mod:`coupon_core.paths`).

An absolute-form target (``GET http://host/path``) is refused: the gateway is nobody's
forward proxy, and the upstream URL is built from the configured upstream and the path
alone. A path with an empty segment (``//v2/coupon/series``) names no route: 404 in the
envelope of the family it resembles. Runs before authentication, so a path is authorized
only in the form it is forwarded in.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from coupon_core.errors import BadRequest, NotFound
from coupon_core.paths import has_empty_segment, path_problem


@web.middleware
async def target_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.raw_path.startswith("/"):
        raise BadRequest("The request target must be a path (origin-form), not an absolute URL.")
    problem = path_problem(request.rel_url.raw_path, request.path)
    if problem is not None:
        raise BadRequest(problem)
    if has_empty_segment(request.path):
        raise NotFound("No route matches this URL.")
    return await handler(request)
