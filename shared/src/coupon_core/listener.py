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

A request line or headers the parser refuses never reach the application: aiohttp answers
from ``RequestHandler.handle_error``, with a plain-text 400, for a placeholder request
(``UNKNOWN /``) because the parser hands over no path for what it refused. The handler
keeps the beginning of each head as it arrives, so :meth:`BoundedRequestHandler.handle_error`
answers that 400 in the envelope of the URL family of the refused request's target (SPEC
section 7), and still closes the connection.

aiohttp offers no hook for the protocol class (``Server.__call__`` builds a
``RequestHandler``), so :class:`BoundedAppRunner` builds the application's server as
:class:`BoundedServer`, the same server with this handler. ``coupon_core.web.serve`` runs
every process through it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server
from yarl import URL

from coupon_core.errors import BadRequest, RequestTimeout
from coupon_core.families import Family, error_body, family_for_path
from coupon_core.http import json_response

# What web.run_app gives an idle kept-alive connection before closing it.
KEEPALIVE_TIMEOUT_S = 75.0
# How much of a head is kept to name the URL family of a request the parser refuses: the
# family is a prefix of the path, so the request line's beginning is enough.
HEAD_START_BYTES = 512
# How much of the parser's reason a refusal quotes.
REASON_CHARS = 200


class BoundedRequestHandler(RequestHandler):
    __slots__ = (
        "_body",
        "_body_deadline",
        "_body_timeout_s",
        "_head_deadline",
        "_head_start",
        "_header_timeout_s",
        "_refused_family",
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
        # The first bytes of the latest head, and the family of the first head refused. A
        # head in the same packet as an earlier one, or pipelined behind a body still
        # arriving, is not seen starting: it is named by the earlier request's line (and
        # in one packet the refusal is the client's answer to that earlier request).
        self._head_start = b""
        self._refused_family: Family | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._start_head_deadline()

    def data_received(self, data: bytes) -> None:
        if data and self._head_deadline is None and self._between_requests():
            self._start_head_deadline()  # the first bytes of another request's head
            self._head_start = b""
        if len(self._head_start) < HEAD_START_BYTES and b"\n" not in self._head_start:
            self._head_start += data[: HEAD_START_BYTES - len(self._head_start)]
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
        if (
            self._refused_family is None
            and self._messages
            and isinstance(self._messages[-1][0], _ErrInfo)
        ):
            # The parser refused what it was given (its error is the last message). Only
            # the first refusal is ever answered: that answer closes the connection.
            self._refused_family = family_for_path(_target_path(self._head_start))

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        # aiohttp's own handling first: its log line, its check that nothing was sent yet,
        # and its answer, which stays for a failure of the server (5xx).
        response = super().handle_error(request, status, exc, message)
        if not isinstance(exc, HttpProcessingError) or status >= 500:
            return response
        # ``request`` is a placeholder (UNKNOWN /): the family is the refused head's.
        family = self._refused_family or Family.PLAIN
        err = BadRequest(
            f"The request line or headers could not be parsed: {_reason(exc)}",
            status=status,
            headers={"Connection": "close"},
        )
        refusal = json_response(error_body(family, err), status=status, headers=err.headers)
        refusal.force_close()
        return refusal

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


def _target_path(head_start: bytes) -> str:
    """The path of the request target on a request line's beginning, as far as it goes
    (``""`` when there is none to read: the family is then PLAIN)."""
    line = head_start.split(b"\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    target = parts[1] if len(parts) > 1 else ""
    if not target.startswith("/") and "://" in target:  # absolute form: its path
        try:
            target = URL(target, encoded=True).raw_path
        except ValueError:
            return ""
    return target.partition("?")[0].partition("#")[0]


def _reason(exc: HttpProcessingError) -> str:
    """What the parser said, on one line (its message goes on to quote the bytes), in text
    JSON can carry."""
    reason = exc.message.strip().split("\n", 1)[0].rstrip(":. ")[:REASON_CHARS]
    reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{reason or 'malformed request'}."


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
