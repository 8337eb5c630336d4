"""The git server's manifests: what the cluster may do with the repository."""

from __future__ import annotations

from typing import Any

from todo.cluster import gitserver

IMAGE = "127.0.0.1:5000/todo-cluster/git-server:1-abc"


def by_kind(kind: str) -> dict[str, Any]:
    (doc,) = (d for d in gitserver.manifests(IMAGE) if d["kind"] == kind)
    return doc


def daemon(name: str) -> dict[str, Any]:
    containers = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    (found,) = (c for c in containers if c["name"] == name)
    return dict(found)


def test_every_container_runs_the_image_in_the_namespace_of_the_url() -> None:
    docs = gitserver.manifests(IMAGE)
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == {
        gitserver.NAMESPACE
    }
    spec = by_kind("Deployment")["spec"]["template"]["spec"]
    assert {c["image"] for c in spec["containers"] + spec["initContainers"]} == {IMAGE}
    service = by_kind("Service")
    assert (
        f"git://{service['metadata']['name']}.{gitserver.NAMESPACE}.svc.cluster.local/"
        f"{gitserver.REPOSITORY}"
    ) == gitserver.REPO_URL


def test_the_cluster_reads_and_only_the_loopback_daemon_receives() -> None:
    serve, receive = daemon("serve"), daemon("receive")
    assert "--enable=receive-pack" not in serve["args"]
    assert [p["containerPort"] for p in serve["ports"]] == [9418]
    assert "--enable=receive-pack" in receive["args"]
    assert "--listen=127.0.0.1" in receive["args"]
    assert f"--port={gitserver.RECEIVE_PORT}" in receive["args"]
    assert "ports" not in receive
    assert [p["port"] for p in by_kind("Service")["spec"]["ports"]] == [9418]


def test_only_argo_cds_repo_server_may_fetch() -> None:
    (rule,) = by_kind("NetworkPolicy")["spec"]["ingress"]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "argocd"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "argocd-repo-server"}
    assert rule["ports"] == [{"port": 9418}]


def test_the_pod_passes_the_restricted_standard() -> None:
    spec = by_kind("Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"] + spec["initContainers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
