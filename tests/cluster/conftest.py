"""The cluster suite: the product as `./pants run src/todo/cluster:up` installed it, checked
through the Kubernetes API (the official client) and through the ingress on 127.0.0.1.

It runs only when TODO_TEST_SUITES names `cluster` (`.ci/run` does, after `up`); otherwise
every test skips and says how to run it. The cluster is the one of TODO_CLUSTER_HOME's last
`up` (its kubeconfig is in up.json), or the kubeconfig TODO_CLUSTER_KUBECONFIG names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster.app import Ingress
from kubernetes import client as k8s

from todo.cluster import install, kube
from todo.cluster.main import cluster_home

SUITE = "cluster"


def enabled() -> bool:
    return SUITE in {s.strip() for s in os.environ.get("TODO_TEST_SUITES", "").split(",")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.cluster)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not enabled():
        pytest.skip(
            "the cluster suite needs a cluster: ./pants run src/todo/cluster:up, then "
            "TODO_TEST_SUITES=cluster ./pants test tests/cluster::"
        )


@pytest.fixture(scope="session")
def up_state() -> dict[str, Any]:
    path = cluster_home() / "up.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        pytest.fail(f"no {path}: run ./pants run src/todo/cluster:up first")
    return state


@pytest.fixture(scope="session")
def kubeconfig(up_state: dict[str, Any]) -> Path:
    return Path(os.environ.get("TODO_CLUSTER_KUBECONFIG") or str(up_state["kubeconfig"]))


@pytest.fixture(scope="session")
def api(kubeconfig: Path) -> Iterator[k8s.ApiClient]:
    client = kube.client(kubeconfig)
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def ingress(api: k8s.ApiClient) -> Ingress:
    """The app as users reach it: the ingress controller's NodePort on 127.0.0.1."""
    return Ingress(
        base_url=f"http://127.0.0.1:{install.ingress_port(api)}", host=install.ingress_host(api)
    )
