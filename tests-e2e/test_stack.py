"""The stack as a whole: every family reaches its service, replicas fail over, a dead
service is a 502 that heals without restarting the gateway, a dead replica's port waits for
it."""

from __future__ import annotations

import errno
import re
import socket
import time
from typing import Any

import aiohttp
import pytest
from coupon_dev.stack import Stack

FAMILIES = {
    "promotion": "/api/v1/promotions/e2e-probe",
    "issuance": "/v2/coupon/series/e2e-probe",
    "redemption": "/v2/coupon/redemptions/e2e-probe",
    "webhook": "/api/v1/webhooks/e2e-probe",
}
OPERATIONAL = {"/metrics", "/readyz", "/healthz"}


async def _served_count(session: aiohttp.ClientSession, stack: Stack, service: str) -> float:
    """Requests the replicas of ``service`` counted, from their own /metrics."""
    total = 0.0
    for process in stack.services[service]:
        if process.proc is None:
            continue
        async with session.get(f"{process.url}/metrics") as response:
            text = await response.text()
        for match in re.finditer(
            r'http_requests_total\{method="GET",route="([^"]*)",status="\d+"\} (\S+)', text
        ):
            if match.group(1) not in OPERATIONAL:
                total += float(match.group(2))
    return total


@pytest.mark.parametrize("service", sorted(FAMILIES))
async def test_each_family_reaches_its_service(
    stack: Stack, auth: dict[str, str], service: str
) -> None:
    async with aiohttp.ClientSession(headers=auth) as session:
        before = await _served_count(session, stack, service)
        async with session.get(stack.gateway_url + FAMILIES[service]) as response:
            assert response.status < 500
            assert "X-Request-ID" in response.headers
        assert await _served_count(session, stack, service) == before + 1


async def test_every_process_is_ready(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        for process in stack.all_processes():
            async with session.get(f"{process.url}/readyz") as response:
                assert response.status == 200, process.name


async def test_services_refuse_requests_that_bypass_the_gateway(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        for service, path in FAMILIES.items():
            async with session.get(stack.services[service][0].url + path) as response:
                assert response.status == 401, service


async def test_killed_replica_fails_over_and_dead_service_is_502_then_heals(
    stack: Stack, auth: dict[str, str]
) -> None:
    url = stack.gateway_url + FAMILIES["issuance"]
    first, second = stack.services["issuance"]
    async with aiohttp.ClientSession(headers=auth) as session:
        first.kill()
        for _ in range(4):  # every request lands on the surviving replica
            async with session.get(url) as response:
                assert response.status < 500
        second.kill()
        started = time.monotonic()
        async with session.get(url) as response:
            assert response.status == 502
            body: Any = await response.json()
        elapsed = time.monotonic() - started
        print(f"gateway answered 502 in {elapsed * 1000:.1f} ms")
        assert body["errors"][0]["code"] == 502
        first.start()
        second.start()
        first.wait_ready()
        second.wait_ready()
        async with session.get(url) as response:
            assert response.status < 500


async def test_a_dead_replicas_port_stays_reserved_for_its_restart(stack: Stack) -> None:
    """The launcher holds every port it picks: while a replica is down nobody else can bind
    its port (so nobody can answer in its place), connections are refused, and the replica
    binds the same port again when it restarts."""
    replica = stack.services["promotion"][1]
    replica.kill()
    try:
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="in use") as refused_bind:
                other.bind(("127.0.0.1", replica.port))
        assert refused_bind.value.errno == errno.EADDRINUSE
        with socket.socket() as client, pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", replica.port))
    finally:
        replica.start()
        replica.wait_ready()
    async with aiohttp.ClientSession() as session, session.get(f"{replica.url}/readyz") as ready:
        assert ready.status == 200
    assert replica.proc is not None
    assert replica.proc.poll() is None
