"""Free TCP ports on 127.0.0.1 for the devstack's servers.

A port is free when asked and bound later by a child process; two requests in one
process must never get the same port before either is bound, so handed-out ports are
remembered."""

from __future__ import annotations

import socket
import threading

HOST = "127.0.0.1"

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that nothing listens on now and no earlier call returned."""
    ports: list[int] = []
    with _lock:
        while len(ports) < count:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                ports.append(port)
    return ports


def free_port() -> int:
    (port,) = free_ports(1)
    return port
