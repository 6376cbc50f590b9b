"""Fuzzing every operation of the gateway's OpenAPI document with schemathesis: generated
and malformed input, with an admin token and without credentials. Nothing answers 5xx,
answers conform to the document where it declares them, and a rejected request writes
nothing (the gateway's tables are compared before and after).

Runs on a stack of its own: the fuzzer revokes and rewrites tokens it finds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import requests
import schemathesis
from coupon_core.stack import Stack, with_database
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks
from support.stacks import ADMIN_TOKEN, running_stack

MAX_EXAMPLES = 40  # per operation, mode and credential: bounded, the whole file < 3 minutes
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.response_schema_conformance,
    openapi_checks.content_type_conformance,
]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[Stack]:
    with running_stack(replicas=1) as running:
        yield running


def _snapshot(stack: Stack) -> list[Any]:
    """Every row the gateway's API can write, in a stable order."""

    async def read() -> list[Any]:
        assert stack.postgres is not None
        conn = await asyncpg.connect(with_database(stack.postgres.url(), "coupon_gateway"))
        try:
            rows = []
            for table in ("api_tokens", "users", "user_tokens"):
                rows.append(
                    [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1")]
                )
            return rows
        finally:
            await conn.close()

    return asyncio.run(read())


@pytest.mark.timeout(240)
def test_gateway_document_fuzzed(fuzz_stack: Stack) -> None:
    base = fuzz_stack.gateway_url
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    session = requests.Session()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    protected = {
        str(t["id"])
        for t in session.get(f"{base}/api/v1/api-tokens", headers=admin).json()["items"]
    }
    started = time.monotonic()
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy, authenticated=st.booleans())
            def run(case: schemathesis.Case, authenticated: bool) -> None:
                nonlocal cases
                cases += 1
                if (case.path_parameters or {}).get("id") in protected:
                    case.path_parameters = {**case.path_parameters, "id": "987654321"}
                headers = dict(admin) if authenticated else {}
                if not authenticated and case.headers:
                    case.headers.pop("Authorization", None)
                before = _snapshot(fuzz_stack) if case.method.upper() in WRITES else None
                response = case.call(base_url=base, session=session, headers=headers)
                case.validate_response(response, checks=CHECKS)
                if before is not None and response.status_code >= 400:
                    after = _snapshot(fuzz_stack)
                    assert after == before, (
                        f"{case.method} {case.formatted_path} answered "
                        f"{response.status_code} but wrote {after} (was {before})"
                    )

            try:
                run()
            except Unsatisfiable:
                # Negative mode needs something to break: an operation without parameters
                # or body has no malformed variant.
                assert mode is GenerationMode.NEGATIVE, operation.label
    print(f"fuzzed {cases} cases in {time.monotonic() - started:.1f} s")
