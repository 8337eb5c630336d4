"""What ``up`` installs into a cluster (the local one or an existing one), in order:

1. the namespaces (``todo`` enforces the ``restricted`` Pod Security Standard);
2. the Secrets (random values, made once and kept);
3. PostgreSQL and a single-node Kafka (with its topics), from images built here;
4. the ingress controller (Traefik, class ``traefik``);
5. the Dapr control plane: Dapr's official chart at the pinned release, images built here;
6. Argo CD, which installs our charts from the served repository as the minikube
   environment renders them, with our images from the registry, tagged with the commit
   (``todo.cluster.gitops``).

Everything is applied server-side or installed with Helm only when it differs from what the
cluster has, so a second ``up`` changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import string
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from todo.cluster import kube
from todo.cluster.log import log
from todo.devstack.kafka import DEFAULT_TOPICS

APP_NAMESPACE = "todo"
DAPR_NAMESPACE = "dapr-system"
POSTGRES_NAMESPACE = "postgres"
KAFKA_NAMESPACE = "kafka"
INGRESS_NAMESPACE = "todo-ingress"
NAMESPACES = (APP_NAMESPACE, DAPR_NAMESPACE, POSTGRES_NAMESPACE, KAFKA_NAMESPACE, INGRESS_NAMESPACE)

ENVIRONMENT = "minikube"
POSTGRES_HOST = f"postgres.{POSTGRES_NAMESPACE}.svc.cluster.local"
KAFKA_ADDRESS = f"kafka.{KAFKA_NAMESPACE}.svc.cluster.local:9092"
INGRESS_CLASS = "traefik"

HELM_TIMEOUT = "10m"


def manifest(name: str, **values: str) -> list[kube.Manifest]:
    """A manifest file of this package with ``${name}`` placeholders filled in."""
    text = resources.files("todo.cluster").joinpath("manifests", name).read_text()
    return kube.load_manifests(string.Template(text).substitute(values))


def namespaces() -> list[kube.Manifest]:
    docs: list[kube.Manifest] = []
    for name in NAMESPACES:
        labels = {"app.kubernetes.io/part-of": "todo-cloud"}
        if name == APP_NAMESPACE:
            # Every pod of ours, sidecars included, must pass the restricted standard.
            labels |= {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        )
    return docs


def _token(length: int = 32) -> str:
    return secrets.token_hex(length)


def ensure_secrets(api: k8s.ApiClient) -> list[str]:
    """The Secrets docs/deploy.md lists, with random values; existing ones are kept."""
    created: list[str] = []
    if kube.ensure_secret(
        api, POSTGRES_NAMESPACE, "postgres-auth", lambda: {"password": _token(24)}
    ):
        created.append("postgres/postgres-auth")
    password = kube.secret_value(api, POSTGRES_NAMESPACE, "postgres-auth", "password")
    url = f"postgresql+asyncpg://todo:{password}@{POSTGRES_HOST}:5432/todo"
    wanted = {
        "todo-postgres": lambda: {
            "backend-database-url": url,
            "worker-database-url": url,
            "dapr-state-connection-string": (
                f"host={POSTGRES_HOST} port=5432 user=todo password={password} dbname=todo "
                "sslmode=disable"
            ),
        },
        "todo-backend": lambda: {"jwt-secret": secrets.token_urlsafe(48)},
        # daprd reads the key `token` (dapr.io/app-token-secret); the apps read it too.
        "todo-app-api-token": lambda: {"token": _token()},
        # The sidecars' API token (dapr.io/api-token-secret), sent by the apps to daprd.
        "todo-dapr-api-token": lambda: {"token": _token()},
    }
    for name, make in wanted.items():
        if kube.ensure_secret(api, APP_NAMESPACE, name, make):
            created.append(f"{APP_NAMESPACE}/{name}")
    return created


# --------------------------------------------------------------------------- Helm


@dataclass(frozen=True)
class Helm:
    binary: str
    kubeconfig: Path

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise kube.ClusterError(
                f"helm {' '.join(args[:3])} failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr).strip()[-4000:]}"
            )
        return result

    def deployed_digest(self, release: str, namespace: str) -> str | None:
        result = self._run(
            "history", release, "-n", namespace, "--max", "1", "-o", "json", check=False
        )
        if result.returncode != 0:
            return None
        history = json.loads(result.stdout or "[]")
        if not history or history[-1].get("status") != "deployed":
            return None
        description = str(history[-1].get("description", ""))
        return (
            description.removeprefix("todo-cluster ")
            if description.startswith("todo-cluster ")
            else None
        )

    def never_deployed(self, release: str, namespace: str) -> bool:
        result = self._run("history", release, "-n", namespace, "-o", "json", check=False)
        if result.returncode != 0:
            return False
        history = json.loads(result.stdout or "[]")
        return bool(history) and not any(
            entry.get("status") in ("deployed", "superseded") for entry in history
        )

    def upgrade(
        self,
        release: str,
        chart: Path,
        namespace: str,
        *,
        values: Sequence[Path] = (),
        settings: Mapping[str, str | bool] | None = None,
        wait: bool = True,
    ) -> bool:
        """``helm upgrade --install`` unless the deployed release was made from the same
        chart files and values (its description records their digest). True if it ran."""
        overrides: list[str] = []
        for key, value in (settings or {}).items():
            # Strings stay strings (a commit SHA of digits is not a number); booleans not.
            if isinstance(value, bool):
                overrides += ["--set", f"{key}={str(value).lower()}"]
            else:
                overrides += ["--set-string", f"{key}={value}"]
        digest = _digest(chart, values, overrides)
        args = [*(a for path in values for a in ("--values", str(path))), *overrides]
        if self.deployed_digest(release, namespace) == digest:
            log(f"helm: {release} is up to date")
            return False
        if self.never_deployed(release, namespace):
            # A first install that failed leaves a release Helm will not upgrade.
            log(f"helm: {release} never deployed: installing it again")
            self.uninstall(release, namespace)
        log(f"helm upgrade --install {release} ({chart.name}) in {namespace}")
        self._run(
            "upgrade",
            "--install",
            release,
            str(chart),
            "-n",
            namespace,
            "--create-namespace",
            "--timeout",
            HELM_TIMEOUT,
            "--description",
            f"todo-cluster {digest}",
            *(["--wait"] if wait else []),
            *args,
        )
        return True

    def uninstall(self, release: str, namespace: str) -> None:
        self._run("uninstall", release, "-n", namespace, "--wait", "--timeout", "5m", check=False)


def _chart_sources(chart: Path) -> list[Path]:
    """The files a chart is made from: its own (not the archives `helm dependency build`
    writes into charts/, which differ byte for byte on every build) and, for each
    ``file://`` dependency, that chart's files."""
    found = [
        p
        for p in chart.rglob("*")
        if p.is_file() and not (p.parent == chart / "charts" and p.suffix == ".tgz")
    ]
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text()) or {}
    for dependency in metadata.get("dependencies") or []:
        repository = str(dependency.get("repository", ""))
        local_chart = (chart / repository.removeprefix("file://")).resolve()
        # Subcharts kept in charts/ are among the chart's files already.
        if repository.startswith("file://") and (local_chart / "Chart.yaml").is_file():
            found += _chart_sources(local_chart)
    return found


