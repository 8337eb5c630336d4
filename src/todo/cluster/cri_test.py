"""The CRI readiness check: against a gRPC server that answers as containerd does while its
CRI plugin initialises, and against a real containerd (as root, where it is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from todo.cluster import cri
from todo.cluster.local import LocalCluster

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # A unix socket's path must fit in 108 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="cri-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class InitialisingRuntime:
    """Answers the CRI version call like containerd's CRI plugin: ``Unknown: server is not
    initialized yet`` until ``initialised`` is set, then an (empty) response."""

    def __init__(self) -> None:
        self.initialised = False
        self.calls = 0

    def version(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.calls += 1
        if not self.initialised:
            context.abort(grpc.StatusCode.UNKNOWN, "server is not initialized yet")
        return b""


def containerd_answer(request: bytes, context: grpc.ServicerContext) -> bytes:
    """containerd's own API (its version and server identity, what ``ctr version`` asks):
    answered from the start."""
    return b""


@pytest.fixture
def runtime(short_dir: Path) -> Iterator[tuple[InitialisingRuntime, Path]]:
    fake = InitialisingRuntime()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handlers = (
        grpc.method_handlers_generic_handler(
            "runtime.v1.RuntimeService",
            {"Version": grpc.unary_unary_rpc_method_handler(fake.version)},
        ),
        grpc.method_handlers_generic_handler(
            "containerd.services.version.v1.Version",
            {"Version": grpc.unary_unary_rpc_method_handler(containerd_answer)},
        ),
        grpc.method_handlers_generic_handler(
            "containerd.services.introspection.v1.Introspection",
            {"Server": grpc.unary_unary_rpc_method_handler(containerd_answer)},
        ),
    )
    server.add_generic_rpc_handlers(handlers)
    socket = short_dir / "containerd" / "containerd.sock"
    socket.parent.mkdir()
    server.add_insecure_port(f"unix://{socket}")
    server.start()
    yield fake, socket
    server.stop(grace=None)


def test_a_missing_socket_is_not_serving(short_dir: Path) -> None:
    assert cri.runtime_serves(short_dir / "absent.sock") is False


def test_not_ready_while_the_cri_service_initialises(
    runtime: tuple[InitialisingRuntime, Path],
) -> None:
    fake, socket = runtime
    assert cri.runtime_serves(socket) is False
    with pytest.raises(cri.RuntimeNotServing, match="UNKNOWN: server is not initialized yet"):
        cri.runtime_version(socket)
    fake.initialised = True
    assert cri.runtime_serves(socket) is True
    assert fake.calls == 3


@pytest.mark.skipif(not os.path.exists(CTR), reason="needs Debian's ctr (containerd)")
def test_the_node_starts_no_kubelet_before_the_cri_service_answers(
    runtime: tuple[InitialisingRuntime, Path], short_dir: Path
) -> None:
    """containerd's own API answers first (so ``ctr version`` succeeds) while its CRI plugin
    still initialises: the node must wait, or the kubelet it starts exits at once."""
    fake, _ = runtime
    node = LocalCluster(
        home=short_dir, registry="127.0.0.1:5000", kube_bin=short_dir, pause_image="pause"
    )
    assert node._containerd_serves() is True
    assert node._containerd_ready() is False
    fake.initialised = True
    assert node._containerd_ready() is True


def test_a_socket_nobody_serves_is_not_ready(short_dir: Path) -> None:
    socket = short_dir / "dead.sock"
    socket.touch()  # left behind by a runtime that died
    assert cri.runtime_serves(socket, timeout=0.5) is False


@pytest.mark.skipif(
    not (os.path.exists(CONTAINERD) and os.path.exists(CTR) and os.geteuid() == 0),
    reason="needs Debian's containerd and root (the cluster's prerequisites)",
)
def test_a_real_containerd_answers_the_kubelets_first_call(short_dir: Path) -> None:
    """Once ready, the call the kubelet makes first succeeds and names containerd; and the
    CRI service is never reported ready before containerd's own API is."""
    socket = short_dir / "containerd.sock"
    config = short_dir / "config.toml"
    config.write_text(
        f"""version = 2
root = "{short_dir / 'root'}"
state = "{short_dir / 'state'}"
[grpc]
  address = "{socket}"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{short_dir / 'opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""
    )
    log = (short_dir / "containerd.log").open("wb")
    proc = subprocess.Popen(
        [CONTAINERD, f"--config={config}", "--log-level=warn"], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while not cri.runtime_serves(socket):
            assert proc.poll() is None, (short_dir / "containerd.log").read_text()
            assert time.monotonic() < deadline, "containerd's CRI service never answered"
            time.sleep(0.05)
        own_api = subprocess.run(
            [CTR, f"--address={socket}", "version"], capture_output=True, check=False
        )
        assert own_api.returncode == 0, own_api.stderr
        # VersionResponse: runtime_name is its field 2, "containerd" for containerd.
        assert b"containerd" in cri.runtime_version(socket)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
