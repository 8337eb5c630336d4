"""A pod's own daprd, reached as its app reaches it: its HTTP API on the pod's loopback
(port-forwarded to 127.0.0.1 here), with or without the sidecar API token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from kubernetes import client as k8s

from todo.cluster import install, kube

DAPR_HTTP_PORT = 3500


def api_token(api: k8s.ApiClient) -> str:
    return kube.secret_value(api, install.APP_NAMESPACE, "todo-dapr-api-token", "token")


def first_pod(api: k8s.ApiClient, app: str) -> str:
    pods = [
        p
        for p in kube.pods(api, install.APP_NAMESPACE, f"app.kubernetes.io/name={app}")
        if kube.pod_ready(p)
    ]
    assert pods, f"no ready {app} pod"
    return kube.name_of(pods[0])


@contextmanager
def api(k8s_api: k8s.ApiClient, app: str, *, token: bool = True) -> Iterator[httpx.Client]:
    """An HTTP client of ``app``'s sidecar API (with its API token unless ``token`` is
    False)."""
    pod = first_pod(k8s_api, app)
    headers = {"dapr-api-token": api_token(k8s_api)} if token else {}
    with (
        kube.port_forward(k8s_api, install.APP_NAMESPACE, pod, DAPR_HTTP_PORT) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=15) as client,
    ):
        yield client
