"""The git server Argo CD reads on the cluster: ``git daemon`` (Debian's git) in namespace
``todo-git``, serving a bare clone of this repository at ``REPO_URL``.

The cluster only reads it (port 9418). Pushes go to a second daemon that listens on the
pod's loopback, so the only way in is a port-forward through the API server, which needs
the rights of whoever runs ``up``: ``remote()`` opens one and yields a ``git://127.0.0.1``
URL for ``git push``/``git fetch``. The repository lives in an emptyDir: a new pod starts
empty, and the next ``up`` (or delivery) serves the repository again.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from todo.cluster import kube
from todo.cluster.images import Engine, Image, publish
from todo.cluster.install import manifest
from todo.cluster.log import log

NAMESPACE = "todo-git"
REPOSITORY = "todo-cloud.git"
REPO_URL = f"git://git-server.{NAMESPACE}.svc.cluster.local/{REPOSITORY}"
BRANCH = "main"
RECEIVE_PORT = 9419
USER = "10020:10020"

DOCKERFILE = f'ARG BASE\nFROM ${{BASE}}\nUSER {USER}\nENTRYPOINT ["git"]\n'


class GitError(RuntimeError):
    """A git command failed; the message holds its output and the fix."""


def build_image(engine: Engine, registry: str, base: str) -> str:
    """The git server's image, over Argo CD's Debian base (it has git): ``base`` is that
    base as a local image (``ArgoCDImages.debian_base``)."""
    return publish(engine, registry, Image("todo-cluster/git-server", "1", DOCKERFILE, base=base))


def manifests(image: str) -> list[kube.Manifest]:
    return manifest("git-server.yaml", namespace=NAMESPACE, image=image, repository=REPOSITORY)


def install(api: k8s.ApiClient, image: str) -> None:
    changed = kube.apply(api, manifests(image))
    if changed:
        log(f"git server: applied {', '.join(changed)}")
    kube.wait_rollout(api, NAMESPACE, "Deployment", "git-server", timeout=300)


def uninstall(api: k8s.ApiClient) -> None:
    """The namespace, with the server and the repository in it."""
    with contextlib.suppress(ApiException):
        k8s.CoreV1Api(api).delete_namespace(NAMESPACE)


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run git; GitError with its output when it fails."""
    result = subprocess.run(
        ["git", *args],  # our own argv, no shell
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise GitError(
            f"git {' '.join(args)} failed (exit {result.returncode}):\n"
            f"{(result.stdout + result.stderr).strip()[-3000:]}"
        )
    return result.stdout


@contextlib.contextmanager
def remote(api: k8s.ApiClient) -> Iterator[str]:
    """The served repository's push URL on 127.0.0.1, while a port-forward is open."""
    pod = kube.ready_pod(api, NAMESPACE, "app.kubernetes.io/name=git-server")
    with kube.port_forward(api, NAMESPACE, pod, RECEIVE_PORT) as port:
        yield f"git://127.0.0.1:{port}/{REPOSITORY}"


def served_head(url: str) -> str | None:
    """The commit ``main`` of the served repository is at (None while it is empty)."""
    out = git("ls-remote", url, f"refs/heads/{BRANCH}")
    return out.split()[0] if out.strip() else None


def push(url: str, repo: Path, revision: str, *, force: bool = False) -> None:
    """Make the served ``main`` ``revision`` (a fast-forward unless ``force``)."""
    argv: Sequence[str] = ["push", "--quiet", *(["--force"] if force else []), url]
    git(*argv, f"{revision}:refs/heads/{BRANCH}", cwd=repo)
