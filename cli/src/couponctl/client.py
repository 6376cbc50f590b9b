"""A small synchronous HTTP client of the gateway's JSON API, shared by every subcommand.

Its errors carry the exit code ``couponctl`` ends with (listed in ``couponctl --help``).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote, urlencode, urlsplit

from couponctl.envelopes import summary

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 30.0

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_CONNECTED = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Something failed; the message says what. ``exit_code`` is what ``couponctl`` exits
    with."""

    exit_code = EXIT_FAILED


class UsageError(CliError):
    """The command line, or a file it names, cannot be used."""

    exit_code = EXIT_USAGE


class NotConnected(CliError):
    """The gateway does not answer, or there is no token to send it."""

    exit_code = EXIT_NOT_CONNECTED


class ApiError(CliError):
    """The gateway answered with an error status; the message is the API's own."""

    exit_code = EXIT_FAILED

    def __init__(self, status: int, body: Any, *, retry_after: str | None = None) -> None:
        self.status = status
        self.body = body
        text = f"HTTP {status}: {summary(status, body)}"
        if retry_after:
            wait = f"{retry_after} s" if retry_after.isdigit() else retry_after
            text += f" (retry after {wait})"
        super().__init__(text)


class RequestOptions(TypedDict, total=False):
    """``query``: the query parameters (a None value is left out); ``public``: send no
    credentials."""

    query: Mapping[str, Any] | None
    public: bool


@dataclass(frozen=True)
class Answer:
    body: Any
    headers: Message


class GatewayClient:
    """``url_origin`` says where the URL came from (empty: the command line), so that a
    gateway that does not answer is named with it."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        url_origin: str = "",
        credentials_hint: str = "pass --token or set COUPONCTL_TOKEN",
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.where = f"{url} ({url_origin})" if url_origin else url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"the gateway URL must be an http(s) URL, not {self.where}")
        self.url = url.rstrip("/")
        self.token = token
        self.credentials_hint = credentials_hint
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
    ) -> http.client.HTTPResponse:
        headers = {"Accept": accept}
        if not public:
            if not self.token:
                raise NotConnected(f"no token: {self.credentials_hint}")
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
            response: http.client.HTTPResponse = urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout
            )
        except urllib.error.HTTPError as exc:
            with exc:
                raw = self._read(exc)
            raise ApiError(
                exc.code, _decode(raw), retry_after=exc.headers.get("Retry-After")
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None
        return response

    def _read(self, response: Any, size: int | None = None) -> bytes:
        """``size`` bytes of the answer (all when None); a connection lost meanwhile is
        the gateway not answering."""
        try:
            return bytes(response.read(size))
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> NotConnected:
        reason = getattr(exc, "reason", None) or exc
        return NotConnected(f"cannot reach the gateway at {self.where}: {reason}")

    def answer(
        self, method: str, path: str, body: Any = None, **options: Unpack[RequestOptions]
    ) -> Answer:
        """The decoded JSON answer and its headers."""
        with self._open(method, path, body, **options) as response:
            return Answer(_decode(self._read(response)), response.headers)

    def request(
        self, method: str, path: str, body: Any = None, **options: Unpack[RequestOptions]
    ) -> Any:
        """The decoded JSON answer."""
        return self.answer(method, path, body, **options).body

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
            while block := self._read(response, chunk):
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
