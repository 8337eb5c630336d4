"""Deployment policies over rendered manifests and values files.

Each check returns the violations it found (empty: the input complies), one readable line
each, so a test can assert both that the real charts comply and that a bad input is caught.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from deploy.render import Manifest, kind_name

LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
WORKLOADS = LONG_RUNNING | {"Job", "CronJob", "Pod"}

# The annotations the one Dapr helper (todo-common: todo.daprAnnotations) must write.
DAPR_REQUIRED = (
    "dapr.io/app-id",
    "dapr.io/app-port",
    "dapr.io/config",
    "dapr.io/app-token-secret",
    "dapr.io/api-token-secret",
    "dapr.io/enable-metrics",
    "dapr.io/log-as-json",
    "dapr.io/sidecar-cpu-request",
    "dapr.io/sidecar-memory-request",
    "dapr.io/sidecar-memory-limit",
)

# Keys that hold secrets, unless they name where a secret lives (see _is_reference).
_SENSITIVE = re.compile(
    r"password|passwd|secret|token|connectionstring|apikey|api_key|credential|privatekey",
    re.IGNORECASE,
)
# ...Key / ...Name / existingSecret / secretName / secretKeyRef name where a secret lives.
_REFERENCE = re.compile(
    r"(key|keys|name|ref|existingsecret|secretstore|file|path)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^\$\{\{.*\}\}$|^\{\{.*\}\}$|^<[^>]*>$")


def pod_spec(doc: Manifest) -> Mapping[str, Any] | None:
    kind = doc.get("kind")
    spec: Mapping[str, Any] = doc.get("spec") or {}
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if kind in WORKLOADS - {"Pod"}:
        spec = spec.get("template", {}).get("spec")
    elif kind != "Pod":
        return None
    return spec


def pod_annotations(doc: Manifest) -> Mapping[str, str]:
    annotations: Mapping[str, str] = (
        doc.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
    )
    return annotations


def _containers(spec: Mapping[str, Any], *, init: bool) -> Iterator[Mapping[str, Any]]:
    yield from spec.get("containers") or []
    if init:
        yield from spec.get("initContainers") or []


def probe_violations(docs: Iterable[Manifest]) -> list[str]:
    """Every container of a long-running workload has liveness and readiness probes."""
    found: list[str] = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None or doc["kind"] not in LONG_RUNNING:
            continue
        for container in _containers(spec, init=False):
            for probe in ("livenessProbe", "readinessProbe"):
                if not container.get(probe):
                    found.append(f"{kind_name(doc)}: container {container['name']} has no {probe}")
    return found


def security_violations(
    docs: Iterable[Manifest], image_users: Mapping[str, int] | None = None
) -> list[str]:
    """No container may run as root, write its root filesystem, escalate or keep capabilities.
    ``image_users`` names containers whose image sets a non-root user (the injected daprd):
    for them no runAsUser is needed."""
    found: list[str] = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        pod_ctx: Mapping[str, Any] = spec.get("securityContext") or {}
        for container in _containers(spec, init=True):
            ctx: Mapping[str, Any] = container.get("securityContext") or {}
            where = f"{kind_name(doc)}: container {container['name']}"

            def effective(
                key: str, ctx: Mapping[str, Any] = ctx, pod_ctx: Mapping[str, Any] = pod_ctx
            ) -> Any:
                return ctx[key] if key in ctx else pod_ctx.get(key)

            if effective("runAsNonRoot") is not True:
                found.append(f"{where} may run as root: runAsNonRoot is not true")
            uid = effective("runAsUser")
            if uid is None:
                uid = (image_users or {}).get(container["name"])
            if uid is None or uid == 0:
                found.append(f"{where} may run as root: runAsUser is {uid} (want a non-zero UID)")
            if effective("runAsGroup") == 0:
                found.append(f"{where} runs with group 0 (runAsGroup)")
            if ctx.get("readOnlyRootFilesystem") is not True:
                found.append(f"{where}: readOnlyRootFilesystem is not true")
            if ctx.get("allowPrivilegeEscalation") is not False:
                found.append(f"{where}: allowPrivilegeEscalation is not false")
            if ctx.get("privileged"):
                found.append(f"{where} is privileged")
            if "ALL" not in (ctx.get("capabilities") or {}).get("drop", []):
                found.append(f"{where}: capabilities do not drop ALL")
            if (ctx.get("capabilities") or {}).get("add"):
                found.append(f"{where} adds capabilities")
            seccomp = (effective("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                found.append(f"{where}: seccompProfile is {seccomp}, not RuntimeDefault")
    return found


# --------------------------------------------------------------------------- the injector

# daprd refuses to start in Kubernetes unless it runs as 65532:65532, its image's user
# (dapr/pkg/security/usergroup.go).
DAPRD_USER = 65532


def injected_daprd(annotations: Mapping[str, str], *, drop_all: bool = True) -> Manifest:
    """The ``daprd`` container Dapr 1.16's sidecar injector adds to a pod with
    ``dapr.io/enabled`` (its securityContext as pkg/injector/patcher/sidecar_container.go
    builds it, with the injector's defaults: runAsNonRoot, read-only root; drop ALL when the
    control plane sets ``sidecarDropALLCapabilities``, as the cluster command does; no user:
    the pod's applies, else the image's). The cluster suite compares this with the real one."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
    }
    if annotations.get("dapr.io/sidecar-seccomp-profile-type"):
        context["seccompProfile"] = {"type": annotations["dapr.io/sidecar-seccomp-profile-type"]}
    if drop_all:
        context["capabilities"] = {"drop": ["ALL"]}
    return {
        "name": "daprd",
        "securityContext": context,
        "livenessProbe": {"httpGet": {"path": "v1.0/healthz", "port": 3501}},
        "readinessProbe": {"httpGet": {"path": "v1.0/healthz", "port": 3501}},
    }


