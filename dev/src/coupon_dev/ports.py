"""Loopback ports for the servers started on this machine (the launcher, tests, bench)."""

from __future__ import annotations

import socket
from contextlib import closing


def free_port() -> int:
    """A loopback port free now. Nothing holds it: for a port that must stay its owner's
    from the moment it is chosen, across restarts, use :func:`reserve_port`."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reserve_port() -> socket.socket:
    """A loopback port held for as long as the returned socket stays open.

    The socket is bound with SO_REUSEPORT and never listens. No other socket can bind the
    port, and the system never hands it out as a free one, yet the process it is meant for
    binds it with SO_REUSEPORT too (``REUSE_PORT=true``), at its start and again at every
    restart. While that process is down, connections are refused as they would be without
    the reservation. Without it, a port chosen with :func:`free_port` can be taken by
    somebody else before its process binds it, and whoever took it would answer in its place.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
    except OSError:
        sock.close()
        raise
    return sock


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the loopback port now. SO_REUSEADDR as servers set
    it: connections of a server that just stopped (TIME_WAIT) do not count."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
