"""Whether the worker's calls reach the backend: it has reconciled its reminder jobs.

Installed together, the worker can start before the backend. Its first calls through the
sidecars then fail, trip its circuit breaker for the backend (the Resiliency policy
`appCall`), and a reminder that falls due while the breaker is open waits for its job's
retry: the first reminder after an install was recorded 8 s late. The worker reconciles
when it starts, after each failure at its next probe, and every minute after that, and logs
each outcome, so the last outcome in its log says whether its calls get through.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kubernetes import client as k8s

from todo.cluster import kube

WORKER_SELECTOR = "app.kubernetes.io/name=todo-worker"
WORKER_CONTAINER = "todo-worker"
RECONCILED = "reminder jobs reconciled"
FAILED = "reconciling reminder jobs failed"


def last_reconcile_succeeded(log_lines: Iterable[str]) -> bool:
    """Whether the last reconciliation the worker's JSON log tells of succeeded."""
    succeeded = False
    for line in log_lines:
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line).get("msg")
        except (ValueError, AttributeError):
            continue
        if not isinstance(message, str):
            continue
        if message == RECONCILED:
            succeeded = True
        elif message.startswith(FAILED):
            succeeded = False
    return succeeded


def unreconciled_pods(api: k8s.ApiClient, namespace: str) -> list[str]:
    """The Ready worker pods whose last reconciliation failed, or that logged none yet."""
    waiting = []
    for pod in kube.pods(api, namespace, WORKER_SELECTOR):
        if not kube.pod_ready(pod):
            continue
        name = kube.name_of(pod)
        # Since the last two reconciliations at most: one a minute.
        log = kube.pod_log(api, namespace, name, WORKER_CONTAINER, since_seconds=150)
        if not last_reconcile_succeeded(log.splitlines()):
            waiting.append(name)
    return waiting


def wait_reconciled(api: k8s.ApiClient, namespace: str, timeout: float = 180) -> None:
    """Until every Ready worker pod's last reconciliation succeeded."""
    kube.wait_until_none(
        f"the worker in {namespace} reaching the backend (its reminder jobs reconciled)",
        lambda: unreconciled_pods(api, namespace),
        timeout,
        "not reconciled yet",
    )
