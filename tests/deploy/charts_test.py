"""The charts, rendered with real Helm for every environment, linted and validated offline."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from deploy import policies
from deploy.render import (
    CHARTS,
    PROFILES,
    ROOT,
    Environment,
    Helm,
    Manifest,
    environments,
    kind_name,
    load_yaml,
    parse_manifests,
    profile_values,
    required_cloud_settings,
)
from deploy.validation import validation_errors

ENVIRONMENTS = environments()


def by_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_there_are_the_four_environments() -> None:
    assert ["aks", "gke", "minikube", "oke"] == ENVIRONMENTS


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("chart", CHARTS)
def test_chart_lints_and_renders_valid_with_each_profile(
    helm: Helm, workspace: Path, chart: str, profile: str
) -> None:
    chart_dir = workspace / "charts" / chart
    values = profile_values(workspace, chart, profile)
    settings = required_cloud_settings(chart) if profile == "cloud" else {}
    helm.lint(chart_dir, values=values, set_values=settings)
    docs = helm.template(chart_dir, release=chart, values=values, set_values=settings)
    assert docs
    assert validation_errors(docs) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_renders_schema_valid_manifests(
    rendered: dict[str, Environment], env: str
) -> None:
    assert validation_errors(rendered[env].all_manifests()) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_has_every_part(rendered: dict[str, Environment], env: str) -> None:
    charts = rendered[env].charts
    assert set(charts) == set(CHARTS)
    for chart in ("todo-backend", "todo-worker"):
        kinds = Counter(d["kind"] for d in charts[chart])
        for kind in ("Deployment", "Service", "ServiceAccount", "ConfigMap", "NetworkPolicy"):
            assert kinds[kind] == 1, f"{env}/{chart}: {kind}"
    backend_kinds = {d["kind"] for d in charts["todo-backend"]}
    assert {"Ingress", "Job"} <= backend_kinds
    dapr = charts["todo-dapr"]
    assert set(by_kind(dapr, "Component")) == {
        "pubsub",
        "pubsub-broadcast",
        "statestore",
        "todo-secrets",
    }
    assert len(by_kind(dapr, "Subscription")) == 3
    assert len(by_kind(dapr, "Resiliency")) == 1
    assert len(by_kind(dapr, "Configuration")) == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_policies_hold_in_every_environment(rendered: dict[str, Environment], env: str) -> None:
    docs = rendered[env].all_manifests()
    assert policies.probe_violations(docs) == []
    assert policies.security_violations(docs) == []
    # The pods as they run: with the daprd the sidecar injector adds.
    running = policies.with_injected_sidecars(docs)
    assert policies.security_violations(running, {"daprd": policies.DAPRD_USER}) == []
    assert policies.probe_violations(running) == []
    assert policies.sidecar_identity_violations(docs) == []
    assert policies.dapr_violations(docs, expect_dapr=True) == []
    assert policies.secret_resource_violations(docs) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cloud_environments_scale_and_minikube_stays_small(
    rendered: dict[str, Environment], env: str
) -> None:
    for chart in ("todo-backend", "todo-worker"):
        kinds = {d["kind"] for d in rendered[env].charts[chart]}
        if env == "minikube":
            assert not kinds & {"HorizontalPodAutoscaler", "PodDisruptionBudget"}
        else:
            assert {"HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_appproject_allows_every_rendered_kind(rendered: dict[str, Environment], env: str) -> None:
    environment = rendered[env]
    (project,) = by_kind(environment.apps, "AppProject").values()
    allowed = {
        (entry["group"], entry["kind"])
        for entry in project["spec"]["namespaceResourceWhitelist"]
        + project["spec"]["clusterResourceWhitelist"]
    }
    used = {
        (str(doc["apiVersion"]).rpartition("/")[0], doc["kind"])
        for doc in environment.all_manifests()
    }
    assert used - allowed == set()
    repos = set(project["spec"]["sourceRepos"])
    for app in by_kind(environment.apps, "Application").values():
        assert app["spec"]["project"] == project["metadata"]["name"]
        assert app["spec"]["source"]["repoURL"] in repos


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_sync_waves_put_dapr_then_migrations_before_the_services(
    rendered: dict[str, Environment], env: str
) -> None:
    environment = rendered[env]
    apps = by_kind(environment.apps, "Application")

    def wave(doc: Manifest) -> int:
        return int(doc["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", 0))

    assert wave(apps[f"{env}-todo-dapr"]) == -2
    assert wave(apps[f"{env}-todo-backend"]) == 0
    assert wave(apps[f"{env}-todo-worker"]) == 0
    assert all(wave(doc) == -2 for doc in environment.charts["todo-dapr"])
    (job,) = by_kind(environment.charts["todo-backend"], "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert wave(job) == -1
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["/app/migrate.pex"]
    for app in apps.values():
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"]["selfHeal"] is True
        assert policy["retry"]["limit"] > 0
        if app["spec"]["source"]["path"].startswith("charts/"):
            assert policy["automated"]["prune"] is True


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_migrations_pod_is_not_selected_by_the_service(
    rendered: dict[str, Environment], env: str
) -> None:
    backend = rendered[env].charts["todo-backend"]
    (service,) = by_kind(backend, "Service").values()
    (job,) = by_kind(backend, "Job").values()
    labels = job["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert not all(labels.get(k) == v for k, v in selector.items())


def test_minikube_backend_believes_only_the_pod_networks_forwarded_addresses(
    rendered: dict[str, Environment],
) -> None:
    """Traefik's pods, on the pod network, are the proxies whose X-Forwarded-For the backend
    takes for the client (the cluster suite checks the limits count per client)."""
    for env in ENVIRONMENTS:
        (config,) = by_kind(rendered[env].charts["todo-backend"], "ConfigMap").values()
        expected = "10.244.0.0/16" if env == "minikube" else None
        assert config["data"].get("FORWARDED_ALLOW_IPS") == expected, env


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_dapr_resources_are_scoped_to_the_apps_that_exist(
    rendered: dict[str, Environment], env: str
) -> None:
    environment = rendered[env]
    app_ids = {
        doc["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"]
        for chart in ("todo-backend", "todo-worker")
        for doc in environment.charts[chart]
        if doc["kind"] == "Deployment"
    }
    assert app_ids == {"todo-backend", "todo-worker"}
    dapr = environment.charts["todo-dapr"]
    for doc in dapr:
        if doc["kind"] != "Configuration":
            assert doc.get("scopes"), kind_name(doc)
            assert set(doc["scopes"]) <= app_ids, kind_name(doc)
    components = by_kind(dapr, "Component")
    subscriptions = {s["spec"]["topic"]: s for s in by_kind(dapr, "Subscription").values()}
    expected = {
        "task-events": ("/events/task-events", "task-events.dlq", ["todo-worker"]),
        "reminders": ("/events/reminders", "reminders.dlq", ["todo-worker"]),
        "task-updates": ("/events/task-updates", None, ["todo-backend"]),
    }
    for topic, (route, dlq, scopes) in expected.items():
        spec = subscriptions[topic]["spec"]
        assert spec["routes"]["default"] == route
        assert spec.get("deadLetterTopic") == dlq
        assert subscriptions[topic]["scopes"] == scopes
        assert spec["pubsubname"] in components
    assert components["statestore"]["spec"]["type"] == "state.postgresql"
    assert components["statestore"]["spec"]["version"] == "v2"
    assert components["todo-secrets"]["spec"]["type"] == "secretstores.kubernetes"
    (config,) = by_kind(dapr, "Configuration").values()
    configs = {
        doc["spec"]["template"]["metadata"]["annotations"]["dapr.io/config"]
        for chart in ("todo-backend", "todo-worker")
        for doc in environment.charts[chart]
        if doc["kind"] == "Deployment"
    }
    assert configs == {config["metadata"]["name"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_resiliency_targets_name_defined_policies(
    rendered: dict[str, Environment], env: str
) -> None:
    dapr = rendered[env].charts["todo-dapr"]
    (resiliency,) = by_kind(dapr, "Resiliency").values()
    policies_ = resiliency["spec"]["policies"]
    kinds = {"timeout": "timeouts", "retry": "retries", "circuitBreaker": "circuitBreakers"}
    targets = [*resiliency["spec"]["targets"]["apps"].values()]
    for component in resiliency["spec"]["targets"]["components"].values():
        targets += component.values()
    for target in targets:
        for key, name in target.items():
            assert name in policies_[kinds[key]], f"{key} {name} is not defined"
    for retry in policies_["retries"].values():
        assert retry["policy"] == "exponential"
    components = set(by_kind(dapr, "Component"))
    assert set(resiliency["spec"]["targets"]["components"]) <= components


def test_local_values_render_files_for_a_local_daprd(helm: Helm, workspace: Path) -> None:
    chart = workspace / "charts" / "todo-dapr"
    docs = helm.template(chart, release="todo", values=[chart / "values-local.yaml"])
    assert validation_errors(docs) == []
    components = by_kind(docs, "Component")
    store = components["todo-secrets"]
    assert store["spec"]["type"] == "secretstores.local.file"
    for doc in docs:
        assert "namespace" not in doc["metadata"]
        assert "argocd.argoproj.io/sync-wave" not in doc["metadata"].get("annotations", {})
    for name, component in components.items():
        if name != "todo-secrets":
            assert component["auth"] == {"secretStore": "todo-secrets"}
    brokers = {
        item["value"]
        for c in components.values()
        for item in c["spec"]["metadata"]
        if item["name"] == "brokers"
    }
    assert brokers == {"127.0.0.1:9092"}
    (config,) = by_kind(docs, "Configuration").values()
    assert "accessControl" not in config["spec"]


def test_local_env_secret_store_renders_too(helm: Helm, workspace: Path) -> None:
    chart = workspace / "charts" / "todo-dapr"
    docs = helm.template(
        chart,
        release="todo",
        values=[chart / "values-local.yaml"],
        set_values={"secretStore.type": "secretstores.local.env"},
    )
    assert by_kind(docs, "Component")["todo-secrets"]["spec"]["type"] == "secretstores.local.env"
    assert validation_errors(docs) == []


def test_cloud_pubsub_uses_sasl_over_tls_from_a_secret(helm: Helm, workspace: Path) -> None:
    chart = workspace / "charts" / "todo-dapr"
    docs = helm.template(
        chart,
        release="todo-dapr",
        values=[chart / "values-cloud.yaml"],
        set_values=required_cloud_settings("todo-dapr"),
    )
    items = {i["name"]: i for i in by_kind(docs, "Component")["pubsub"]["spec"]["metadata"]}
    assert items["authType"]["value"] == "password"
    assert items["disableTls"]["value"] == "false"
    assert items["saslPassword"]["secretKeyRef"] == {"name": "todo-kafka", "key": "password"}


def test_image_tag_defaults_to_the_app_version(helm: Helm, workspace: Path) -> None:
    for chart in ("todo-backend", "todo-worker"):
        chart_dir = workspace / "charts" / chart
        app_version = load_yaml(chart_dir / "Chart.yaml")["appVersion"]
        docs = helm.template(
            chart_dir, release=chart, values=profile_values(workspace, chart, "minikube")
        )
        (deployment,) = by_kind(docs, "Deployment").values()
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"ghcr.io/todo-cloud/{chart}:{app_version}"
        labels = deployment["metadata"]["labels"]
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ):
            assert labels.get(key), key


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bootstrap_file_is_what_the_apps_chart_renders(
    helm: Helm, workspace: Path, env: str
) -> None:
    env_dir = workspace / "gitops" / "envs" / env
    expected = parse_manifests(
        helm.template_text(
            workspace / "gitops" / "apps",
            release="todo-cloud",
            namespace="argocd",
            values=[env_dir / "apps.yaml", env_dir / "images.yaml"],
            show_only=["templates/appproject.yaml", "templates/root-application.yaml"],
        )
    )
    actual = parse_manifests((ROOT / "gitops" / "bootstrap" / f"{env}.yaml").read_text())
    assert (
        actual == expected
    ), f"gitops/bootstrap/{env}.yaml is stale: run build-support/helm/render-bootstrap.sh"
    assert validation_errors(actual) == []
