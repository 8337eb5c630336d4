"""Render the charts with real Helm, the way Argo CD does for each environment.

An environment's manifests come from its Applications: the app-of-apps chart
(``gitops/apps``) is rendered with ``gitops/envs/<env>/apps.yaml`` and ``images.yaml``; each
child Application names a chart, its value files (relative to the chart, as Argo CD reads
them) and a ``valuesObject`` (which Argo CD applies after the files). Rendering that here
means the tests check what a cluster would get, tags included.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from todo.devstack import gotools as tools

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ("todo-backend", "todo-worker", "todo-dapr")
SERVICE_CHARTS = ("todo-backend", "todo-worker")
PROFILES = ("minikube", "cloud")
NAMESPACE = "todo"
# .Capabilities.KubeVersion of the renders; validation covers a range (validation.py).
KUBE_VERSION = "1.33.0"

Manifest = dict[str, Any]


class HelmError(AssertionError):
    """Helm refused: the message holds its command and output."""


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def parse_manifests(text: str) -> list[Manifest]:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise HelmError(f"not a Kubernetes object: {str(doc)[:200]}")
    return docs


def environments(root: Path = ROOT) -> list[str]:
    return sorted(p.name for p in (root / "gitops" / "envs").iterdir() if p.is_dir())


def kind_name(doc: Manifest) -> str:
    return f"{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}"


@dataclass(frozen=True)
class Helm:
    binary: str

    def _run(self, argv: Sequence[str], cwd: Path | None = None) -> str:
        result = tools.run([self.binary, *argv], cwd=cwd)
        if result.returncode != 0:
            raise HelmError(
                f"helm {' '.join(argv)} failed ({result.returncode}):\n"
                f"{result.stderr.strip()}\n{result.stdout.strip()[-2000:]}"
            )
        return result.stdout

    def template_text(
        self,
        chart: Path,
        *,
        release: str,
        namespace: str = NAMESPACE,
        values: Iterable[Path] = (),
        set_values: Mapping[str, str] | None = None,
        show_only: Sequence[str] = (),
    ) -> str:
        argv = ["template", release, str(chart), "--namespace", namespace]
        argv += ["--kube-version", KUBE_VERSION]
        for path in values:
            argv += ["--values", str(path)]
        for key, value in (set_values or {}).items():
            argv += ["--set", f"{key}={value}"]
        for template in show_only:
            argv += ["--show-only", template]
        return self._run(argv)

    def template(
        self,
        chart: Path,
        *,
        release: str,
        namespace: str = NAMESPACE,
        values: Iterable[Path] = (),
        set_values: Mapping[str, str] | None = None,
    ) -> list[Manifest]:
        return parse_manifests(
            self.template_text(
                chart, release=release, namespace=namespace, values=values, set_values=set_values
            )
        )

    def lint(
        self,
        chart: Path,
        values: Iterable[Path] = (),
        set_values: Mapping[str, str] | None = None,
    ) -> str:
        argv = ["lint", str(chart), "--strict", "--kube-version", KUBE_VERSION]
        for path in values:
            argv += ["--values", str(path)]
        for key, value in (set_values or {}).items():
            argv += ["--set", f"{key}={value}"]
        return self._run(argv)

    def dependency_build(self, chart: Path) -> None:
        self._run(["dependency", "build", str(chart), "--skip-refresh"])


def make_workspace(helm: Helm, dest: Path, root: Path = ROOT) -> Path:
    """A copy of charts/ and gitops/ (same layout, so ``../../gitops/...`` value files
    resolve) with each chart's ``file://`` dependencies built into its charts/ folder."""
    for part in ("charts", "gitops"):
        shutil.copytree(root / part, dest / part, ignore=shutil.ignore_patterns("BUILD"))
    for chart_yaml in sorted((dest / "charts").glob("*/Chart.yaml")):
        if (load_yaml(chart_yaml) or {}).get("dependencies"):
            helm.dependency_build(chart_yaml.parent)
    return dest


