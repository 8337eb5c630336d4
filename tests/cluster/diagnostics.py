"""What the cluster's logs say about one reminder, for the message of a failed assertion:
a late reminder on a fresh cluster is otherwise gone with the cluster."""

from __future__ import annotations

from kubernetes import client as k8s

from todo.cluster import install, kube

LINES = 12
WIDTH = 320


def _log(api: k8s.ApiClient, namespace: str, pod: str, container: str, since: int) -> list[str]:
    try:
        return kube.pod_log(api, namespace, pod, container, since_seconds=since).splitlines()
    except k8s.ApiException as exc:
        return [f"(no log: {exc.status} {exc.reason})"]


def _section(title: str, lines: list[str]) -> str:
    kept = [line[:WIDTH] for line in lines[-LINES:]]
    return f"--- {title} ({len(lines)} lines, the last {len(kept)}):\n" + "\n".join(kept)


def reminder_trail(api: k8s.ApiClient, task_id: str, since: int = 180) -> str:
    """The worker's lines about the task and its job, its sidecar's scheduler stream and app
    health, the backend's lines about the task, the last lines of each scheduler."""
    sections = []
    for app, container, wanted in (
        ("todo-worker", "todo-worker", (task_id, "job", "reconcil")),
        ("todo-worker", "daprd", ("Scheduler", "App entered", "subscri", 'level":"error')),
        ("todo-backend", "todo-backend", (task_id,)),
    ):
        for pod in kube.pods(api, install.APP_NAMESPACE, f"app.kubernetes.io/name={app}"):
            lines = _log(api, install.APP_NAMESPACE, kube.name_of(pod), container, since)
            found = [line for line in lines if any(word in line for word in wanted)]
            sections.append(_section(f"{kube.name_of(pod)}/{container}", found))
    for pod in kube.pods(api, install.DAPR_NAMESPACE, "app=dapr-scheduler-server"):
        lines = _log(api, install.DAPR_NAMESPACE, kube.name_of(pod), "dapr-scheduler-server", since)
        sections.append(_section(kube.name_of(pod), lines))
    return "\n".join(sections)
