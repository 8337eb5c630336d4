"""What the cluster really runs: our pods Ready with daprd injected, the Dapr control plane
with mTLS, the chart's Dapr resources loaded by the sidecars, the security policies on the
pods as they run (sidecars included), and the migrations hook before the backend."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from cluster import sidecars
from deploy import policies
from kubernetes import client as k8s

from todo.cluster import install, kube

APPS = ("todo-backend", "todo-worker")


def app_pods(api: k8s.ApiClient, app: str) -> list[k8s.V1Pod]:
    return kube.pods(api, install.APP_NAMESPACE, f"app.kubernetes.io/name={app}")


def as_manifest(api: k8s.ApiClient, pod: k8s.V1Pod) -> dict[str, Any]:
    """The live pod as a manifest dict (camelCase keys), for the offline policies."""
    manifest: dict[str, Any] = api.sanitize_for_serialization(pod)  # type: ignore[no-untyped-call]
    return manifest


@pytest.mark.parametrize("app", APPS)
def test_every_pod_is_ready_with_daprd_injected(api: k8s.ApiClient, app: str) -> None:
    found = app_pods(api, app)
    assert found, f"no {app} pod"
    for pod in found:
        assert kube.pod_ready(pod), kube.describe_pods(api, install.APP_NAMESPACE)
        assert pod.spec is not None
        names = [c.name for c in pod.spec.containers]
        assert names == [app, "daprd"], names
        daprd = next(c for c in pod.spec.containers if c.name == "daprd")
        assert daprd.image
        assert "/dapr/daprd:" in daprd.image
        statuses = {
            s.name: s for s in (pod.status.container_statuses if pod.status else None) or []
        }
        assert statuses["daprd"].ready
        assert statuses[app].ready


def test_the_dapr_control_plane_runs(api: k8s.ApiClient) -> None:
    found = kube.pods(api, install.DAPR_NAMESPACE)
    by_app: dict[str, list[k8s.V1Pod]] = {}
    for pod in found:
        labels = (pod.metadata.labels if pod.metadata else None) or {}
        by_app.setdefault(labels.get("app", "?"), []).append(pod)
        assert kube.pod_ready(pod), kube.describe_pods(api, install.DAPR_NAMESPACE)
    for component in (
        "dapr-operator",
        "dapr-placement-server",
        "dapr-sentry",
        "dapr-sidecar-injector",
        "dapr-scheduler-server",
    ):
        assert component in by_app, sorted(by_app)
    assert len(by_app["dapr-scheduler-server"]) == 3


def _sentry_metrics(api: k8s.ApiClient) -> httpx.Response:
    (sentry,) = kube.pods(api, install.DAPR_NAMESPACE, "app=dapr-sentry")
    with kube.port_forward(api, install.DAPR_NAMESPACE, kube.name_of(sentry), 9090) as port:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)


def sign_successes(status: int, body: str) -> list[float]:
    """Sentry's count of certificates signed, from its /metrics answer. Dapr 1.16's sentry
    registers its collectors again each time it reloads changed issuer credentials (it
    does, seconds after a fresh install writes them), and from then on its /metrics
    answers 500, listing every metric it collected twice with its value."""
    if status == 200:
        pattern = r"^dapr_sentry_cert_sign_success_total(?:\{[^}]*\})? (\S+)$"
    else:
        assert "was collected before with the same name" in body, (status, body[:500])
        pattern = (
            r'collected metric "dapr_sentry_cert_sign_success_total" \{ counter:\{value:(\S+?)\}\}'
        )
    return [float(value) for value in re.findall(pattern, body, re.M)]


def test_sentrys_count_is_read_from_either_answer_of_its_metrics() -> None:
    served = (
        "# TYPE dapr_sentry_cert_sign_success_total counter\n"
        "dapr_sentry_cert_sign_success_total 2\n"
    )
    assert sign_successes(200, served) == [2.0]
    failed = (
        "An error has occurred while serving metrics:\n\n4 error(s) occurred:\n"
        '* collected metric "dapr_sentry_cert_sign_success_total" { counter:{value:12}} was '
        "collected before with the same name and label values\n"
    )
    assert sign_successes(500, failed) == [12.0]
    with pytest.raises(AssertionError):
        sign_successes(500, "upstream connect error")


def test_mtls_is_on_and_sentry_signed_the_sidecars(api: k8s.ApiClient) -> None:
    system = k8s.CustomObjectsApi(api).get_namespaced_custom_object(
        "dapr.io", "v1alpha1", install.DAPR_NAMESPACE, "configurations", "daprsystem"
    )
    assert isinstance(system, dict)
    assert system["spec"]["mtls"]["enabled"] is True
    for app in APPS:
        for pod in app_pods(api, app):
            assert pod.spec is not None
            daprd = next(c for c in pod.spec.containers if c.name == "daprd")
            args = " ".join([*(daprd.command or []), *(daprd.args or [])])
            assert "--enable-mtls" in args
            log = k8s.CoreV1Api(api).read_namespaced_pod_log(
                kube.name_of(pod), install.APP_NAMESPACE, container="daprd"
            )
            assert "mTLS is disabled" not in log
            # The sidecar fetched its workload identity (its certificate) from sentry.
            assert "Security is initialized successfully" in log
    metrics = _sentry_metrics(api)
    signed = sign_successes(metrics.status_code, metrics.text)
    assert signed, metrics.text[:500]
    assert sum(signed) >= len(APPS), signed


@pytest.fixture(scope="module")
def metadata(api: k8s.ApiClient) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for app in APPS:
        with sidecars.api(api, app) as sidecar:
            response = sidecar.get("/v1.0/metadata")
            assert response.status_code == 200, response.text
            found[app] = response.json()
    return found


def test_the_sidecars_loaded_the_charts_components(metadata: dict[str, dict[str, Any]]) -> None:
    def components(app: str) -> dict[str, str]:
        return {c["name"]: c["type"] for c in metadata[app].get("components", [])}

    assert metadata["todo-backend"]["runtimeVersion"] == "1.16.0"
    # Scoped as the chart says: the worker keeps idempotency records, the backend fans out.
    assert {
        "pubsub": "pubsub.kafka",
        "pubsub-broadcast": "pubsub.kafka",
        "todo-secrets": "secretstores.kubernetes",
    }.items() <= components("todo-backend").items()
    assert "statestore" not in components("todo-backend")
    assert {
        "pubsub": "pubsub.kafka",
        "statestore": "state.postgresql",
        "todo-secrets": "secretstores.kubernetes",
    }.items() <= components("todo-worker").items()
    assert "pubsub-broadcast" not in components("todo-worker")


def test_the_sidecars_loaded_the_charts_subscriptions(metadata: dict[str, dict[str, Any]]) -> None:
    def subscriptions(app: str) -> dict[str, dict[str, Any]]:
        return {s["topic"]: s for s in metadata[app].get("subscriptions", [])}

    worker = subscriptions("todo-worker")
    assert worker["task-events"]["deadLetterTopic"] == "task-events.dlq"
    assert worker["task-events"]["rules"][0]["path"] == "/events/task-events"
    assert worker["reminders"]["deadLetterTopic"] == "reminders.dlq"
    assert set(worker) == {"task-events", "reminders"}
    backend = subscriptions("todo-backend")
    assert set(backend) == {"task-updates"}
    assert backend["task-updates"]["pubsubname"] == "pubsub-broadcast"


def test_the_sidecars_reach_the_in_cluster_scheduler(metadata: dict[str, dict[str, Any]]) -> None:
    for app in APPS:
        connected = metadata[app].get("scheduler", {}).get("connected_addresses", [])
        assert len(connected) == 3, metadata[app].get("scheduler")


@pytest.mark.parametrize("app", APPS)
def test_the_sidecars_loaded_the_resiliency_and_the_configuration(
    api: k8s.ApiClient, app: str
) -> None:
    (pod, *_) = app_pods(api, app)
    log = k8s.CoreV1Api(api).read_namespaced_pod_log(
        kube.name_of(pod), install.APP_NAMESPACE, container="daprd"
    )
    assert "Loading Resiliency configuration: todo-resiliency" in log
    assert pod.metadata is not None
    assert (pod.metadata.annotations or {})["dapr.io/config"] == "todo-config"
    # The Configuration's access control and secret scopes act: hardening_test.py.


@pytest.mark.parametrize("app", APPS)
def test_the_security_policies_hold_on_the_running_pods(api: k8s.ApiClient, app: str) -> None:
    """The offline policies (tests/deploy/policies.py), on the pods the cluster runs: our
    container and the sidecar the injector added."""
    for pod in app_pods(api, app):
        live = as_manifest(api, pod)
        assert policies.security_violations([live], {"daprd": policies.DAPRD_USER}) == []
        assert (
            policies.probe_violations(
                [{**live, "kind": "Deployment", "spec": {"template": {"spec": live["spec"]}}}]
            )
            == []
        )
        daprd = next(c for c in live["spec"]["containers"] if c["name"] == "daprd")
        # The offline model of the injector's sidecar is what the injector really adds.
        model = policies.injected_daprd(live["metadata"].get("annotations", {}))
        for key, value in model["securityContext"].items():
            assert daprd["securityContext"].get(key) == value, (key, daprd["securityContext"])


@pytest.mark.parametrize("app", APPS)
def test_the_sidecar_runs_as_65532_and_ours_as_10001(api: k8s.ApiClient, app: str) -> None:
    for pod in app_pods(api, app):
        for container, expected in ((app, "10001"), ("daprd", str(policies.DAPRD_USER))):
            if container == "daprd":
                # daprd's image has no shell: its own status page says who it runs as.
                log = k8s.CoreV1Api(api).read_namespaced_pod_log(
                    kube.name_of(pod), install.APP_NAMESPACE, container="daprd"
                )
                assert f"Running in Kubernetes environment as user {expected}:{expected}" in log
                continue
            code, out, err = kube.exec_in(
                api, install.APP_NAMESPACE, kube.name_of(pod), ["id", "-u"], container=container
            )
            assert code == 0, err
            assert out.strip() == expected


def test_the_migrations_job_ran_before_the_backend_started(api: k8s.ApiClient) -> None:
    jobs = k8s.BatchV1Api(api).list_namespaced_job(install.APP_NAMESPACE).items
    migrations = [j for j in jobs if kube.name_of(j).endswith("-migrate")]
    assert migrations, "no migrations Job (a pre-install/pre-upgrade hook)"
    job = migrations[0]
    assert job.status is not None
    assert job.status.succeeded == 1
    finished = job.status.completion_time
    assert finished is not None
    for pod in app_pods(api, "todo-backend"):
        status = next(
            s
            for s in (pod.status.container_statuses if pod.status else None) or []
            if s.name == "todo-backend"
        )
        assert status.state is not None
        assert status.state.running is not None
        started = status.state.running.started_at
        assert started is not None
        # Kubernetes keeps these to the second: not before is what it can show.
        assert started >= finished, (started, finished)
