"""Argo CD v3.2.11 in the cluster, built here and installed from its own release manifest.

- **The binary**: ``build-support/argocd`` builds Argo CD's one multi-call ``argocd`` from
  the Go module proxy (tool ``argocd``). The same module zip holds the install manifest,
  the entrypoint and the two GnuPG wrappers the repo-server runs: the tool copies them
  beside the binary, so everything Argo CD comes from one pinned module.
- **The images**, under the repositories ``install.yaml`` names, in the local registry:
  ``argoproj/argocd`` (Debian minbase with git, GnuPG, OpenSSH's client and tini, the binary
  linked under each component's name, Helm, the wrappers and the entrypoint; user 999, as
  Argo CD's own Dockerfile lays it out) and ``docker/library/redis`` (Debian's redis-server
  7.0: Argo CD uses Redis only as a cache), over one Debian base. Dex is not built: it runs
  0 replicas.
- **The install**: ``install.yaml`` with this cluster's images and the changes of
  ``todo.cluster.argocd_manifest``, applied server-side; ``up`` waits until every component
  is Ready. Applying it again changes nothing. ``uninstall`` removes the namespace, the
  CRDs and the cluster-wide RBAC.
- **The API** on 127.0.0.1 through a port-forward to argocd-server, signed in as ``admin``
  with the password Argo CD generated (``argocd-initial-admin-secret``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from todo.cluster import argocd_manifest, kube
from todo.cluster.images import DebianRootfs, Engine, Image, import_base, publish
from todo.cluster.log import log
from todo.devstack import gotools, toolcache
from todo.devstack.toolcache import (
    GoBuild,
    Log,
    Tool,
    ToolUnavailable,
    digest_of,
    go_env,
    go_executable,
)

ARGOCD_VERSION = "3.2.11"
MODULE = "github.com/argoproj/argo-cd/v3"
NAMESPACE = argocd_manifest.NAMESPACE
# What Argo CD's Makefile stamps for the release: the v3.2.11 tag's commit and date.
_RELEASE_STAMP = {
    "version": ARGOCD_VERSION,
    "gitTag": f"v{ARGOCD_VERSION}",
    "gitCommit": "6d66c1b29e4f25dccfb5b0c7a939785b0071ef9a",
    "gitTreeState": "clean",
    "buildDate": "2026-04-30T18:03:31Z",
}
# The names the binary answers to (Argo CD's Dockerfile links the same ones).
PROGRAMS = (
    "argocd-server",
    "argocd-repo-server",
    "argocd-cmp-server",
    "argocd-application-controller",
    "argocd-dex",
    "argocd-notifications",
    "argocd-applicationset-controller",
    "argocd-k8s-auth",
    "argocd-commit-server",
)
# Files of the release the image and the install need: output -> path in the module.
RELEASE_FILES = {
    "install.yaml": "manifests/install.yaml",
    "scripts/entrypoint.sh": "entrypoint.sh",
    "scripts/gpg-wrapper.sh": "hack/gpg-wrapper.sh",
    "scripts/git-verify-wrapper.sh": "hack/git-verify-wrapper.sh",
}

UPSTREAM_ARGOCD_IMAGE = f"quay.io/argoproj/argocd:v{ARGOCD_VERSION}"
UPSTREAM_REDIS_IMAGE = "public.ecr.aws/docker/library/redis:8.2.2-alpine"
UPSTREAM_DEX_IMAGE = "ghcr.io/dexidp/dex:v2.43.0"
REDIS_VERSION = "7.0.15"

# What install.yaml holds outside the namespace (all else goes into NAMESPACE).
CLUSTER_KINDS = ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding")
SERVER = "argocd-server"
SERVER_PORT = 8080  # inside the pod; the Service maps 80 to it
# The Secret Argo CD writes the generated admin password to (a name, not a password).
ADMIN_SECRET = "argocd-initial-admin-secret"  # noqa: S105
WORKLOADS = (
    ("StatefulSet", "argocd-application-controller"),
    ("Deployment", "argocd-repo-server"),
    ("Deployment", "argocd-server"),
    ("Deployment", "argocd-redis"),
    ("Deployment", "argocd-applicationset-controller"),
    ("Deployment", "argocd-notifications-controller"),
)


@dataclass(frozen=True)
class ArgoCDBuild(GoBuild):
    """The binary (a GoBuild), then the release's own files from the same module zip."""

    files: Mapping[str, str] = field(default_factory=dict)

    def fingerprint(self) -> str | None:
        base = super().fingerprint()
        return None if base is None else digest_of(base, json.dumps(dict(self.files)))

    def build(self, staging: Path, log: Log) -> None:
        super().build(staging, log)
        go = go_executable()
        module_dir = self.module_dir()
        if go is None or module_dir is None:
            raise ToolUnavailable("Go or build-support/argocd vanished during the build")
        result = subprocess.run(
            [go, "mod", "download", "-json", MODULE],  # our own argv, no shell
            cwd=module_dir,
            env=go_env(go),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ToolUnavailable(f"go mod download {MODULE} failed:\n{result.stderr[-2000:]}")
        source = Path(json.loads(result.stdout)["Dir"])
        for output, relative in self.files.items():
            target = staging / output
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, target)  # the module cache's files are 0444
            target.chmod(0o755 if output.endswith(".sh") else 0o644)


