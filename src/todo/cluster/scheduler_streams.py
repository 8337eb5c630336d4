"""Whether each sidecar of ours takes job triggers: its stream to the Dapr scheduler.

A pod can be Ready without that stream: Kubernetes asks the app, while daprd opens the
stream only once it holds the app healthy (and again after each reconnection), and a
trigger that falls due meanwhile waits in the scheduler until a stream of that app id
connects. So `up` and `deliver` wait for the streams too before they call the product
running. Dapr 1.16's metadata API tells only which scheduler addresses the sidecar has
clients for, made before the stream, so the sidecar's own log is what says it:
``Scheduler stream connected`` and ``Scheduler stream disconnected``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from kubernetes import client as k8s

from todo.cluster import kube

SIDECAR_CONTAINER = "daprd"
CONNECTED = "Scheduler stream connected"
DISCONNECTED = "Scheduler stream disconnected"
# A sidecar connects its stream within seconds of starting: one running this long whose
# current log says nothing of its stream had it logged in a file rotated since.
LOG_MEMORY = timedelta(minutes=10)


def _message(line: str) -> str:
    """The message of one daprd log line, JSON (``dapr.io/log-as-json``) or text."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return line
        if isinstance(record, dict):
            return str(record.get("msg", ""))
    return line


def stream_state(log_lines: Iterable[str]) -> bool | None:
    """The last word of a sidecar's log on its scheduler stream: connected (True) or not
    (False); None when the log says nothing of it."""
    connected = None
    for line in log_lines:
        message = _message(line)
        if DISCONNECTED in message:
            connected = False
        elif CONNECTED in message:
            connected = True
    return connected


def waits_for(state: bool | None, running_since: datetime | None, now: datetime) -> bool:
    """Whether to wait for a sidecar whose log says ``state`` of its stream. The kubelet
    rotates container logs, so a sidecar running for long may have logged its stream in a
    rotated file only: its silence is not waited for, a disconnection is."""
    if state is True:
        return False
    if state is None and running_since is not None:
        return now - running_since <= LOG_MEMORY
    return True


def _running_since(pod: k8s.V1Pod) -> datetime | None:
    for status in (pod.status.container_statuses if pod.status else None) or []:
        if status.name == SIDECAR_CONTAINER and status.state and status.state.running:
            started: datetime | None = status.state.running.started_at
            return started
    return None


def unconnected_pods(api: k8s.ApiClient, namespace: str) -> list[str]:
    """The pods of ``namespace`` with a running sidecar whose scheduler stream is not
    connected (a pod without a sidecar takes no triggers and is not counted)."""
    waiting = []
    for pod in kube.pods(api, namespace):
        if not kube.pod_ready(pod):
            continue
        containers = pod.spec.containers if pod.spec else []
        if not any(c.name == SIDECAR_CONTAINER for c in containers):
            continue
        name = kube.name_of(pod)
        lines = kube.pod_log(api, namespace, name, SIDECAR_CONTAINER).splitlines()
        if waits_for(stream_state(lines), _running_since(pod), datetime.now(UTC)):
            waiting.append(name)
    return waiting


def wait_connected(api: k8s.ApiClient, namespace: str, timeout: float = 120) -> None:
    """Until every Ready pod with a sidecar in ``namespace`` has its scheduler stream."""
    kube.wait_until_none(
        f"the sidecars in {namespace} connected to the Dapr scheduler",
        lambda: unconnected_pods(api, namespace),
        timeout,
        "no stream yet in",
    )
