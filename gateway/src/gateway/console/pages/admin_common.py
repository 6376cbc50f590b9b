"""What the admin pages (API tokens, webhooks, staff, audit log) share: numbered pages, a
group of checkboxes read from a form, JSON shown as text, the API's refusal put on the
form's fields, and a secret the API shows once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web
from multidict import MultiDictProxy

from gateway.console.client import ApiError
from gateway.console.pages.series_form import split_errors
from gateway.console.render import render
from gateway.console.session import StaffContext


@dataclass(frozen=True, slots=True)
class Choice:
    """One checkbox of a group: its value, its id, and words about it."""

    entry: str
    id: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """Checkboxes under one legend."""

    legend: str
    choices: tuple[Choice, ...]


def numbered_url(request: web.Request, name: str = "page") -> str:
    """This page's address with every parameter but ``name``, ending in ``name=``: the
    ``url`` of the pagination macro."""
    query = urlencode({k: v for k, v in request.query.items() if k != name})
    return f"{request.path}?{query}{'&' if query else ''}{name}="


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def checked(form: MultiDictProxy[Any], prefix: str) -> list[str]:
    """The values named by the checked boxes ``prefix`` + value (one name per box, so each
    box is its own field), in the form's order, each once."""
    found: list[str] = []
    for key in form:
        if key.startswith(prefix) and key[len(prefix) :] not in found:
            found.append(key[len(prefix) :])
    return found


def text_of(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def pretty(value: Any) -> str:
    """JSON as a person reads it: indented, keys in order."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def refusal(
    exc: ApiError, names: set[str], codes: dict[str, str] | None = None
) -> tuple[dict[str, str], str | None]:
    """The API's refusal as the form shows it: field errors on the fields named ``names``,
    a refusal whose code ``codes`` maps to a field on that field, the rest as a message."""
    field = (codes or {}).get(exc.code)
    if field is not None and not exc.fields:
        return {field: exc.message}, None
    return split_errors(exc, names)


def secret_page(
    request: web.Request,
    staff: StaffContext,
    *,
    title: str,
    what: str,
    use: str,
    secret: str,
    done_url: str,
) -> web.Response:
    """The answer to the POST that made ``secret`` (which the API shows once): the page that
    shows it, not kept by the browser, with a "Done" link to ``done_url``. Never a redirect:
    the secret goes nowhere but this one answer, and no later page shows it."""
    response = render(
        request,
        "secret.html",
        staff=staff,
        title=title,
        what=what,
        use=use,
        secret=secret,
        done_url=done_url,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
