"""Each policy and each schema check, proven to fail on a bad input.

A check that never fails proves nothing: here each one sees a render with a values
override that breaks it (or a manifest changed by hand) and must report it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from deploy import policies
from deploy.render import (
    ROOT,
    Helm,
    Manifest,
    load_yaml,
    profile_values,
    render_apps,
    render_environment,
)
from deploy.validation import validation_errors


def render(helm: Helm, workspace: Path, chart: str, **overrides: str) -> list[Manifest]:
    chart_dir = workspace / "charts" / chart
    return helm.template(
        chart_dir,
        release=chart,
        values=profile_values(workspace, chart, "minikube"),
        set_values=overrides,
    )


def deployment(docs: list[Manifest]) -> Manifest:
    (found,) = (d for d in docs if d["kind"] == "Deployment")
    return found


# --------------------------------------------------------------------------- probes


@pytest.mark.parametrize("chart", ["todo-backend", "todo-worker"])
@pytest.mark.parametrize("probe", ["liveness", "readiness"])
def test_probe_policy_reports_a_removed_probe(
    helm: Helm, workspace: Path, chart: str, probe: str
) -> None:
    assert policies.probe_violations(render(helm, workspace, chart)) == []
    docs = render(helm, workspace, chart, **{f"probes.{probe}": "null"})
    assert policies.probe_violations(docs) == [
        f"Deployment/{chart}: container {chart} has no {probe}Probe"
    ]


# --------------------------------------------------------------------------- security


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"securityContext.runAsUser": "0"}, "may run as root: runAsUser is 0"),
        (
            {"securityContext.runAsNonRoot": "false", "podSecurityContext.runAsNonRoot": "false"},
            "may run as root: runAsNonRoot is not true",
        ),
        (
            {"securityContext.runAsUser": "null", "podSecurityContext.runAsUser": "null"},
            "may run as root: runAsUser is None",
        ),
        ({"securityContext.readOnlyRootFilesystem": "false"}, "readOnlyRootFilesystem is not true"),
        ({"securityContext.allowPrivilegeEscalation": "true"}, "allowPrivilegeEscalation"),
        ({"securityContext.capabilities.drop": "null"}, "capabilities do not drop ALL"),
        (
            {"securityContext.seccompProfile": "null", "podSecurityContext.seccompProfile": "null"},
            "seccompProfile is None",
        ),
    ],
)
def test_security_policy_reports_an_unsafe_container(
    helm: Helm, workspace: Path, override: dict[str, str], expected: str
) -> None:
    assert policies.security_violations(render(helm, workspace, "todo-backend")) == []
    found = policies.security_violations(render(helm, workspace, "todo-backend", **override))
    # Both the Deployment's container and the migrations Job's share the values.
    assert len([f for f in found if expected in f]) == 2, found


# --------------------------------------------------------------------------- dapr


@pytest.mark.parametrize("chart", ["todo-backend", "todo-worker"])
def test_a_pod_level_user_is_reported_for_the_injected_sidecar(
    helm: Helm, workspace: Path, chart: str
) -> None:
    assert policies.sidecar_identity_violations(render(helm, workspace, chart)) == []
    docs = render(helm, workspace, chart, **{"podSecurityContext.runAsUser": "10001"})
    assert policies.sidecar_identity_violations(docs) == [
        f"Deployment/{chart}: the injected daprd would run with runAsUser 10001 (from the "
        "pod's securityContext); it must be 65532"
    ]
    docs = render(helm, workspace, chart, **{"podSecurityContext.runAsGroup": "0"})
    assert "runAsGroup 0" in " ".join(policies.sidecar_identity_violations(docs))


def test_the_injected_sidecar_is_checked_like_our_containers(helm: Helm, workspace: Path) -> None:
    docs = render(helm, workspace, "todo-backend")
    running = policies.with_injected_sidecars(docs)
    containers = deployment(running)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["todo-backend", "daprd"]
    assert policies.security_violations(running, {"daprd": policies.DAPRD_USER}) == []
    # A control plane that keeps the sidecar's capabilities fails the same policy.
    keeps = policies.with_injected_sidecars(docs, drop_all=False)
    assert policies.security_violations(keeps, {"daprd": policies.DAPRD_USER}) == [
        "Deployment/todo-backend: container daprd: capabilities do not drop ALL"
    ]
    # Without the image's user the sidecar's user is unknown: reported.
    assert "container daprd may run as root" in " ".join(policies.security_violations(running))


@pytest.mark.parametrize("chart", ["todo-backend", "todo-worker"])
def test_dapr_policy_reports_a_deployment_without_a_sidecar(
    helm: Helm, workspace: Path, chart: str
) -> None:
    docs = render(helm, workspace, chart)
    assert policies.dapr_violations(docs, expect_dapr=True) == []
    # Without Dapr the backend's bus is Kafka, which needs its address.
    no_dapr = render(
        helm,
        workspace,
        chart,
        **{"dapr.enabled": "false", "settings.kafkaBootstrap": "kafka:9092"},
    )
    assert policies.dapr_violations(no_dapr, expect_dapr=True) == [
        f'Deployment/{chart} has no dapr.io/enabled: "true" annotation'
    ]
    assert policies.dapr_violations(no_dapr, expect_dapr=False) == []
    assert policies.dapr_violations(docs, expect_dapr=False) != []


def test_dapr_policy_reports_missing_or_inconsistent_annotations(
    helm: Helm, workspace: Path
) -> None:
    docs = render(helm, workspace, "todo-backend")
    annotations = deployment(docs)["spec"]["template"]["metadata"]["annotations"]
    del annotations["dapr.io/app-token-secret"]
    annotations["dapr.io/app-port"] = "1234"
    assert policies.dapr_violations(docs, expect_dapr=True) == [
        "Deployment/todo-backend lacks the annotation dapr.io/app-token-secret",
        "Deployment/todo-backend: dapr.io/app-port 1234 is not the container port named "
        "dapr-app (8002)",
    ]


def test_dapr_annotations_follow_the_values(helm: Helm, workspace: Path) -> None:
    docs = render(
        helm,
        workspace,
        "todo-worker",
        **{"containerPort": "9001", "dapr.appId": "w2", "appApiToken.existingSecret": "tok"},
    )
    annotations = deployment(docs)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["dapr.io/app-port"] == "9001"
    assert annotations["dapr.io/app-id"] == "w2"
    assert annotations["dapr.io/app-token-secret"] == "tok"
    assert policies.dapr_violations(docs, expect_dapr=True) == []


@pytest.mark.parametrize("chart", ["todo-backend", "todo-worker"])
def test_the_sidecar_probes_the_app_each_second_and_tolerates_15_s_of_failures(
    helm: Helm, workspace: Path, chart: str
) -> None:
    annotations = deployment(render(helm, workspace, chart))["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["dapr.io/app-health-probe-interval"] == "1"
    assert annotations["dapr.io/app-health-threshold"] == "15"
    # Dapr's defaults (no annotation: every 5 s, 3 failures) are what the policy refuses.
    slow = render(helm, workspace, chart, **{"dapr.appHealth.probeSeconds": "5"})
    assert policies.dapr_violations(slow, expect_dapr=True) == [
        f"Deployment/{chart}: the sidecar probes the app every 5 s, so an app that answers "
        "again may wait 5 s for its reminders (dapr.appHealth.probeSeconds: at most 1)"
    ]
    hasty = render(helm, workspace, chart, **{"dapr.appHealth.threshold": "3"})
    assert policies.dapr_violations(hasty, expect_dapr=True) == [
        f"Deployment/{chart}: 3 failed probes 1 s apart call the app unhealthy in under 15 s "
        "(dapr.appHealth.threshold)"
    ]


# --------------------------------------------------------------------------- secrets


def values_files() -> dict[str, Any]:
    files = sorted((ROOT / "charts").glob("*/values*.yaml"))
    files += [ROOT / "gitops" / "apps" / "values.yaml"]
    files += sorted((ROOT / "gitops" / "envs").glob("*/*.yaml"))
    return {str(path.relative_to(ROOT)): load_yaml(path) for path in files}


def test_no_values_file_holds_a_secret() -> None:
    files = values_files()
    assert "charts/todo-dapr/values-local.yaml" in files
    assert "gitops/envs/aks/backend.yaml" in files
    found = [
        v
        for name, content in files.items()
        for v in policies.secret_value_violations(content, name)
    ]
    assert found == []


def test_secret_policy_reports_literal_secrets_and_accepts_references() -> None:
    bad = {
        "jwt": {"secret": "s3cr3t-but-in-git"},
        "database": {"password": "hunter2", "connectionString": "host=db password=x"},
        "appApiToken": "abc",
        "extraEnv": [{"name": "TOKEN", "value": "x"}],
        "kafka": {"sasl": {"saslPassword": "p"}},
        "apiKeys": ["k1"],
    }
    found = policies.secret_value_violations(bad, "bad.yaml")
    assert [f.split(" holds")[0] for f in found] == [
        "bad.yaml: jwt.secret",
        "bad.yaml: database.password",
        "bad.yaml: database.connectionString",
        "bad.yaml: appApiToken",
        "bad.yaml: kafka.sasl.saslPassword",
    ]
    good = {
        "jwt": {"existingSecret": "todo-backend", "key": "jwt-secret"},
        "sasl": {"password": {"secretName": "todo-kafka", "key": "password"}, "passwordKey": "p"},
        "metadata": [{"name": "saslPassword", "secretKeyRef": {"name": "k", "key": "password"}}],
        "token": "${{ secrets.GITHUB_TOKEN }}",
        "tokenFile": "/var/run/token",
        "secret": "",
    }
    assert policies.secret_value_violations(good, "good.yaml") == []


def test_secret_resource_policy_reports_a_rendered_secret() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {}}
    assert policies.secret_resource_violations([secret]) == ["Secret/x is rendered by a chart"]


# --------------------------------------------------------------------------- schemas


def test_kubernetes_schemas_reject_a_bad_deployment(helm: Helm, workspace: Path) -> None:
    docs = render(helm, workspace, "todo-backend")
    assert validation_errors(docs) == []
    wrong_type = copy.deepcopy(deployment(docs))
    wrong_type["spec"]["replicas"] = "two"
    found = validation_errors([wrong_type])
    assert any("spec.replicas" in f and "Kubernetes 1.27" in f for f in found), found
    unknown_field = copy.deepcopy(deployment(docs))
    unknown_field["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"][
        "prot"
    ] = 1
    found = validation_errors([unknown_field])
    assert any("'prot' was unexpected" in f for f in found), found


def _dapr_docs(helm: Helm, workspace: Path) -> dict[str, Manifest]:
    docs = render(helm, workspace, "todo-dapr")
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    [
        (
            "Subscription/task-events-worker",
            lambda d: d["spec"].update(route=d["spec"].pop("routes")["default"]),
            "'routes' is a required property",
        ),
        (
            "Component/pubsub",
            lambda d: d["spec"]["metadata"].append({"name": "maxMessageBytes", "value": 1}),
            "1 is not of type 'string'",
        ),
        (
            "Component/statestore",
            lambda d: d["spec"]["metadata"][0]["secretKeyRef"].pop("key"),
            "'key' is a required property",
        ),
        (
            "Resiliency/todo-resiliency",
            lambda d: d["spec"]["policies"]["retries"]["pubsub"].update(policy="linear"),
            "'linear' is not one of",
        ),
        (
            "Configuration/todo-config",
            lambda d: d["spec"]["tracing"].update(samplingRate=1),
            "1 is not of type 'string'",
        ),
        (
            "Component/pubsub",
            lambda d: d.update(scopes=["Todo_Backend"]),
            "does not match",
        ),
    ],
)
def test_dapr_schemas_reject_bad_resources(
    helm: Helm, workspace: Path, name: str, mutate: Any, expected: str
) -> None:
    doc = copy.deepcopy(_dapr_docs(helm, workspace)[name])
    assert validation_errors([doc]) == []
    mutate(doc)
    found = validation_errors([doc])
    assert any(expected in f for f in found), found


def test_argocd_schemas_reject_bad_resources(helm: Helm, workspace: Path) -> None:
    docs = render_apps(helm, workspace, "minikube") + render_apps(
        helm, workspace, "minikube", bootstrap=True
    )
    assert validation_errors(docs) == []
    app = copy.deepcopy(next(d for d in docs if d["kind"] == "Application"))
    del app["spec"]["project"]
    app["spec"]["syncPolicy"]["automated"]["prune"] = "yes"
    found = validation_errors([app])
    assert any("'project' is a required property" in f for f in found), found
    assert any("'yes' is not of type 'boolean'" in f for f in found), found
    project = copy.deepcopy(next(d for d in docs if d["kind"] == "AppProject"))
    project["spec"]["destinations"][0]["cluster"] = "in-cluster"
    assert any("cluster" in f for f in validation_errors([project]))


def test_an_unknown_custom_kind_has_no_schema_and_fails() -> None:
    doc = {"apiVersion": "dapr.io/v1alpha1", "kind": "HTTPEndpoint", "metadata": {"name": "x"}}
    assert validation_errors([doc]) == [
        "HTTPEndpoint/x: no schema for dapr.io/v1alpha1 HTTPEndpoint: add "
        "schemas/dapr.io_v1alpha1_HTTPEndpoint.json"
    ]


# --------------------------------------------------------------------------- worker shapes


def config_of(docs: list[Manifest]) -> dict[str, str]:
    (found,) = (d for d in docs if d["kind"] == "ConfigMap")
    data: dict[str, str] = found["data"]
    return data


def secret_env_names(docs: list[Manifest]) -> set[str]:
    containers = deployment(docs)["spec"]["template"]["spec"]["containers"]
    return {e["name"] for c in containers for e in c.get("env", []) if "valueFrom" in e}


def test_worker_with_dapr_uses_the_sidecar_and_needs_no_kafka_or_database(
    helm: Helm, workspace: Path
) -> None:
    docs = render(helm, workspace, "todo-worker", **{"settings.kafkaBootstrap": ""})
    config = config_of(docs)
    assert config["TODO_WORKER_BUS"] == "dapr"
    assert "TODO_WORKER_KAFKA_BOOTSTRAP" not in config
    assert config["TODO_WORKER_BACKEND_APP_ID"] == "todo-backend"
    assert "TODO_WORKER_DATABASE_URL" not in secret_env_names(docs)
    assert "TODO_WORKER_APP_API_TOKEN" in secret_env_names(docs)


def test_worker_without_dapr_consumes_kafka_itself(helm: Helm, workspace: Path) -> None:
    docs = render(helm, workspace, "todo-worker", **{"dapr.enabled": "false"})
    config = config_of(docs)
    assert config["TODO_WORKER_BUS"] == "kafka"
    assert config["TODO_WORKER_KAFKA_BOOTSTRAP"].endswith(":9092")
    assert "TODO_WORKER_DATABASE_URL" in secret_env_names(docs)


# --------------------------------------------------------------------------- Argo CD projects


def _projects_and_apps(
    helm: Helm, workspace: Path
) -> tuple[dict[str, Manifest], dict[str, tuple[Manifest, list[Manifest]]]]:
    environment = render_environment(helm, workspace, "minikube")
    projects = {p["metadata"]["name"]: copy.deepcopy(p) for p in environment.projects()}
    return projects, copy.deepcopy(environment.deployed())


def _violations(
    projects: dict[str, Manifest], deployed: dict[str, tuple[Manifest, list[Manifest]]]
) -> list[str]:
    return policies.project_violations(projects.values(), deployed, argocd_namespace="argocd")


def _whitelist(project: Manifest) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = project["spec"]["namespaceResourceWhitelist"]
    return entries


def test_project_policy_reports_a_project_that_could_widen_itself(
    helm: Helm, workspace: Path
) -> None:
    projects, deployed = _projects_and_apps(helm, workspace)
    assert _violations(projects, deployed) == []
    services, root = projects["todo-cloud"], projects["todo-cloud-apps"]
    # The services' project reaching Argo CD's namespace, and allowing AppProjects and RBAC.
    services["spec"]["destinations"].append(
        {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
    )
    _whitelist(services).append({"group": "argoproj.io", "kind": "AppProject"})
    _whitelist(services).append({"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"})
    # The root's allowing ConfigMaps beside the Applications, from any repository.
    _whitelist(root).append({"group": "", "kind": "ConfigMap"})
    root["spec"]["sourceRepos"] = ["*"]
    # `default` as Argo CD creates it.
    projects["default"]["spec"]["sourceRepos"] = ["*"]
    projects["default"]["spec"]["destinations"] = [{"server": "*", "namespace": "*"}]
    found = _violations(projects, deployed)
    assert "AppProject/default: allows repositories or destinations" in found
    assert "AppProject/todo-cloud: allows argoproj.io/AppProject" in found
    assert "AppProject/todo-cloud: allows rbac.authorization.k8s.io/RoleBinding" in found
    assert any(f.startswith("AppProject/todo-cloud: reaches argocd with more than") for f in found)
    assert any(f.startswith("AppProject/todo-cloud-apps: reaches argocd with more") for f in found)
    assert "AppProject/todo-cloud-apps: sourceRepos ['*'], not exactly one repository" in found
    del projects["default"]
    assert "AppProject/default: not in the bootstrap (it allows everything)" in _violations(
        projects, deployed
    )


def test_project_policy_reports_an_application_outside_its_project(
    helm: Helm, workspace: Path
) -> None:
    projects, deployed = _projects_and_apps(helm, workspace)
    _, backend_docs = deployed["minikube-todo-backend"]
    worker, _ = deployed["minikube-todo-worker"]
    worker["spec"]["project"] = "default"
    config = next(d for d in backend_docs if d["kind"] == "ConfigMap")
    config["metadata"]["namespace"] = "argocd"
    backend_docs.append(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "x"}}
    )
    _, root_docs = deployed["minikube-todo-cloud"]
    root_docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm"}})
    assert _violations(projects, deployed) == [
        "Application/minikube-todo-backend: ConfigMap/todo-backend in argocd, outside todo-cloud",
        "Application/minikube-todo-backend: Role/x not allowed by todo-cloud",
        "Application/minikube-todo-cloud: ConfigMap/argocd-cm not allowed by todo-cloud-apps",
        "Application/minikube-todo-worker: project 'default' is not ours",
    ]