ARGOCD = Tool(
    name="argocd",
    version=ARGOCD_VERSION,
    recipe=ArgoCDBuild(
        module="build-support/argocd",
        binaries={"bin/argocd": f"{MODULE}/cmd"},
        links={f"bin/{program}": "argocd" for program in PROGRAMS},
        ldflags=(
            "-s",
            "-w",
            *(f"-X {MODULE}/common.{key}={value}" for key, value in _RELEASE_STAMP.items()),
        ),
        files=RELEASE_FILES,
    ),
    outputs=("bin/argocd", *(f"bin/{p}" for p in PROGRAMS), *RELEASE_FILES),
)

# One Debian base for the argocd image, the Redis image and the git server's: git, GnuPG,
# OpenSSH's client and tini for Argo CD, redis-server for its cache.
ARGOCD_ROOTFS = Tool(
    name="rootfs-argocd",
    version="bookworm",
    recipe=DebianRootfs(
        packages=(
            "git",
            "gnupg",
            "openssh-client",
            "tini",
            "ca-certificates",
            "tzdata",
            "redis-server",
        )
    ),
    outputs=("rootfs.tar",),
)
TOOLS = (ARGOCD, ARGOCD_ROOTFS)

# Argo CD's Dockerfile (argocd-base and the final stage), on Debian, without the UI.
ARGOCD_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
RUN groupadd --gid 999 argocd \\
 && useradd --system --uid 999 --gid argocd --home-dir /home/argocd argocd \\
 && mkdir -p /home/argocd && chown argocd:0 /home/argocd && chmod g=u /home/argocd
COPY bin/ /usr/local/bin/
COPY helm scripts/ /usr/local/bin/
RUN ln -s /usr/local/bin/entrypoint.sh /usr/local/bin/uid_entrypoint.sh \\
 && mkdir -p /app/config/ssh /app/config/tls /app/config/gpg/source /app/config/gpg/keys \\
 && touch /app/config/ssh/ssh_known_hosts \\
 && ln -sf /app/config/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts \\
 && chown argocd /app/config/gpg/keys && chmod 0700 /app/config/gpg/keys
ENV USER=argocd
USER 999
WORKDIR /home/argocd
ENTRYPOINT ["/usr/bin/tini", "--"]
"""

# install.yaml gives redis-server's arguments only (the official image's entrypoint).
REDIS_DOCKERFILE = f"""\
ARG BASE
FROM ${{BASE}}
LABEL org.opencontainers.image.version="{REDIS_VERSION}"
USER 999:999
ENTRYPOINT ["/usr/bin/redis-server"]
"""


@dataclass(frozen=True)
class ArgoCDImages:
    argocd: str
    redis: str
    debian_base: str  # the argocd image's base, a local image (the git server uses it too)

    def mapping(self) -> dict[str, str]:
        """install.yaml's image -> the one built here."""
        return {UPSTREAM_ARGOCD_IMAGE: self.argocd, UPSTREAM_REDIS_IMAGE: self.redis}


def build_images(engine: Engine, registry: str) -> ArgoCDImages:
    """Build (or find in the registry) the argocd and redis images."""
    home = toolcache.ensure(ARGOCD)
    debian_base = import_base(engine, ARGOCD_ROOTFS)
    argocd = publish(
        engine,
        registry,
        Image(
            "argoproj/argocd",
            f"v{ARGOCD_VERSION}",
            ARGOCD_DOCKERFILE,
            {"bin": home / "bin", "helm": Path(gotools.helm()), "scripts": home / "scripts"},
            base=debian_base,
        ),
    )
    redis = publish(
        engine,
        registry,
        Image(
            "docker/library/redis",
            REDIS_VERSION,
            REDIS_DOCKERFILE,
            base=debian_base,
        ),
    )
    return ArgoCDImages(argocd=argocd, redis=redis, debian_base=debian_base)