def with_injected_sidecars(docs: Iterable[Manifest], *, drop_all: bool = True) -> list[Manifest]:
    """The workloads as they run: each Dapr-enabled pod with the daprd the injector adds."""
    result: list[Manifest] = []
    for doc in docs:
        annotations = pod_annotations(doc)
        spec = pod_spec(doc)
        if spec is None or annotations.get("dapr.io/enabled") != "true":
            result.append(doc)
            continue
        injected = copy.deepcopy(doc)
        injected_spec = pod_spec(injected)
        assert isinstance(injected_spec, dict)
        injected_spec["containers"] = [
            *(injected_spec.get("containers") or []),
            injected_daprd(annotations, drop_all=drop_all),
        ]
        result.append(injected)
    return result


def sidecar_identity_violations(docs: Iterable[Manifest]) -> list[str]:
    """An injected daprd must run as 65532:65532: a user or group set at pod level is
    inherited by it (the sidecar sets none) and makes daprd exit at start."""
    found: list[str] = []
    for doc in with_injected_sidecars(docs):
        spec = pod_spec(doc)
        if spec is None:
            continue
        pod_ctx: Mapping[str, Any] = spec.get("securityContext") or {}
        for container in _containers(spec, init=False):
            if container["name"] != "daprd":
                continue
            ctx: Mapping[str, Any] = container.get("securityContext") or {}
            for key in ("runAsUser", "runAsGroup"):
                value = ctx.get(key, pod_ctx.get(key))
                if value is not None and value != DAPRD_USER:
                    found.append(
                        f"{kind_name(doc)}: the injected daprd would run with {key} {value} "
                        f"(from the pod's securityContext); it must be {DAPRD_USER}"
                    )
    return found