def _digest(chart: Path, values: Sequence[Path], args: Sequence[str]) -> str:
    """What a release is made from: the chart's sources, the values files and the settings."""
    hasher = hashlib.sha256()
    root = chart.parent
    for path in sorted(set(_chart_sources(chart))):
        hasher.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        hasher.update(path.read_bytes())
    for path in values:
        hasher.update(path.read_bytes())
    hasher.update("\0".join(args).encode())
    return hasher.hexdigest()[:16]


# --------------------------------------------------------------------------- installs


@dataclass(frozen=True)
class Images:
    postgres: str
    kafka: str
    traefik: str
    dapr_registry: str
    dapr_tag: str
    backend_repository: str
    worker_repository: str
    tag: str
    argocd: str
    redis: str
    git_server: str


def install_dependencies(api: k8s.ApiClient, images: Images) -> None:
    """PostgreSQL, Kafka and its topics, Traefik: applied now, waited for later."""
    topics = " ".join(f"{name}:{partitions}" for name, partitions in DEFAULT_TOPICS.items())
    docs = manifest("postgres.yaml", namespace=POSTGRES_NAMESPACE, image=images.postgres)
    docs += manifest(
        "kafka.yaml",
        namespace=KAFKA_NAMESPACE,
        image=images.kafka,
        advertised=KAFKA_ADDRESS,
        topics=topics,
    )
    docs += manifest("traefik.yaml", namespace=INGRESS_NAMESPACE, image=images.traefik)
    _apply_replacing_jobs(api, docs)


def _apply_replacing_jobs(api: k8s.ApiClient, docs: list[kube.Manifest]) -> None:
    """Apply; a Job whose (immutable) template changed is deleted and made again."""
    for doc in docs:
        try:
            changed = kube.apply(api, [doc])
        except ApiException as exc:
            if doc["kind"] != "Job" or exc.status != 422:
                raise
            _replace_job(api, doc)
            changed = kube.apply(api, [doc])
        if changed:
            log(f"applied {', '.join(changed)}")