def manifests(images: Mapping[str, str] | None = None) -> list[argocd_manifest.Manifest]:
    """install.yaml of the pinned release, adapted, with ``images`` swapped in (upstream
    image -> reference): on a cluster that pulls from the public registries, none."""
    text = (toolcache.ensure(ARGOCD) / "install.yaml").read_text()
    return argocd_manifest.adapt(argocd_manifest.parse(text), images=images or {})


def install(api: k8s.ApiClient, images: Mapping[str, str] | None = None) -> None:
    """Apply Argo CD (idempotent) and wait until every component is Ready."""
    core = k8s.CoreV1Api(api)
    with contextlib.suppress(ApiException):
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NAMESPACE)))
    docs = manifests(images)
    for doc in docs:
        if doc["kind"] not in CLUSTER_KINDS:
            doc["metadata"]["namespace"] = NAMESPACE
    changed = kube.apply(api, docs)
    if changed:
        log(f"Argo CD: applied {len(changed)} objects")
    for kind, name in WORKLOADS:
        kube.wait_rollout(api, NAMESPACE, kind, name, timeout=600)
    log(f"Argo CD v{ARGOCD_VERSION} ready")


def uninstall(api: k8s.ApiClient) -> None:
    """Drop the Applications' finalizers (no pruning: ``down`` deletes the namespaces of what
    they deployed), then remove Argo CD: its cluster-wide objects and its namespace."""
    custom = k8s.CustomObjectsApi(api)
    with contextlib.suppress(ApiException):
        listed = cast(
            dict[str, Any],
            custom.list_namespaced_custom_object(
                "argoproj.io", "v1alpha1", NAMESPACE, "applications"
            ),
        )
        for app in listed["items"]:
            custom.patch_namespaced_custom_object(
                "argoproj.io",
                "v1alpha1",
                NAMESPACE,
                "applications",
                app["metadata"]["name"],
                {"metadata": {"finalizers": None}},
            )
    kube.delete(api, [doc for doc in manifests() if doc["kind"] in CLUSTER_KINDS])
    with contextlib.suppress(ApiException):
        k8s.CoreV1Api(api).delete_namespace(NAMESPACE)


# --------------------------------------------------------------------------- the API


@dataclass
class ArgoCDApi:
    """Argo CD's REST API (the one its CLI and UI use), signed in as admin."""

    http: httpx.Client

    def get(self, path: str, **params: str) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def version(self) -> str:
        return str(self.get("/api/version")["Version"])

    def application(self, name: str, *, refresh: bool = False) -> dict[str, Any]:
        """An Application as Argo CD reports it; ``refresh`` makes it read git now (what a
        webhook from the git host would do)."""
        params = {"refresh": "normal"} if refresh else {}
        found: dict[str, Any] = self.get(f"/api/v1/applications/{name}", **params)
        return found

    def sync(self, name: str) -> None:
        """Start a sync of Application ``name`` at the head of its target revision (what the
        UI's Sync button does), without pruning (the root Application never prunes). No
        commit can be named: with automated sync on, Argo CD syncs only its target
        revision."""
        response = self.http.post(f"/api/v1/applications/{name}/sync", json={})
        if response.is_error:
            raise kube.ClusterError(f"Argo CD refused to sync {name}: {response.text}")

    def resource_tree(self, name: str) -> dict[str, Any]:
        tree: dict[str, Any] = self.get(f"/api/v1/applications/{name}/resource-tree")
        return tree


@contextlib.contextmanager
def api_session(api: k8s.ApiClient) -> Iterator[ArgoCDApi]:
    """Argo CD's API on 127.0.0.1 (a port-forward to argocd-server), signed in."""
    server = kube.ready_pod(api, NAMESPACE, f"app.kubernetes.io/name={SERVER}")
    password = kube.secret_value(api, NAMESPACE, ADMIN_SECRET, "password")
    with kube.port_forward(api, NAMESPACE, server, SERVER_PORT) as port:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            session = http.post("/api/v1/session", json={"username": "admin", "password": password})
            session.raise_for_status()
            http.headers["Authorization"] = f"Bearer {session.json()['token']}"
            yield ArgoCDApi(http)
