"""What the gitops tests read from Argo CD and the cluster, and how they change git."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from kubernetes import client as k8s

from todo.cluster import argocd, gitserver, kube
from todo.cluster.gitserver import git
from todo.cluster.main import cluster_home

CUSTOM = ("argoproj.io", "v1alpha1", argocd.NAMESPACE)
# How long a check of the version served waits for its one answer: a busy node may take
# more than the delivery loop's quick poll allows, and a check must not read that as none.
ANSWER_SECONDS = 30.0


def app(api: k8s.ApiClient, name: str) -> dict[str, Any]:
    """An Application as the cluster holds it (spec and Argo CD's status)."""
    return cast(
        dict[str, Any],
        k8s.CustomObjectsApi(api).get_namespaced_custom_object(*CUSTOM, "applications", name),
    )


def read(
    api: k8s.ApiClient, kind: str, name: str, namespace: str = "todo", api_version: str = "v1"
) -> dict[str, Any]:
    """One object as the API server returns it, as plain data."""
    resource = kube.dynamic(api).resources.get(api_version=api_version, kind=kind)
    return cast(dict[str, Any], resource.get(name=name, namespace=namespace).to_dict())


def listed(
    api: k8s.ApiClient, kind: str, namespace: str, selector: str = "", api_version: str = "v1"
) -> list[dict[str, Any]]:
    resource = kube.dynamic(api).resources.get(api_version=api_version, kind=kind)
    found = resource.get(namespace=namespace, label_selector=selector).to_dict()
    return cast(list[dict[str, Any]], found["items"])


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def push(api: k8s.ApiClient, repo: Path) -> str:
    """Push HEAD of ``repo`` to the served main (fast-forward); the commit."""
    with gitserver.remote(api) as url:
        gitserver.push(url, repo, "HEAD")
    return git("rev-parse", "HEAD", cwd=repo).strip()


def record(name: str, seconds: dict[str, float], **extra: object) -> None:
    """Print one run's figures and append them to <cluster home>/deliveries.jsonl."""
    entry = {"run": name, "seconds": seconds, "total": round(sum(seconds.values()), 1), **extra}
    print(json.dumps(entry))
    cluster_home().mkdir(parents=True, exist_ok=True)
    with open(cluster_home() / "deliveries.jsonl", "a") as out:
        out.write(json.dumps(entry) + "\n")


def assert_hook_ran_before_the_backend(api: k8s.ApiClient, backend: dict[str, Any]) -> None:
    """The backend Application's last sync: the migrations Job ran as a PreSync hook and
    succeeded, and completed before any pod of the Deployment's newest revision started.

    Pods, not the ReplicaSet: a rollback scales an older ReplicaSet back up (Kubernetes
    reuses it and only bumps its revision), so its creation time says nothing about this
    sync, while its pods are created anew."""
    operation = backend["status"]["operationState"]
    assert operation["phase"] == "Succeeded", operation
    results = operation["syncResult"]["resources"]
    (job,) = (r for r in results if r["kind"] == "Job")
    assert job["hookType"] == "PreSync"
    assert job["hookPhase"] == "Succeeded"
    (deployment,) = (r for r in results if r["kind"] == "Deployment")
    assert deployment["syncPhase"] == "Sync"
    live_job = read(api, "Job", job["name"], job["namespace"], "batch/v1")
    selector = "app.kubernetes.io/name=todo-backend"
    replica_sets = listed(api, "ReplicaSet", deployment["namespace"], selector, "apps/v1")
    newest = max(
        replica_sets,
        key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]),
    )
    template_hash = newest["metadata"]["labels"]["pod-template-hash"]
    pods = listed(
        api, "Pod", deployment["namespace"], f"{selector},pod-template-hash={template_hash}"
    )
    assert pods, f"no pod of the newest revision ({newest['metadata']['name']})"
    finished = live_job["status"].get("completionTime")
    assert finished is not None, live_job["status"]
    started = min(when(pod["metadata"]["creationTimestamp"]) for pod in pods)
    assert when(finished) <= started, (finished, [p["metadata"]["name"] for p in pods])
