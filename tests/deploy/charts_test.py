"""The charts, rendered with real Helm for every environment, linted and validated offline."""

from __future__ import annotations

import os
import subprocess
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
    child_applications,
    environments,
    kind_name,
    load_yaml,
    parse_manifests,
    profile_values,
    render_application,
    render_apps,
    required_cloud_settings,
)
from deploy.validation import validation_errors

ENVIRONMENTS = environments()
PROJECT = "todo-cloud"
ROOT_PROJECT = "todo-cloud-apps"


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
def test_each_application_deploys_only_what_its_project_allows(
    rendered: dict[str, Environment], env: str
) -> None:
    environment = rendered[env]
    projects = by_kind(environment.projects(), "AppProject")
    deployed = environment.deployed()
    assert policies.project_violations(projects.values(), deployed, argocd_namespace="argocd") == []
    assert {app["spec"]["project"] for app, _ in deployed.values()} == {PROJECT, ROOT_PROJECT}
    for app, _ in deployed.values():
        repos = projects[app["spec"]["project"]]["spec"]["sourceRepos"]
        assert [app["spec"]["source"]["repoURL"]] == repos


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
    expected = render_apps(helm, workspace, env, bootstrap=True)
    actual = parse_manifests((ROOT / "gitops" / "bootstrap" / f"{env}.yaml").read_text())
    assert (
        actual == expected
    ), f"gitops/bootstrap/{env}.yaml is stale: run build-support/helm/render-bootstrap.sh"
    assert validation_errors(actual) == []
    assert sorted(kind_name(d) for d in actual) == [
        "AppProject/default",
        f"AppProject/{PROJECT}",
        f"AppProject/{ROOT_PROJECT}",
        f"Application/{env}-todo-cloud",
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_nothing_synced_from_git_manages_an_appproject_or_the_root(
    rendered: dict[str, Environment], env: str
) -> None:
    """The root renders only the child Applications; the services' project reaches only the
    app namespace, the root's only Applications in Argo CD's, and `default` nothing: a
    commit can change what is deployed, never what the projects permit."""
    environment = rendered[env]
    synced = environment.apps + [d for docs in environment.charts.values() for d in docs]
    assert not [d for d in synced if d["kind"] == "AppProject"]
    apps = [d for d in synced if d["kind"] == "Application"]
    assert sorted(d["spec"]["source"]["path"] for d in apps) == [
        "charts/todo-backend",
        "charts/todo-dapr",
        "charts/todo-worker",
    ]
    projects = by_kind(environment.bootstrap, "AppProject")
    assert projects["default"]["spec"]["sourceRepos"] == []
    assert projects["default"]["spec"]["destinations"] == []
    services = projects[PROJECT]["spec"]
    assert [d["namespace"] for d in services["destinations"]] == ["todo"]
    root = projects[ROOT_PROJECT]["spec"]
    assert [d["namespace"] for d in root["destinations"]] == ["argocd"]
    assert root["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "Application"}]
    assert root["clusterResourceWhitelist"] == []


def test_the_bootstrap_reads_the_repository_and_registry_it_is_given(
    helm: Helm, workspace: Path
) -> None:
    """`render-bootstrap.sh minikube <URL>` (or the cluster command): the project, the root
    and, through the root's values, every child Application read that repository and no
    other; an image registry given the same way reaches every pod."""
    url = "git://todo-git.todo-git.svc.cluster.local/todo-cloud.git"
    registry = "127.0.0.1:5000/todo-cloud"
    bootstrap = render_apps(
        helm, workspace, "minikube", bootstrap=True, repo_url=url, image_registry=registry
    )
    projects = by_kind(bootstrap, "AppProject")
    (root,) = by_kind(bootstrap, "Application").values()
    for name in (PROJECT, ROOT_PROJECT):
        assert projects[name]["spec"]["sourceRepos"] == [url]
    assert root["spec"]["source"]["repoURL"] == url
    handed_on = root["spec"]["source"]["helm"]["valuesObject"]
    assert handed_on == {"repoURL": url, "targetRevision": "main", "imageRegistry": registry}
    children = render_apps(
        helm,
        workspace,
        "minikube",
        repo_url=handed_on["repoURL"],
        image_registry=handed_on["imageRegistry"],
    )
    assert {d["spec"]["source"]["repoURL"] for d in children} == {url}
    assert {d["spec"]["source"]["targetRevision"] for d in children} == {"main"}
    tags = load_yaml(ROOT / "gitops" / "envs" / "minikube" / "images.yaml")
    for chart, app in child_applications(children).items():
        images = {
            c["image"]
            for doc in render_application(helm, workspace, app)
            if (spec := policies.pod_spec(doc)) is not None
            for c in spec["containers"]
        }
        if chart != "todo-dapr":
            service = chart.removeprefix("todo-")
            assert images == {f"{registry}/{chart}:{tags[service]['image']['tag']}"}


def test_without_a_registry_the_charts_keep_their_repositories(
    rendered: dict[str, Environment],
) -> None:
    for app in rendered["minikube"].apps:
        assert "repository" not in app["spec"]["source"]["helm"].get("valuesObject", {}).get(
            "image", {}
        )


def test_render_bootstrap_script_prints_one_for_another_repository(
    helm: Helm, workspace: Path
) -> None:
    url = "https://github.com/example/todo-cloud.git"
    script = ROOT / "build-support" / "helm" / "render-bootstrap.sh"
    result = subprocess.run(
        ["bash", str(script), "minikube", url],
        env={**os.environ, "HELM": helm.binary},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert parse_manifests(result.stdout) == render_apps(
        helm, workspace, "minikube", bootstrap=True, repo_url=url
    )
    wrong = subprocess.run(
        ["bash", str(script), "staging", url],
        env={**os.environ, "HELM": helm.binary},
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2
    assert "usage:" in wrong.stderr
    assert "aks gke minikube oke" in wrong.stderr