def dapr_violations(docs: Iterable[Manifest], *, expect_dapr: bool) -> list[str]:
    """With Dapr on, each Deployment carries the sidecar annotations, consistent with its pod."""
    found: list[str] = []
    for doc in docs:
        if doc.get("kind") != "Deployment":
            continue
        annotations = pod_annotations(doc)
        enabled = annotations.get("dapr.io/enabled") == "true"
        if not expect_dapr:
            if enabled:
                found.append(f"{kind_name(doc)} has a Dapr sidecar although dapr.enabled is false")
            continue
        if not enabled:
            found.append(f'{kind_name(doc)} has no dapr.io/enabled: "true" annotation')
            continue
        found += [
            f"{kind_name(doc)} lacks the annotation {key}"
            for key in DAPR_REQUIRED
            if not str(annotations.get(key, "")).strip()
        ]
        found += _app_health_violations(kind_name(doc), annotations)
        spec = pod_spec(doc) or {}
        # The sidecar calls the app's listener for it (dapr-app) if it has one, else http.
        named = {
            str(port.get("name")): str(port.get("containerPort"))
            for container in _containers(spec, init=False)
            for port in container.get("ports") or []
        }
        expected = named.get("dapr-app", named.get("http"))
        which = "dapr-app" if "dapr-app" in named else "http"
        app_port = annotations.get("dapr.io/app-port")
        if app_port is not None and app_port != expected:
            found.append(
                f"{kind_name(doc)}: dapr.io/app-port {app_port} is not the container port "
                f"named {which} ({expected or 'none'})"
            )
    return found


def _app_health_violations(name: str, annotations: Mapping[str, Any]) -> list[str]:
    """The sidecar delivers no job trigger and no event to an app it holds unhealthy, and
    probes again an interval later: probed each second, an app that answers again gets
    its reminders within a second; 15 s of failed probes (as Dapr's defaults allow) before
    the app is called unhealthy."""
    if annotations.get("dapr.io/enable-app-health-check") != "true":
        return [f"{name}: the sidecar does not check the app's health"]
    try:
        interval = float(annotations.get("dapr.io/app-health-probe-interval", 5))
        threshold = int(annotations.get("dapr.io/app-health-threshold", 3))
    except ValueError as exc:
        return [f"{name}: an app health annotation is not a number ({exc})"]
    found = []
    if interval > 1:
        found.append(
            f"{name}: the sidecar probes the app every {interval:g} s, so an app that answers "
            f"again may wait {interval:g} s for its reminders (dapr.appHealth.probeSeconds: "
            "at most 1)"
        )
    if interval * threshold < 15:
        found.append(
            f"{name}: {threshold} failed probes {interval:g} s apart call the app unhealthy "
            "in under 15 s (dapr.appHealth.threshold)"
        )
    return found


def secret_resource_violations(docs: Iterable[Manifest]) -> list[str]:
    """The charts never render a Secret: values would have to hold its contents."""
    return [f"{kind_name(doc)} is rendered by a chart" for doc in docs if doc["kind"] == "Secret"]


def _is_reference(key: str) -> bool:
    return bool(_REFERENCE.search(key))


def secret_value_violations(values: Any, source: str) -> list[str]:
    """Literal secrets in a values file: a sensitive key (password, token, secret,
    connectionString, ...) holding a non-empty scalar. References are fine: keys that name a
    Secret or a key in one (existingSecret, passwordKey, secretName, secretKeyRef...), and
    placeholders such as ``${{ secrets.X }}``."""
    found: list[str] = []

    def walk(node: Any, path: list[str], in_ref: bool) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                key_s = str(key)
                walk(value, [*path, key_s], in_ref or key_s.lower() == "secretkeyref")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, [*path, str(i)], in_ref)
        elif node not in (None, "", False, True) and path and not in_ref:
            key = path[-1]
            if key.isdigit():  # a list item: judge it by the list's key
                key = path[-2] if len(path) > 1 else key
            if (
                _SENSITIVE.search(key)
                and not _is_reference(key)
                and not _PLACEHOLDER.match(str(node))
            ):
                found.append(
                    f"{source}: {'.'.join(path)} holds a literal secret: put it in a Secret "
                    "and reference it (existingSecret/secretName and key)"
                )

    walk(values, [], False)
    return found


