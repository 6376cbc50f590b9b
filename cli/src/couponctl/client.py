"""A small synchronous HTTP client of the gateway's JSON API, shared by every subcommand."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 30.0


class CliError(Exception):
    """Something the user must fix: the message says what. ``exit_code`` is what
    ``couponctl`` exits with."""

    exit_code = 3


class ApiError(CliError):
    """The gateway answered with an error status."""

    exit_code = 1

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {_message(body)}")


def _message(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_description"):
            if isinstance(body.get(key), str):
                code = body.get("code")
                return f"{body[key]} ({code})" if isinstance(code, str) else str(body[key])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", errors[0]))
    return str(body)


class GatewayClient:
    def __init__(self, url: str, token: str | None, *, timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CliError(f"--url must be an http(s) URL, not {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        public: bool = False,
        accept: str = "application/json",
    ) -> Any:
        headers = {"Accept": accept}
        if not public:
            if not self.token:
                raise CliError("no token: pass --token or set COUPONCTL_TOKEN")
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        url = self.url + path
        wanted = {k: v for k, v in (query or {}).items() if v is not None}
        if wanted:
            url += "?" + urlencode(wanted)
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url, data=data, headers=headers, method=method
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, _decode(exc.read())) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the gateway at {self.url}: {reason}") from None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        public: bool = False,
    ) -> Any:
        """The decoded JSON answer; ``public`` sends no credentials."""
        with self._open(method, path, body, query=query, public=public) as response:
            return _decode(response.read())

    def download(
        self,
        path: str,
        write: Callable[[bytes], object],
        progress: Callable[[int], None],
        *,
        chunk: int = 65536,
    ) -> int:
        """Streams ``GET path`` to ``write``; ``progress`` gets the bytes written so far."""
        written = 0
        with self._open("GET", path, accept="*/*") as response:
            while block := response.read(chunk):
                write(block)
                written += len(block)
                progress(written)
        return written


def segment(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