def _replace_job(api: k8s.ApiClient, doc: kube.Manifest) -> None:
    kube.delete(api, [doc])
    kube.wait_until(f"Job {doc['metadata']['name']} deleted", lambda: not _exists(api, doc), 120)


def _exists(api: k8s.ApiClient, doc: kube.Manifest) -> bool:
    try:
        k8s.BatchV1Api(api).read_namespaced_job(
            doc["metadata"]["name"], doc["metadata"]["namespace"]
        )
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def wait_dependencies(api: k8s.ApiClient) -> None:
    kube.wait_rollout(api, POSTGRES_NAMESPACE, "StatefulSet", "postgres", timeout=600)
    kube.wait_rollout(api, KAFKA_NAMESPACE, "StatefulSet", "kafka", timeout=600)
    kube.wait_rollout(api, INGRESS_NAMESPACE, "Deployment", "traefik", timeout=300)
    batch = k8s.BatchV1Api(api)

    def topics_made() -> bool:
        status = batch.read_namespaced_job("kafka-topics", KAFKA_NAMESPACE).status
        return status is not None and (status.succeeded or 0) >= 1

    kube.wait_until(
        "the Kafka topics Job completed",
        topics_made,
        600,
        lambda: kube.describe_pods(api, KAFKA_NAMESPACE),
    )


def install_dapr(helm: Helm, chart: Path, images: Images) -> None:
    helm.upgrade(
        "dapr",
        chart,
        DAPR_NAMESPACE,
        settings={
            "global.registry": images.dapr_registry,
            "global.tag": images.dapr_tag,
            "global.imagePullPolicy": "IfNotPresent",
            "global.logAsJson": True,
            "dapr_sidecar_injector.sidecarImagePullPolicy": "IfNotPresent",
            # The restricted Pod Security Standard of namespace todo asks for it.
            "dapr_sidecar_injector.sidecarDropALLCapabilities": True,
        },
    )


def ingress_port(api: k8s.ApiClient) -> int:
    """The NodePort of the ingress controller (opened on 127.0.0.1 by the local cluster)."""
    service = k8s.CoreV1Api(api).read_namespaced_service("traefik", INGRESS_NAMESPACE)
    ports = (service.spec.ports if service.spec else None) or []
    if not ports or ports[0].node_port is None:
        raise kube.ClusterError(f"the Service {INGRESS_NAMESPACE}/traefik has no NodePort")
    return int(ports[0].node_port)


def ingress_host(api: k8s.ApiClient) -> str:
    ingress = k8s.NetworkingV1Api(api).read_namespaced_ingress("todo-backend", APP_NAMESPACE)
    rules = (ingress.spec.rules if ingress.spec else None) or []
    if not rules or not rules[0].host:
        raise kube.ClusterError(f"the Ingress {APP_NAMESPACE}/todo-backend names no host")
    return str(rules[0].host)


def wait_ingress_address(api: k8s.ApiClient) -> str:
    networking = k8s.NetworkingV1Api(api)

    def addresses() -> list[k8s.V1IngressLoadBalancerIngress]:
        status = networking.read_namespaced_ingress("todo-backend", APP_NAMESPACE).status
        balancer = status.load_balancer if status else None
        return list((balancer.ingress if balancer else None) or [])

    kube.wait_until("the Ingress todo-backend got an address", lambda: bool(addresses()), 120)
    entry = addresses()[0]
    return str(entry.ip or entry.hostname)


DAPR_CRDS = (
    "components.dapr.io",
    "configurations.dapr.io",
    "httpendpoints.dapr.io",
    "resiliencies.dapr.io",
    "subscriptions.dapr.io",
)


def uninstall_rest(api: k8s.ApiClient) -> None:
    """After the Helm releases: Traefik's cluster-wide objects, Dapr's CRDs (Helm keeps
    them) and our namespaces, with everything in them."""
    kube.delete(
        api,
        [
            d
            for d in manifest("traefik.yaml", namespace=INGRESS_NAMESPACE, image="-")
            if "namespace" not in d["metadata"]
        ],
    )
    extensions = k8s.ApiextensionsV1Api(api)
    for crd in DAPR_CRDS:
        with contextlib.suppress(ApiException):
            extensions.delete_custom_resource_definition(crd)
    core = k8s.CoreV1Api(api)
    for name in NAMESPACES:
        with contextlib.suppress(ApiException):
            core.delete_namespace(name)

    def gone() -> bool:
        left = {kube.name_of(ns) for ns in core.list_namespace().items}
        return not left & set(NAMESPACES)

    kube.wait_until("our namespaces deleted", gone, 300)