# --------------------------------------------------------------------------- image tags


def _tag_paths(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths of non-empty `...image.tag` values in a values mapping."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = (*path, str(key))
            if here[-2:] == ("image", "tag") and value not in (None, ""):
                yield here
            yield from _tag_paths(value, here)


def tag_location_violations(files: Mapping[str, Any], images_files: Iterable[str]) -> list[str]:
    """An image tag may be set only in an environment's images.yaml: ``files`` maps every
    values file (charts and gitops) to its parsed content."""
    allowed = set(images_files)
    return [
        f"{name}: sets {'.'.join(path)}; image tags live only in gitops/envs/<env>/images.yaml"
        for name, content in sorted(files.items())
        if name not in allowed
        for path in _tag_paths(content)
    ]


_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")
_SHELL_VAR = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


def _resolve(word: str, env: Mapping[str, str]) -> str:
    """A shell word of a workflow step as an Actions expression: `"$TAG"` with TAG bound to
    `${{ github.sha }}` in the step's env -> `github.sha`."""
    match = _SHELL_VAR.match(word)
    if match and match.group(1) in env:
        word = str(env[match.group(1)])
    expr = _EXPR.fullmatch(word.strip())
    return expr.group(1) if expr else word


def _steps(workflow: Mapping[str, Any]) -> Iterator[tuple[dict[str, str], Mapping[str, Any]]]:
    top = {str(k): str(v) for k, v in (workflow.get("env") or {}).items()}
    for job in (workflow.get("jobs") or {}).values():
        job_env = {**top, **{str(k): str(v) for k, v in (job.get("env") or {}).items()}}
        for step in job.get("steps") or []:
            step_env = {**job_env, **{str(k): str(v) for k, v in (step.get("env") or {}).items()}}
            yield step_env, step


def cd_tag_violations(
    workflow: Mapping[str, Any],
    follow_main: Iterable[str],
    promoted: Iterable[str],
    services: Iterable[str],
) -> list[str]:
    """The CD workflow pushes images tagged with one commit SHA (GIT_SHA of `./pants
    publish`) and bumps exactly that tag, for every service of the environments that follow
    main, with gitops/bump_image_tag.py (which edits the keys the app-of-apps chart reads);
    it never bumps an environment that moves only by promotion."""
    import shlex

    from bump_image_tag import build_parser

    found: list[str] = []
    bumped: list[tuple[set[str], set[str], str]] = []
    published: set[str] = set()
    for env, step in _steps(workflow):
        script = str(step.get("run") or "")
        if "pants" in script and "publish" in script:
            published.add(_resolve(env.get("GIT_SHA", "<unset>"), env))
        for line in script.replace("\\\n", " ").splitlines():
            if "bump_image_tag.py" not in line:
                continue
            words = shlex.split(line.split("||")[0].split("&&")[0], posix=True)
            args = words[
                words.index(next(w for w in words if w.endswith("bump_image_tag.py"))) + 1 :
            ]
            try:
                parsed = build_parser().parse_args(args)
            except SystemExit:
                found.append(f"cd: cannot parse the bump command {line.strip()!r}")
                continue
            bumped.append((set(parsed.envs), set(parsed.services), _resolve(parsed.tag, env)))
    if not published:
        found.append("cd: no step runs `./pants publish` with GIT_SHA set")
    if len(published) > 1:
        found.append(f"cd: images are published with several tags: {sorted(published)}")
    if not bumped:
        found.append("cd: no step runs gitops/bump_image_tag.py")
    for _, _, tag in bumped:
        if tag not in published:
            found.append(
                f"cd: bumps tag {tag!r} but publishes {', '.join(sorted(published)) or 'nothing'}"
            )
    covered = {(e, s) for envs, svcs, _ in bumped for e in envs for s in svcs}
    for env_name in follow_main:
        for service in services:
            if (env_name, service) not in covered:
                found.append(f"cd: never bumps {service} in {env_name}")
    for env_name in sorted({e for e, _ in covered} & set(promoted)):
        found.append(f"cd: bumps {env_name}, which moves only by promotion (promote.yml)")
    return found


# --------------------------------------------------------------------------- Argo CD projects

RBAC_GROUP = "rbac.authorization.k8s.io"
APPLICATION = ("argoproj.io", "Application")


def _kinds(project: Manifest) -> set[tuple[str, str]]:
    spec = project["spec"]
    entries = (spec.get("namespaceResourceWhitelist") or []) + (
        spec.get("clusterResourceWhitelist") or []
    )
    return {(str(e["group"]), str(e["kind"])) for e in entries}


def _group_kind(doc: Manifest) -> tuple[str, str]:
    return str(doc["apiVersion"]).rpartition("/")[0], str(doc["kind"])


def project_violations(
    projects: Iterable[Manifest],
    deployed: Mapping[str, tuple[Manifest, list[Manifest]]],
    *,
    argocd_namespace: str,
) -> list[str]:
    """No commit can widen what Argo CD does: ``projects`` are the bootstrap's AppProjects,
    ``deployed`` maps each Application's name to it and to what it deploys.

    - ``default`` allows nothing (an Application may name any project);
    - no project allows AppProjects, RBAC or wildcards, or any repository but one;
    - a project that reaches Argo CD's namespace allows Applications there and nothing else
      (a Deployment there could run as Argo CD's service accounts, a ConfigMap rewrite its
      settings), and Applications are allowed nowhere else;
    - every Application names one of these projects and deploys only the kinds and into
      the namespaces its project allows."""
    found: list[str] = []
    by_name = {str(p["metadata"]["name"]): p for p in projects}
    default = by_name.pop("default", None)
    if default is None:
        found.append("AppProject/default: not in the bootstrap (it allows everything)")
    else:
        spec = default["spec"]
        if spec.get("sourceRepos") or spec.get("destinations"):
            found.append("AppProject/default: allows repositories or destinations")
    for name, project in sorted(by_name.items()):
        spec = project["spec"]
        kinds = _kinds(project)
        for group, kind in sorted(kinds):
            if kind == "AppProject" or group == RBAC_GROUP or "*" in (group, kind):
                found.append(f"AppProject/{name}: allows {group or 'core'}/{kind}")
        repos = list(spec.get("sourceRepos") or [])
        if len(repos) != 1 or "*" in repos[0]:
            found.append(f"AppProject/{name}: sourceRepos {repos}, not exactly one repository")
        namespaces = {str(d["namespace"]) for d in spec.get("destinations") or []}
        if argocd_namespace in namespaces and (
            namespaces != {argocd_namespace} or kinds != {APPLICATION}
        ):
            found.append(
                f"AppProject/{name}: reaches {argocd_namespace} with more than Applications "
                f"(namespaces {sorted(namespaces)}, kinds {sorted(kinds)})"
            )
        if APPLICATION in kinds and argocd_namespace not in namespaces:
            found.append(f"AppProject/{name}: allows Applications outside {argocd_namespace}")
    for app_name, (app, docs) in sorted(deployed.items()):
        project_name = str(app["spec"].get("project", ""))
        app_project = by_name.get(project_name)
        if app_project is None:
            found.append(f"Application/{app_name}: project {project_name!r} is not ours")
            continue
        kinds = _kinds(app_project)
        namespaces = {str(d["namespace"]) for d in app_project["spec"].get("destinations") or []}
        target = str(app["spec"]["destination"].get("namespace", ""))
        for doc in docs:
            where = doc.get("metadata", {}).get("namespace") or target
            if _group_kind(doc) not in kinds:
                found.append(
                    f"Application/{app_name}: {kind_name(doc)} not allowed by {project_name}"
                )
            elif doc["kind"] != "Namespace" and where not in namespaces:
                found.append(
                    f"Application/{app_name}: {kind_name(doc)} in {where}, outside {project_name}"
                )
    return found
