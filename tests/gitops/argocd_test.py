"""What Argo CD itself reports about the install and the app-of-apps it synced."""

from __future__ import annotations

from typing import Any

from deploy import policies
from gitops.checks import app, listed, read, when
from kubernetes import client as k8s

from todo.cluster import argocd, gitops, gitserver
from todo.cluster.deliver import Target


def test_argo_cd_is_the_pinned_release_built_here(
    api: k8s.ApiClient, session: argocd.ArgoCDApi, target: Target
) -> None:
    assert session.version().startswith(f"v{argocd.ARGOCD_VERSION}")
    for kind, name in argocd.WORKLOADS:
        workload = read(api, kind, name, argocd.NAMESPACE, "apps/v1")
        assert workload["status"].get("readyReplicas") == workload["spec"]["replicas"] >= 1, name
    dex = read(api, "Deployment", "argocd-dex-server", argocd.NAMESPACE, "apps/v1")
    assert dex["spec"]["replicas"] == 0
    for pod in listed(api, "Pod", argocd.NAMESPACE):
        spec = pod["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["image"].startswith(f"{target.registry}/"), container["image"]
            assert container["imagePullPolicy"] == "IfNotPresent", container["name"]
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True", pod["metadata"]["name"]


def test_every_application_is_synced_and_healthy_at_the_served_main(
    api: k8s.ApiClient, session: argocd.ArgoCDApi
) -> None:
    with gitserver.remote(api) as url:
        served = gitserver.served_head(url)
    assert served is not None
    found = gitops.wait_synced(api, session, served, healthy=True, timeout=300)
    assert set(found) == set(gitops.APPS)
    for name in gitops.APPS:
        reported = session.application(name)
        assert reported["status"]["sync"]["status"] == "Synced", name
        assert reported["status"]["health"]["status"] == "Healthy", name
        assert reported["spec"]["source"]["repoURL"] == gitserver.REPO_URL


def test_the_project_cannot_grant_itself_more(api: k8s.ApiClient) -> None:
    """Nothing synced from git manages an AppProject or the root Application: the root
    manages the three child Applications and nothing else."""
    project = read(api, "AppProject", "todo-cloud", argocd.NAMESPACE, "argoproj.io/v1alpha1")
    kinds = {(e["group"], e["kind"]) for e in project["spec"]["namespaceResourceWhitelist"]}
    assert ("argoproj.io", "AppProject") not in kinds
    assert project["spec"]["sourceRepos"] == [gitserver.REPO_URL]
    root = app(api, gitops.ROOT_APP)
    managed = {(r["kind"], r["name"]) for r in root["status"]["resources"]}
    assert managed == {("Application", name) for name in gitops.CHILD_APPS}
    for name in gitops.APPS:
        conditions = app(api, name)["status"].get("conditions") or []
        assert not [c for c in conditions if c["type"] == "OrphanedResourceWarning"], (
            name,
            conditions,
        )


def test_what_argo_cd_holds_passes_the_policy_of_the_rendered_projects(
    api: k8s.ApiClient,
) -> None:
    """tests/deploy's project policy, over the live AppProjects (the emptied `default`
    included) and what each Application reports it manages."""
    projects = listed(api, "AppProject", argocd.NAMESPACE, api_version="argoproj.io/v1alpha1")
    assert {p["metadata"]["name"] for p in projects} >= {"default", "todo-cloud"}
    deployed: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for name in gitops.APPS:
        application = app(api, name)
        managed = [
            {
                "apiVersion": "/".join(p for p in (r.get("group", ""), r["version"]) if p),
                "kind": r["kind"],
                "metadata": {"name": r["name"], "namespace": r.get("namespace", "")},
            }
            for r in application["status"]["resources"]
        ]
        deployed[name] = (application, managed)
    assert policies.project_violations(projects, deployed, argocd_namespace=argocd.NAMESPACE) == []


def test_the_waves_synced_dapr_first(api: k8s.ApiClient) -> None:
    """From Argo CD's records: the root created the wave-0 Applications only after the
    Dapr resources (wave -2) were deployed.

    The migrations hook before the backend's new pods is checked where a sync rolls them
    out (delivery_test): on a cluster an earlier run left, the last sync up reports may
    have changed nothing (sync_failed_earlier), and its hook ran after the pods."""
    dapr = app(api, f"{gitops.ENVIRONMENT}-todo-dapr")
    dapr_deployed = min(when(h["deployedAt"]) for h in dapr["status"]["history"])
    for chart in ("todo-backend", "todo-worker"):
        created = when(app(api, f"{gitops.ENVIRONMENT}-{chart}")["metadata"]["creationTimestamp"])
        assert dapr_deployed <= created, chart
