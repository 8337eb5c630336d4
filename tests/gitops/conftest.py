"""The gitops suite runs against the cluster ``up`` made, with Argo CD on it; it runs only
when TODO_TEST_SUITES lists ``gitops`` (every test skips otherwise, saying how to run it).

The tests change the served repository through a clone of it (``workdir``), as a developer
and CD would, and put it back: each test leaves main serving the version it found."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from todo.cluster import argocd, gitserver, kube
from todo.cluster.deliver import Target
from todo.cluster.gitserver import git
from todo.cluster.main import delivery_target, saved_state

SUITE = "gitops"
HOW = (
    f"the {SUITE} suite needs the cluster with Argo CD: ./pants run src/todo/cluster:up, "
    f"then TODO_TEST_SUITES={SUITE} ./pants test tests/gitops::"
)


def enabled() -> bool:
    return SUITE in {s.strip() for s in os.environ.get("TODO_TEST_SUITES", "").split(",")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if enabled():
        return
    for item in items:
        item.add_marker(pytest.mark.skip(reason=HOW))


@pytest.fixture(scope="session")
def api() -> Iterator[k8s.ApiClient]:
    saved = saved_state()
    if not saved:
        pytest.fail("no cluster: run ./pants run src/todo/cluster:up first")
    client = kube.client(Path(str(saved["kubeconfig"])))
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def workdir(api: k8s.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the served repository: where the tests commit (and build from)."""
    dest = tmp_path_factory.mktemp("served") / "repo"
    with gitserver.remote(api) as url:
        git("clone", "--quiet", "--branch", gitserver.BRANCH, url, str(dest))
    git("config", "user.name", "gitops suite", cwd=dest)
    git("config", "user.email", "gitops-suite@localhost", cwd=dest)
    return dest


@pytest.fixture(scope="session")
def target(workdir: Path) -> Iterator[Target]:
    with delivery_target(workdir) as found:
        yield found


@pytest.fixture(scope="session")
def session(api: k8s.ApiClient) -> Iterator[argocd.ArgoCDApi]:
    with argocd.api_session(api) as signed_in:
        yield signed_in
