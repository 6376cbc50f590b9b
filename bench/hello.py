"""A bare aiohttp app answering a small JSON body on every path, on uvloop as the services
run: the baseline the gateway and the services are measured against.

    python -m bench.hello PORT
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from coupon_core.web import new_event_loop


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"hello": "world"})


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    # The port is held by the stack that started this process (Stack.reserve_port).
    web.run_app(
        app, host="127.0.0.1", port=port, reuse_port=True, access_log=None, print=None, loop=loop
    )


if __name__ == "__main__":
    main()
