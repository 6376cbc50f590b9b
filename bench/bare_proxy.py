"""The least a reverse proxy can do: the limit the gateway's CPU per proxied request is
measured against (issue 17, "the edge").

One ``aiohttp.web`` handler forwards the method, the path and query as sent, the headers
without the hop-by-hop ones and the body to one upstream through one shared
``ClientSession``, and returns the answer (read whole, as the gateway relays small answers
of known length). No middleware, no checks, no metrics, no identity, no logging: what any
aiohttp proxy pays, on uvloop as the gateway runs.

    python -m bench.bare_proxy --port N --upstream http://127.0.0.1:M   # serve
    python -m bench.bare_proxy compare [--seconds 3] [--rounds 3]     # bench/edge.py

Without flags the port and the upstream come from ``PORT`` and ``BARE_PROXY_UPSTREAM``
(how :func:`start_bare_proxy` starts it as a :class:`~coupon_dev.processes.Process`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web
from coupon_core.web import new_event_loop
from coupon_dev.processes import Process
from coupon_dev.stack import Stack
from gateway.proxy import HOP_BY_HOP
from gateway.routing import forward_url
from multidict import CIMultiDict
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = web.AppKey("upstream", URL)
SESSION = web.AppKey("session", aiohttp.ClientSession)
# Request headers the client library sets itself from the body it sends.
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length"}


async def forward(request: web.Request) -> web.Response:
    headers = CIMultiDict(
        (k, v) for k, v in request.headers.items() if k.lower() not in _REQUEST_DROP
    )
    body = await request.read() if request.body_exists else None
    url = forward_url(
        request.app[UPSTREAM], request.rel_url.raw_path, request.rel_url.raw_query_string
    )
    async with request.app[SESSION].request(
        request.method,
        url,
        headers=headers,
        data=body,
        allow_redirects=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
    ) as upstream:
        answer = await upstream.read()
        return web.Response(
            status=upstream.status,
            reason=upstream.reason,
            headers=CIMultiDict(
                (k, v) for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_DROP
            ),
            body=answer,
        )


def create_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = URL(upstream)

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        ) as session:
            app[SESSION] = session
            yield

    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def start_bare_proxy(stack: Stack, upstream: Process) -> Process:
    """The bare proxy in front of ``upstream`` (the hello app of
    :func:`bench.cases.start_hello`), on a port the stack holds, ready when returned. Its
    ``/readyz`` is the upstream's, forwarded: ready means it proxies."""
    port = stack.reserve_port()
    env = {**os.environ, "PORT": str(port), "BARE_PROXY_UPSTREAM": upstream.url}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proxy = Process("bare-proxy", "bench.bare_proxy", port, env, stack.logs / "bare-proxy.log")
    proxy.start()
    proxy.wait_ready()
    return proxy


def serve(port: int, upstream: str) -> None:
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    # reuse_port: the port may be held by whoever started this process (ports.reserve_port).
    web.run_app(
        create_app(upstream),
        host="127.0.0.1",
        port=port,
        reuse_port=True,
        access_log=None,
        print=None,
        loop=loop,
    )


def main() -> None:
    if sys.argv[1:2] == ["compare"]:
        from bench.edge import main as compare

        compare(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")))
    parser.add_argument("--upstream", default=os.environ.get("BARE_PROXY_UPSTREAM", ""))
    args = parser.parse_args()
    if not args.port or not args.upstream:
        parser.error("--port and --upstream (or PORT and BARE_PROXY_UPSTREAM) are required")
    serve(args.port, args.upstream)


if __name__ == "__main__":
    main()
