"""The query parameters of the issuance-service's reads, as the API document describes
them (the handlers read them with :func:`issuance_service.api.common.query_int`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from issuance_service.api.common import INT32


class SeriesListQuery(BaseModel):
    after: int = Field(default=0, ge=0, le=INT32, description="List the series after this id.")
    limit: int = Field(default=100, ge=1, le=500)


class LookupQuery(BaseModel):
    """Exactly one identifier."""

    mobile: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=100)
    externalId: str | None = Field(default=None, max_length=100)


class CustomerCouponsQuery(BaseModel):
    limit: int = Field(default=500, ge=1, le=1000)