def render_apps(
    helm: Helm,
    workspace: Path,
    env: str,
    *,
    bootstrap: bool = False,
    repo_url: str = "",
    image_registry: str = "",
) -> list[Manifest]:
    """The child Applications the root renders, or with ``bootstrap`` the AppProjects and the
    root Application (``gitops/bootstrap/<env>.yaml``), with the bootstrap's parameters."""
    env_dir = workspace / "gitops" / "envs" / env
    set_values = {"bootstrap": "true"} if bootstrap else {}
    if repo_url:
        set_values["repoURL"] = repo_url
    if image_registry:
        set_values["imageRegistry"] = image_registry
    values = [env_dir / "apps.yaml"]
    if not bootstrap:
        values.append(env_dir / "images.yaml")
    return helm.template(
        workspace / "gitops" / "apps",
        release="todo-cloud",
        namespace="argocd",
        values=values,
        set_values=set_values,
    )


def child_applications(apps: Iterable[Manifest]) -> dict[str, Manifest]:
    """The Applications that deploy a chart under charts/, by chart name."""
    children: dict[str, Manifest] = {}
    for doc in apps:
        if doc["kind"] != "Application":
            continue
        path = str(doc["spec"]["source"]["path"])
        if path.startswith("charts/"):
            children[path.removeprefix("charts/")] = doc
    return children


def render_application(helm: Helm, workspace: Path, app: Manifest) -> list[Manifest]:
    """What Argo CD renders for ``app``: its chart, value files, then valuesObject."""
    source = app["spec"]["source"]
    chart_dir = workspace / source["path"]
    helm_source = source.get("helm", {})
    values = [chart_dir / f for f in helm_source.get("valueFiles", [])]
    with tempfile.TemporaryDirectory(prefix="values-object-") as tmp:
        if helm_source.get("valuesObject"):
            extra = Path(tmp) / "values-object.yaml"
            extra.write_text(yaml.safe_dump(helm_source["valuesObject"]), encoding="utf-8")
            values.append(extra)
        return helm.template(
            chart_dir,
            release=helm_source.get("releaseName", app["metadata"]["name"]),
            namespace=app["spec"]["destination"]["namespace"],
            values=values,
        )


@dataclass(frozen=True)
class Environment:
    name: str
    # gitops/bootstrap/<env>.yaml: the AppProjects and the root Application.
    bootstrap: list[Manifest]
    # What the root syncs from git: the child Applications.
    apps: list[Manifest]
    charts: dict[str, list[Manifest]]

    def all_manifests(self) -> list[Manifest]:
        return self.bootstrap + self.apps + [doc for docs in self.charts.values() for doc in docs]

    def projects(self) -> list[Manifest]:
        return [doc for doc in self.bootstrap if doc["kind"] == "AppProject"]

    def deployed(self) -> dict[str, tuple[Manifest, list[Manifest]]]:
        """Each Application (the root and its children) by name, with what it deploys."""
        (root,) = (doc for doc in self.bootstrap if doc["kind"] == "Application")
        found = {str(root["metadata"]["name"]): (root, self.apps)}
        for chart, app in child_applications(self.apps).items():
            found[str(app["metadata"]["name"])] = (app, self.charts[chart])
        return found


def render_environment(helm: Helm, workspace: Path, env: str) -> Environment:
    """The bootstrap, the Applications the root renders and what each of those deploys."""
    apps = render_apps(helm, workspace, env)
    charts = {
        chart: render_application(helm, workspace, app)
        for chart, app in child_applications(apps).items()
    }
    bootstrap = render_apps(helm, workspace, env, bootstrap=True)
    return Environment(name=env, bootstrap=bootstrap, apps=apps, charts=charts)


def profile_values(workspace: Path, chart: str, profile: str) -> list[Path]:
    return [workspace / "charts" / chart / f"values-{profile}.yaml"]


def required_cloud_settings(chart: str) -> dict[str, str]:
    """What values-cloud.yaml leaves to each environment, for rendering a chart alone."""
    return {
        "todo-backend": {"ingress.host": "todo.example.com"},
        "todo-worker": {"settings.kafkaBootstrap": "seed.example.com:9092"},
        "todo-dapr": {"pubsub.brokers": "seed.example.com:9092"},
    }[chart]
