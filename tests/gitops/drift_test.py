"""Argo CD holds the cluster to git: a hand edit of live objects is undone (self-heal), and
a commit that breaks a chart value fails its sync with a clear status while the running
version keeps serving."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from gitops.checks import ANSWER_SECONDS, push, read, record
from gitops.traffic import steady_traffic
from kubernetes import client as k8s

from todo.cluster import argocd, gitops, kube
from todo.cluster.deliver import Target, version_served
from todo.cluster.gitserver import git

NAMESPACE = "todo"
BACKEND_APP = f"{gitops.ENVIRONMENT}-todo-backend"
# A value the API server refuses: the Deployment cannot be applied.
BROKEN_VALUE = 'resources:\n  requests:\n    cpu: "a lot"\n'


def live_backend(api: k8s.ApiClient) -> tuple[str, int, int]:
    """The backend's log level (its ConfigMap), replicas and generation (its Deployment)."""
    config = read(api, "ConfigMap", "todo-backend", NAMESPACE)
    deployment = read(api, "Deployment", "todo-backend", NAMESPACE, "apps/v1")
    return (
        str(config["data"]["TODO_LOG_LEVEL"]),
        int(deployment["spec"]["replicas"]),
        int(deployment["metadata"]["generation"]),
    )


def last_sync(session: argocd.ArgoCDApi) -> dict[str, Any]:
    """The backend Application's last sync operation ({} if none)."""
    return dict(session.application(BACKEND_APP)["status"].get("operationState") or {})


def sync_finished(operation: dict[str, Any], earlier_start: str | None) -> bool:
    """`operation` is a sync other than the one started at `earlier_start`, and has ended."""
    return operation.get("startedAt") != earlier_start and operation.get("phase") in (
        "Succeeded",
        "Failed",
        "Error",
    )


def test_a_hand_edit_of_live_objects_is_undone(
    api: k8s.ApiClient, session: argocd.ArgoCDApi
) -> None:
    level, replicas, _ = live_backend(api)
    earlier_sync = last_sync(session).get("startedAt")
    started = time.monotonic()
    other = "ERROR" if level != "ERROR" else "INFO"
    k8s.CoreV1Api(api).patch_namespaced_config_map(
        "todo-backend", NAMESPACE, {"data": {"TODO_LOG_LEVEL": other}}
    )
    k8s.AppsV1Api(api).patch_namespaced_deployment(
        "todo-backend", NAMESPACE, {"spec": {"replicas": replicas + 1}}
    )
    assert live_backend(api)[:2] == (other, replicas + 1)
    kube.wait_until(
        "Argo CD restored the ConfigMap and the replicas",
        lambda: live_backend(api)[:2] == (level, replicas),
        180,
        lambda: str(gitops.applications(api, [BACKEND_APP])[BACKEND_APP]),
    )
    healed = time.monotonic() - started
    # The self-heal's sync restores the objects before it ends (it still waits on their
    # health): judge it once it has finished.
    kube.wait_until(
        "the self-heal's sync finished",
        lambda: sync_finished(last_sync(session), earlier_sync),
        180,
        lambda: str(last_sync(session)),
    )
    operation = last_sync(session)
    assert operation["operation"]["initiatedBy"]["automated"] is True
    assert operation["phase"] == "Succeeded"
    # The comparison that follows the self-heal's sync can lag its end by a reconcile.
    kube.wait_until(
        "Argo CD reports the backend Synced again",
        lambda: gitops.applications(api, [BACKEND_APP])[BACKEND_APP].sync == "Synced",
        120,
        lambda: str(gitops.applications(api, [BACKEND_APP])[BACKEND_APP]),
    )
    kube.wait_rollout(api, NAMESPACE, "Deployment", "todo-backend")
    record("self-heal", {"heal": round(healed, 1)})


