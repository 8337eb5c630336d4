"""The delivery loop end to end: a commit becomes a new version on the cluster while a
steady stream of requests sees no failure and loses no write; reverting the bump rolls it
back the same way. The figures of each run are printed and appended to
``<cluster home>/deliveries.jsonl``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from gitops.checks import (
    ANSWER_SECONDS,
    app,
    assert_hook_ran_before_the_backend,
    push,
    read,
    record,
)
from gitops.traffic import Traffic, steady_traffic
from kubernetes import client as k8s

from todo.cluster import argocd, gitops
from todo.cluster.deliver import Delivery, Target, deliver, version_served
from todo.cluster.gitserver import git

LABEL = "org.opencontainers.image.description"
DOCKERFILE = Path("src/docker/backend/Dockerfile")


def image_labels(target: Target, image: str) -> dict[str, str]:
    """The labels of ``image`` (<registry>/<repository>:<tag>) as the registry holds it."""
    repository, tag = image.removeprefix(f"{target.registry}/").rsplit(":", 1)
    base = f"http://{target.registry}/v2/{repository}"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = httpx.get(f"{base}/manifests/{tag}", headers={"Accept": accept}, timeout=10).json()
    config = httpx.get(f"{base}/blobs/{manifest['config']['digest']}", timeout=10).json()
    labels: dict[str, str] = config["config"].get("Labels") or {}
    return labels


def backend_image(api: k8s.ApiClient) -> str:
    deployment = read(api, "Deployment", "todo-backend", api_version="apps/v1")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = (c for c in containers if c["name"] == "todo-backend")
    return str(container["image"])


def assert_clean_rollout(traffic: Traffic, old: str, new: str) -> None:
    assert traffic.failures == [], "\n".join(str(f) for f in traffic.failures)
    assert traffic.lost_writes() == []
    # Old answers, then new; while both pods are Ready the two may alternate for a moment.
    assert set(traffic.versions) == {old, new}, traffic.versions
    assert (traffic.versions[0], traffic.versions[-1]) == (old, new), traffic.versions
    assert traffic.requests > 50, "the steady requests hardly ran"


@pytest.fixture(scope="module")
def before(target: Target) -> str:
    served = version_served(target, timeout=ANSWER_SECONDS)
    assert served, "the backend does not answer through the ingress"
    return served


def test_a_commit_reaches_the_cluster_with_no_failed_request(
    api: k8s.ApiClient, session: argocd.ArgoCDApi, target: Target, workdir: Path, before: str
) -> None:
    # The visible change: a build label of the backend image, and the version the API
    # reports (the build stamps the commit).
    dockerfile = workdir / DOCKERFILE
    text = dockerfile.read_text()
    marker = f"delivered by the gitops suite at {int(time.time())}"
    # The label an earlier run of this suite delivered stays in the served main (its revert
    # test reverts the bump only) and, named last, would win over the new one: replace it.
    text = re.sub(rf'\n[ \t]+{re.escape(LABEL)}="[^"]*" \\', "", text)
    text, found = re.subn(
        r'(LABEL org\.opencontainers\.image\.title="todo-backend")',
        rf'\1 \\\n      {LABEL}="{marker}"',
        text,
    )
    assert found == 1, f"no title label in {DOCKERFILE}"
    dockerfile.write_text(text)
    git("commit", "--quiet", "-am", "Backend image: a description label", cwd=workdir)
    with steady_traffic(target.ingress, target.host) as traffic:
        delivery: Delivery = deliver(workdir, target)
        traffic.wait_for_version(delivery.tag)
    assert version_served(target, timeout=ANSWER_SECONDS) == delivery.tag
    assert_clean_rollout(traffic, before, delivery.tag)
    assert image_labels(target, backend_image(api))[LABEL] == marker
    # The ingress answers from the new backend; the worker may still be rolling out.
    gitops.wait_synced(api, session, delivery.revision, healthy=True, timeout=300)
    assert_hook_ran_before_the_backend(api, app(api, f"{gitops.ENVIRONMENT}-todo-backend"))
    record("delivery", delivery.seconds, tag=delivery.tag, requests=traffic.requests)


def test_reverting_the_bump_rolls_back_the_same_way(
    api: k8s.ApiClient,
    session: argocd.ArgoCDApi,
    target: Target,
    workdir: Path,
    before: str,
) -> None:
    assert "deploy: images" in git("log", "-1", "--format=%s", cwd=workdir)
    git("revert", "--no-edit", "HEAD", cwd=workdir)
    with steady_traffic(target.ingress, target.host) as traffic:
        started = time.monotonic()
        revision = push(api, workdir)
        pushed = time.monotonic()
        gitops.wait_synced(api, session, revision, healthy=False)
        synced = time.monotonic()
        gitops.wait_synced(api, session, revision, healthy=True)
        traffic.wait_for_version(before)
        served = time.monotonic()
    assert version_served(target, timeout=ANSWER_SECONDS) == before
    current = traffic.versions[0]
    assert_clean_rollout(traffic, current, before)
    assert_hook_ran_before_the_backend(api, app(api, f"{gitops.ENVIRONMENT}-todo-backend"))
    record(
        "revert",
        {
            "commit": round(pushed - started, 1),
            "sync": round(synced - pushed, 1),
            "rollout": round(served - synced, 1),
        },
        tag=before,
        requests=traffic.requests,
    )
