"""Sylius pagination: ``page``, ``limit`` (alias ``paginate``), ``sorting[field]``, links."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web
from coupon_core.errors import NotFound, ValidationFailed
from coupon_core.http import bigint
from coupon_core.responses import ResponseModel

from promotion_service.api.responses import Page

P = TypeVar("P", bound=Page)

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_PAGE = 10_000_000
_PAGING = frozenset({"page", "limit", "paginate"})


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    limit: int
    sort: tuple[str, str]
    # The other query parameters, in their order, kept in every link.
    keep: tuple[tuple[str, str], ...]

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _positive(query: Any, name: str, default: int, errors: dict[str, list[str]]) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    value = bigint(raw)
    if value is None or not 1 <= value <= MAX_PAGE:
        errors[name] = ["This value should be a positive integer."]
        return default
    return value


def page_request(
    request: web.Request, *, sortable: Collection[str], default_sort: tuple[str, str]
) -> PageRequest:
    query = request.rel_url.query
    errors: dict[str, list[str]] = {}
    page = _positive(query, "page", 1, errors)
    limit_name = "limit" if "limit" in query else "paginate"
    limit = min(_positive(query, limit_name, DEFAULT_LIMIT, errors), MAX_LIMIT)
    sort = default_sort
    for key, value in query.items():
        if key.startswith("sorting[") and key.endswith("]"):
            field = key[len("sorting[") : -1]
            if field not in sortable or value.lower() not in ("asc", "desc"):
                errors[key] = [f"Sorting is possible by {', '.join(sortable)}, asc or desc."]
            else:
                sort = (field, value.lower())
            break
    if errors:
        raise ValidationFailed(errors)
    keep = tuple((k, v) for k, v in query.items() if k not in _PAGING)
    return PageRequest(page=page, limit=limit, sort=sort, keep=keep)


def paginated(
    page: type[P], base: str, req: PageRequest, total: int, items: Sequence[ResponseModel]
) -> P:
    """The page body; a page past the last is a 404, as Sylius answers it."""
    pages = max(1, -(-total // req.limit))
    if req.page > pages:
        raise NotFound(
            f'Page "{req.page}" does not exist. The currentPage must be inferior to "{pages}"'
        )

    def href(number: int) -> dict[str, str]:
        query = urlencode([*req.keep, ("page", str(number)), ("limit", str(req.limit))])
        return {"href": f"{base}?{query}"}

    links = {"self": href(req.page), "first": href(1), "last": href(pages)}
    if req.page < pages:
        links["next"] = href(req.page + 1)
    if req.page > 1:
        links["previous"] = href(req.page - 1)
    return page.model_validate(
        {
            "page": req.page,
            "limit": req.limit,
            "pages": pages,
            "total": total,
            "_links": links,
            "_embedded": {"items": items},
        }
    )