def test_a_broken_chart_value_fails_the_sync_and_the_running_version_stays(
    api: k8s.ApiClient, session: argocd.ArgoCDApi, target: Target, workdir: Path
) -> None:
    before = version_served(target, timeout=ANSWER_SECONDS)
    assert before, "the backend does not answer through the ingress"
    values = workdir / "gitops" / "envs" / gitops.ENVIRONMENT / "backend.yaml"
    good = values.read_text()
    values.write_text(good + BROKEN_VALUE)
    git("commit", "--quiet", "-am", "Backend: a CPU request the API server refuses", cwd=workdir)
    generation = live_backend(api)[2]
    try:
        reported = check_the_broken_sync(api, session, target, workdir, before, generation)
    except BaseException:
        # A failed check must not leave the served main broken for the tests after it.
        git("revert", "--no-edit", "HEAD", cwd=workdir)
        fixed = push(api, workdir)
        # Best effort: the check's own failure is the one to report.
        with contextlib.suppress(Exception):
            gitops.wait_synced(api, session, fixed, healthy=True)
            gitops.sync_failed_earlier(api, session, fixed)
        raise
    # The fix is a revert, synced like any commit.
    git("revert", "--no-edit", "HEAD", cwd=workdir)
    fixed = push(api, workdir)
    gitops.wait_synced(api, session, fixed, healthy=True)
    assert values.read_text() == good
    assert version_served(target, timeout=ANSWER_SECONDS) == before
    # Git is back to what runs, so Argo CD starts no sync and keeps reporting the failed
    # one; the operator's sync (what up does too) leaves it reporting what runs.
    assert gitops.failed_earlier(gitops.applications(api).values(), fixed) == [BACKEND_APP]
    assert gitops.sync_failed_earlier(api, session, fixed) == [BACKEND_APP]
    backend = gitops.applications(api, [BACKEND_APP])[BACKEND_APP]
    assert (backend.phase, backend.operation_revision) == ("Succeeded", fixed), backend
    assert live_backend(api)[2] == generation
    assert version_served(target, timeout=ANSWER_SECONDS) == before
    record("broken sync reported", {"failed": round(reported, 1)})


def check_the_broken_sync(
    api: k8s.ApiClient,
    session: argocd.ArgoCDApi,
    target: Target,
    workdir: Path,
    before: str,
    generation: int,
) -> float:
    """Pushes the broken commit, waits until its sync fails, checks its status and that the
    running version stayed; the seconds Argo CD took to report the failure."""
    with steady_traffic(target.ingress, target.host) as traffic:
        broken = push(api, workdir)
        started = time.monotonic()
        deadline = started + 300
        while True:
            gitops.refresh(session, [gitops.ROOT_APP, BACKEND_APP])
            status = gitops.applications(api, [BACKEND_APP])[BACKEND_APP]
            if status.phase in ("Failed", "Error") and status.operation_revision == broken:
                break
            assert time.monotonic() < deadline, f"the broken sync never failed: {status}"
            time.sleep(2)
        reported = time.monotonic() - started
        assert version_served(target, timeout=ANSWER_SECONDS) == before
    # The status says what is wrong and where. Argo CD cuts the API server's message at
    # the quoted pattern a quantity must match, so the refused value is not in it: what
    # remains names the failed apply, the invalid value and, per resource, the Deployment.
    assert "one or more objects failed to apply" in status.message, status
    assert "Invalid value" in status.message, status
    operation = session.application(BACKEND_APP)["status"]["operationState"]
    refused = [r for r in operation["syncResult"]["resources"] if r.get("status") == "SyncFailed"]
    assert [(r["kind"], r["name"]) for r in refused] == [("Deployment", "todo-backend")], operation
    assert all("Invalid value" in r["message"] for r in refused), operation
    assert status.sync == "OutOfSync"
    # The running version stayed: no failed request, the same Deployment, the same answer.
    assert traffic.failures == [], "\n".join(str(f) for f in traffic.failures)
    assert traffic.versions == [before]
    assert live_backend(api)[2] == generation
    return reported
