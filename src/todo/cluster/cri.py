"""Whether a container runtime's CRI service answers, asked the way the kubelet asks.

containerd serves its own API (what ``ctr`` speaks) as soon as its socket is up, but its CRI
plugin initialises after that, in the background, and until then answers every CRI call
with ``Unknown: server is not initialized yet``. The kubelet's first act is the CRI
``RuntimeService/Version`` call, and it exits on that error. So a node is ready for its
kubelet only when that very call succeeds.
"""

from __future__ import annotations

from pathlib import Path

import grpc

# The CRI v1 method the kubelet calls first (k8s.io/cri-api, runtime/v1/api.proto).
RUNTIME_VERSION = "/runtime.v1.RuntimeService/Version"


class RuntimeNotServing(Exception):
    """The CRI call failed; the message gives the gRPC status and its details."""


def runtime_version(socket: Path, timeout: float = 2.0) -> bytes:
    """The raw ``VersionResponse`` of the runtime behind ``socket``.

    An empty message is a valid ``VersionRequest`` (its one field left at its default), so
    no generated stubs are needed to ask; the answer is returned as the wire bytes.
    """
    with grpc.insecure_channel(f"unix://{socket.absolute()}") as channel:
        call = channel.unary_unary(RUNTIME_VERSION)
        try:
            response: bytes = call(b"", timeout=timeout)
        except grpc.RpcError as error:
            code = error.code() if isinstance(error, grpc.Call) else None
            details = error.details() if isinstance(error, grpc.Call) else str(error)
            name = code.name if code is not None else "UNKNOWN"
            raise RuntimeNotServing(f"{RUNTIME_VERSION}: {name}: {details}") from error
    return response


def runtime_serves(socket: Path, timeout: float = 2.0) -> bool:
    """True once the CRI service behind ``socket`` answers its version call."""
    if not socket.exists():
        return False
    try:
        runtime_version(socket, timeout)
    except RuntimeNotServing:
        return False
    return True
