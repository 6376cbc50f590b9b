"""The console's only way to the data: the platform's HTTP API, through the gateway's own
listener, with the staff session as the bearer. So each console call is authenticated,
whitelisted for the role, rate-limited and audited exactly like any API call.

Errors come back in the envelope of the URL's family (SPEC section 7); :class:`ApiError`
carries what a page shows: the status, a message, and field errors when the API named fields
(in plain words: wording.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from coupon_core.keys import REQUEST_ID

from gateway.console.session import StaffContext
from gateway.console.wording import plain
from gateway.keys import SETTINGS

CONSOLE_HTTP = web.AppKey("console_http", aiohttp.ClientSession)

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
_FIELD_PART = re.compile(r"^([A-Za-z_][\w.\[\]-]*): (.+)$", re.DOTALL)
_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5)

# Query values: None and "" are left out, booleans sent as true/false, the rest as str().
Params = Mapping[str, object]


@dataclass
class ApiError(Exception):
    """An API answer other than 2xx, or an API that did not answer (status 502)."""

    status: int
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    code: str = ""

    def __str__(self) -> str:
        return self.message


async def console_http_ctx(app: web.Application) -> AsyncIterator[None]:
    """One client session for every console call of the app (keep-alive to the listener)."""
    session = aiohttp.ClientSession(timeout=_TIMEOUT, auto_decompress=True)
    app[CONSOLE_HTTP] = session
    yield
    await session.close()


def api_base_url(request: web.Request) -> str:
    """``console_api_url``, else this gateway's own listener (the port the request came in
    on) on loopback, or on the host it is bound to when that is one address."""
    settings = request.app[SETTINGS]
    if settings.console_api_url:
        return settings.console_api_url.rstrip("/")
    port = settings.port
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        port = int(sockname[1])
    host = settings.host if settings.host not in _WILDCARD_HOSTS else "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _field_errors(children: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    if isinstance(children, dict):
        for name, entry in children.items():
            errors = entry.get("errors") if isinstance(entry, dict) else None
            if isinstance(errors, list) and errors:
                fields[str(name)] = " ".join(str(e) for e in errors)
    return fields


def _fields_from_message(message: str) -> dict[str, str]:
    """ValidationFailed outside Sylius is one message ``name: errors; name: errors``."""
    fields: dict[str, str] = {}
    for part in message.split("; "):
        match = _FIELD_PART.match(part)
        if match is None:
            return {}
        fields[match.group(1)] = match.group(2)
    return fields


def error_from_body(status: int, body: Any) -> ApiError:
    """The error of any envelope (Sylius, CRM, Capillary v1.1 and v2, plain)."""
    if not isinstance(body, dict):
        return ApiError(status, f"The API answered {status}.")
    message, code, fields = "", "", {}
    errors = body.get("errors")
    if isinstance(errors, dict):  # Sylius validation
        fields = _field_errors(errors.get("children"))
        message = str(body.get("message") or "Validation Failed")
    elif isinstance(errors, list) and errors:  # Capillary v2
        first = errors[0] if isinstance(errors[0], dict) else {}
        message = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
        code = str(first.get("code", ""))
    elif isinstance(body.get("response"), dict):  # Capillary v1.1
        state = body["response"].get("status") or {}
        message, code = str(state.get("message", "")), str(state.get("code", ""))
    elif "error_description" in body:  # Sylius 401
        message, code = str(body["error_description"]), str(body.get("error", ""))
    elif "message" in body:  # CRM, Sylius, plain
        message = str(body["message"])
        code = str(body.get("code") or body.get("error") or "")
    if not fields and status in (400, 422) and message:
        fields = _fields_from_message(message)
    fields = {name: plain(text, name) for name, text in fields.items()}
    return ApiError(status, message or f"The API answered {status}.", fields, code)


class ConsoleApi:
    """The API as the signed-in staff member: ``await api.get("/api/v1/promotions")``."""

    def __init__(self, request: web.Request, staff: StaffContext) -> None:
        self._http = request.app[CONSOLE_HTTP]
        self._base = api_base_url(request)
        self._headers = {
            "Authorization": f"Bearer {staff.token}",
            "Accept": "application/json",
        }
        request_id = request.get(REQUEST_ID)
        if request_id:
            self._headers["X-Request-ID"] = request_id

    @staticmethod
    def _params(params: Params | None) -> dict[str, str]:
        if not params:
            return {}
        out: dict[str, str] = {}
        for key, value in params.items():
            if value is None or value == "":
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> Any:
        """The parsed JSON body of a 2xx answer (None for an empty one, as 204 has)."""
        headers = dict(self._headers)
        data = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(json)
        try:
            async with self._http.request(
                method,
                self._base + path,
                params=self._params(params),
                data=data,
                headers=headers,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(502, f"The API did not answer: {exc.__class__.__name__}.") from None
        body = _json_or_none(raw)
        if status >= 300:
            raise error_from_body(status, body)
        return body

    async def get(self, path: str, *, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        return await self.request("POST", path, params=params, json=json)

    async def put(self, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        return await self.request("PUT", path, params=params, json=json)

    async def patch(self, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        return await self.request("PATCH", path, params=params, json=json)

    async def delete(self, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        return await self.request("DELETE", path, params=params, json=json)

    async def stream(
        self,
        request: web.Request,
        path: str,
        *,
        params: Params | None = None,
        filename: str | None = None,
    ) -> web.StreamResponse:
        """The API's answer streamed to the browser as it comes (a CSV export), as a
        download named ``filename``. An error before the first byte raises ApiError; one
        after it cuts the download short (the browser sees it incomplete)."""
        response: web.StreamResponse | None = None
        try:
            async with self._http.get(
                self._base + path,
                params=self._params(params),
                headers={**self._headers, "Accept": "*/*"},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=60),
            ) as upstream:
                if upstream.status >= 300:
                    raise error_from_body(upstream.status, _json_or_none(await upstream.read()))
                response = web.StreamResponse(status=200)
                response.content_type = upstream.content_type
                if upstream.charset:
                    response.charset = upstream.charset
                if filename:
                    response.headers["Content-Disposition"] = (
                        f'attachment; filename="{_header_safe(filename)}"'
                    )
                response.headers["Cache-Control"] = "no-store"
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            if response is not None and response.prepared:
                raise  # too late for an error page: the connection is closed mid-download
            raise ApiError(502, f"The API did not answer: {exc.__class__.__name__}.") from None


def _json_or_none(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _header_safe(name: str) -> str:
    return "".join(c for c in name if c.isascii() and (c.isalnum() or c in "._-")) or "download"
