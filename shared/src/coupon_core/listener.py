"""The HTTP listener of every process: aiohttp's server, with a bound on how long a client
may take to send a request's headers and then its body (SPEC section 7).

aiohttp bounds neither. Its ``RequestHandler`` closes a connection that has not sent a
whole request head only when its keep-alive timer fires (75 s under ``web.run_app``,
counted from the connection's start or its last response), and a handler reading a body
waits as long as the client keeps the connection open. Bytes meet the parser in
``RequestHandler.data_received``, which is where :class:`BoundedRequestHandler` keeps two
deadlines:

- the **header deadline** starts when a connection opens, and when the first bytes of a
  later request arrive on it; it ends when the parser has the whole head. Past it the
  connection is closed (after the answer to a request still being served, if any). An idle
  kept-alive connection between requests is left to the keep-alive timer.
- the **body deadline** starts when a head announcing a body is parsed and ends when the
  whole body has arrived. Past it the body fails with
  :class:`~coupon_core.errors.RequestTimeout`, so the handler reading it answers 408 in its
  URL family's envelope (the error middleware), and the connection is closed after that
  answer.

aiohttp offers no hook for the protocol class (``Server.__call__`` builds a
``RequestHandler``), so :class:`BoundedAppRunner` builds the application's server as
:class:`BoundedServer`, the same server with this handler. ``coupon_core.web.serve`` runs
every process through it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from coupon_core.errors import RequestTimeout

# What web.run_app gives an idle kept-alive connection before closing it.
KEEPALIVE_TIMEOUT_S = 75.0


class BoundedRequestHandler(RequestHandler):
    __slots__ = (
        "_body",
        "_body_deadline",
        "_body_timeout_s",
        "_head_deadline",
        "_header_timeout_s",
    )

    def __init__(
        self, manager: Server, *, header_timeout_s: float, body_timeout_s: float, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._body_timeout_s = body_timeout_s
        self._head_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        # The body of the latest request parsed (EMPTY_PAYLOAD when it has none).
        self._body: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_head_deadline()

    def data_received(self, data: bytes) -> None:
        if data and self._head_deadline is None and self._between_requests():
            self._start_head_deadline()  # the first bytes of another request's head
        parsed = self._request_count
        super().data_received(data)
        if self._request_count == parsed:
            return
        # One or more whole heads: only the latest request's body can still be arriving.
        self._stop(self._head_deadline)
        self._head_deadline = None
        self._body = self._messages[-1][1] if self._messages else None
        if self._body is not None and not self._body.is_eof():
            self._start_body_deadline(self._body)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop(self._head_deadline)
        self._stop(self._body_deadline)
        self._head_deadline = self._body_deadline = None
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self._body is None or self._body.is_eof() or self._body.exception() is not None

    def _start_head_deadline(self) -> None:
        self._head_deadline = self._loop.call_later(self._header_timeout_s, self._head_too_slow)

    def _start_body_deadline(self, body: StreamReader) -> None:
        self._stop(self._body_deadline)
        deadline = self._loop.call_later(self._body_timeout_s, self._body_too_slow, body)
        self._body_deadline = deadline
        body.on_eof(deadline.cancel)

    @staticmethod
    def _stop(deadline: asyncio.TimerHandle | None) -> None:
        if deadline is not None:
            deadline.cancel()

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self._waiter is not None and not self._waiter.done():
            self.force_close()  # waiting for this head, nothing to answer: cut it
        else:
            self.close()  # a pipelined head behind a request being served: after its answer

    def _body_too_slow(self, body: StreamReader) -> None:
        self._body_deadline = None
        if body.is_eof() or body.exception() is not None:
            return
        body.set_exception(
            RequestTimeout(
                f"The request body did not arrive within {self._body_timeout_s:g} s of its headers."
            )
        )
        self.close()


class BoundedServer(Server):
    """aiohttp's ``Server`` whose connections are :class:`BoundedRequestHandler`\\ s."""

    def __init__(
        self, handler: Any, *, header_timeout_s: float, body_timeout_s: float, **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s

    def __call__(self) -> RequestHandler:
        return BoundedRequestHandler(
            self,
            loop=self._loop,
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
            **self._kwargs,
        )


class BoundedAppRunner(web.AppRunner):
    """``web.AppRunner`` serving the application through a :class:`BoundedServer`."""

    __slots__ = ("_body_timeout_s", "_header_timeout_s")

    def __init__(
        self,
        app: web.Application,
        *,
        header_timeout_s: float,
        body_timeout_s: float,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, keepalive_timeout=keepalive_timeout, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._body_timeout_s = body_timeout_s

    async def _make_server(self) -> Server:
        # The application's own server (its startup run, its handler, factory and handler
        # arguments), rebuilt as a BoundedServer.
        server = await super()._make_server()
        return BoundedServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            header_timeout_s=self._header_timeout_s,
            body_timeout_s=self._body_timeout_s,
            **server._kwargs,
        )
