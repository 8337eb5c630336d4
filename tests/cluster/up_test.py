"""`up` against an existing kubeconfig, tried on the local cluster reached as an existing one:
it builds nothing of Kubernetes, finds everything installed, and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from todo.cluster import install, kube, main

KINDS = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("batch/v1", "Job"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress"),
    ("dapr.io/v1alpha1", "Component"),
    ("dapr.io/v1alpha1", "Configuration"),
    ("dapr.io/v1alpha1", "Resiliency"),
    ("dapr.io/v2alpha1", "Subscription"),
)


def snapshot(api: k8s.ApiClient) -> dict[str, Any]:
    """What a change to the installation would change: each object's spec generation (or,
    for kinds without one, its resourceVersion; an Ingress's status is the controller's), the
    Helm releases' revisions, and which pods run (a restart makes new ones)."""
    resources = kube.dynamic(api).resources
    seen: dict[str, Any] = {}
    for namespace in install.NAMESPACES:
        for api_version, kind in KINDS:
            resource = resources.get(api_version=api_version, kind=kind)
            for obj in resource.get(namespace=namespace).items:
                meta = obj.metadata
                marker = (
                    meta.generation
                    if kind in ("Deployment", "StatefulSet", "Ingress")
                    else meta.resourceVersion
                )
                seen[f"{namespace}/{kind}/{meta.name}"] = marker
        for pod in kube.pods(api, namespace):
            if kube.name_of(pod).startswith("todo-test-"):
                continue  # the suite's own probes
            seen[f"{namespace}/Pod/{kube.name_of(pod)}"] = (
                pod.metadata.uid if pod.metadata else None
            )
    return seen


def test_up_on_the_cluster_as_an_existing_one_changes_nothing(
    api: k8s.ApiClient, kubeconfig: Path
) -> None:
    before = snapshot(api)
    assert any("/Helm" in key or "sh.helm.release" in key for key in before), "no Helm release"
    code = main.up(["--existing", "--kubeconfig", str(kubeconfig), "--reuse-images"])
    assert code == 0
    after = snapshot(api)
    changed = {
        key: (before.get(key), after.get(key))
        for key in before.keys() | after.keys()
        if before.get(key) != after.get(key)
    }
    assert changed == {}, changed


def test_an_existing_cluster_needs_nothing_of_kubernetes_built() -> None:
    existing = main.Cluster(main.Options(existing=True)).tools()
    names = {tool.name for tool in existing}
    assert "kubernetes" not in names
    assert "coredns" not in names
    assert "pause" not in names
    assert {"helm", "dapr-programs", "dapr-chart", "traefik", "registry"} <= names
