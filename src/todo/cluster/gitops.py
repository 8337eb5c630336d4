"""The product on the cluster the GitOps way: Argo CD syncs it from the served repository.

``up`` installs Argo CD and the git server, serves this repository's HEAD with the minikube
environment's image tags bumped to the images it just built (one commit on top of HEAD,
made in a scratch clone: the work tree is left alone), applies the bootstrap (the AppProject
and the root Application, reading the git server and the local registry) and waits until
Argo CD reports every Application Synced and Healthy at that commit.

Serving is idempotent: the bump commit takes HEAD's dates, so the same HEAD and tags make
the same commit, and a served ``main`` that already contains HEAD with those tags (a
delivery on top of it, say) is left as it is.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from bump_image_tag import EXIT_CHANGED, EXIT_UNCHANGED, SERVICES
from bump_image_tag import main as bump
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from todo.cluster import argocd, gitserver, install, kube, scheduler_streams, worker_reconciled
from todo.cluster.gitserver import git
from todo.cluster.log import log

ENVIRONMENT = install.ENVIRONMENT
ROOT_APP = f"{ENVIRONMENT}-todo-cloud"
CHILD_APPS = tuple(
    f"{ENVIRONMENT}-{chart}" for chart in ("todo-dapr", "todo-backend", "todo-worker")
)
APPS = (ROOT_APP, *CHILD_APPS)
BOT = {"GIT_AUTHOR_NAME": "todo-cluster", "GIT_AUTHOR_EMAIL": "todo-cluster@localhost"}


class SyncFailed(RuntimeError):
    """Argo CD could not sync or the result is not healthy; the message has its status."""


def bootstrap_manifests(
    repo: Path, helm: str, *, repo_url: str, image_registry: str
) -> list[kube.Manifest]:
    """gitops/bootstrap/minikube.yaml for this cluster: the AppProject and the root
    Application reading ``repo_url``, the service images from ``image_registry``."""
    result = subprocess.run(
        [
            helm,
            "template",
            "todo-cloud",
            str(repo / "gitops" / "apps"),
            "--namespace",
            argocd.NAMESPACE,
            "--values",
            str(repo / "gitops" / "envs" / ENVIRONMENT / "apps.yaml"),
            "--set",
            "bootstrap=true",
            "--set-string",
            f"repoURL={repo_url}",
            "--set-string",
            f"imageRegistry={image_registry}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise kube.ClusterError(f"helm template gitops/apps failed:\n{result.stderr[-3000:]}")
    docs = kube.load_manifests(result.stdout)
    for doc in docs:
        doc["metadata"]["namespace"] = argocd.NAMESPACE
    return docs


def bump_env(repo: Path, tag: str) -> int:
    """bump_image_tag.py for the minikube environment of the work tree ``repo`` (what it
    reports goes to stderr: stdout is for what scripts read)."""
    argv = ["--gitops-dir", str(repo / "gitops"), "--env", ENVIRONMENT, "--tag", tag]
    for service in SERVICES:
        argv += ["--service", service]
    with contextlib.redirect_stdout(sys.stderr):
        return bump(argv)


def commit_bump(repo: Path, tag: str, *, dates_of: str | None = None) -> bool:
    """Commit minikube's images.yaml of ``repo`` bumped to ``tag``; False if it already
    named it. ``dates_of`` gives the commit that revision's dates (a reproducible commit)."""
    status = bump_env(repo, tag)
    if status == EXIT_UNCHANGED:
        return False
    if status != EXIT_CHANGED:
        raise gitserver.GitError(f"bump_image_tag.py failed (exit {status}) in {repo}")
    env = {**os.environ, **BOT}
    env["GIT_COMMITTER_NAME"], env["GIT_COMMITTER_EMAIL"] = BOT.values()
    if dates_of:
        date = git("log", "-1", "--format=%cI", dates_of, cwd=repo).strip()
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    git("add", f"gitops/envs/{ENVIRONMENT}/images.yaml", cwd=repo)
    git("commit", "--quiet", "-m", f"deploy: images {tag} to {ENVIRONMENT}", cwd=repo, env=env)
    return True


def tags_at(repo: Path, revision: str) -> dict[str, str]:
    text = git("show", f"{revision}:gitops/envs/{ENVIRONMENT}/images.yaml", cwd=repo)
    images = yaml.safe_load(text)
    return {service: str(images[service]["image"]["tag"]) for service in SERVICES}


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    result = subprocess.run(
        ["git", "merge-base", "--is-ancestor", ancestor, descendant],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def serve(api: k8s.ApiClient, repo: Path, tag: str) -> str:
    """Serve HEAD of ``repo`` with minikube's images at ``tag`` on the git server."""
    with gitserver.remote(api) as url:
        return serve_to(url, repo, tag)


def serve_to(url: str, repo: Path, tag: str) -> str:
    """Make ``main`` at ``url`` HEAD of ``repo`` plus the bump to ``tag``, unless it already
    has HEAD with those tags; the commit it serves."""
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    with tempfile.TemporaryDirectory(prefix="todo-serve-") as tmp:
        clone = Path(tmp) / "repo"
        git("clone", "--quiet", "--shared", "--no-checkout", str(repo), str(clone))
        served = gitserver.served_head(url)
        if served is not None:
            git("fetch", "--quiet", url, gitserver.BRANCH, cwd=clone)
            if is_ancestor(clone, head, served) and tags_at(clone, served) == dict.fromkeys(
                SERVICES, tag
            ):
                log(f"git server: main ({served[:12]}) has HEAD and images {tag} already")
                return served
        git("checkout", "--quiet", "--detach", head, cwd=clone)
        commit_bump(clone, tag, dates_of=head)
        wanted = git("rev-parse", "HEAD", cwd=clone).strip()
        if wanted != served:
            force = served is not None and not is_ancestor(clone, served, wanted)
            gitserver.push(url, clone, wanted, force=force)
            how = " (forced: main had other commits)" if force else ""
            log(f"git server: main is {wanted[:12]}: HEAD {head[:12]} + images {tag}{how}")
        return wanted


# --------------------------------------------------------------------------- Argo CD status


@dataclass
class AppStatus:
    name: str
    sync: str
    revision: str
    health: str
    phase: str  # of the last operation ("" if none)
    operation_revision: str  # what the last operation synced (or tries to)
    message: str
    conditions: list[str] = field(default_factory=list)
    # The sync status was computed for the Application's current spec. The root
    # Application rewrites its children's specs (an image bump reaches them as values):
    # until a child is compared again, its status describes the spec it had before.
    current: bool = True

    @classmethod
    def of(cls, app: dict[str, Any]) -> AppStatus:
        status = app.get("status") or {}
        operation = status.get("operationState") or {}
        compared = ((status.get("sync") or {}).get("comparedTo") or {}).get("source")
        source = (app.get("spec") or {}).get("source")
        return cls(
            name=app["metadata"]["name"],
            sync=str((status.get("sync") or {}).get("status", "")),
            revision=str((status.get("sync") or {}).get("revision", "")),
            health=str((status.get("health") or {}).get("status", "")),
            phase=str(operation.get("phase", "")),
            operation_revision=str(
                (operation.get("syncResult") or {}).get("revision")
                or ((operation.get("operation") or {}).get("sync") or {}).get("revision", "")
            ),
            message=str(operation.get("message", "")),
            conditions=[
                f"{c.get('type')}: {c.get('message')}" for c in status.get("conditions") or []
            ],
            # Argo CD's own test of a status to refresh ("spec.source differs"); a status
            # without either side (never compared, or a test's) is taken as it is.
            current=compared is None or source is None or compared == source,
        )

    def done_at(self, revision: str) -> bool:
        """Synced to ``revision``, and no sync running or failed for it.

        A failed sync of an earlier revision may stay the last operation: when git comes
        back to what the cluster runs (the revert of a commit whose sync failed), the
        Application is Synced with nothing to apply, and Argo CD starts no operation.
        A status computed for an earlier spec is not done (see ``current``)."""
        if not self.current or self.sync != "Synced" or self.revision != revision:
            return False
        return self.phase in ("", "Succeeded") or self.failed_before(revision)

    def failed_before(self, revision: str) -> bool:
        """The last sync failed, on a revision other than ``revision``."""
        return self.phase in ("Failed", "Error") and self.operation_revision != revision

    def __str__(self) -> str:
        extra = f"; {'; '.join(self.conditions)}" if self.conditions else ""
        if not self.current:
            extra += "; status of an earlier spec (not compared again yet)"
        return (
            f"{self.name}: {self.sync or '?'} at {self.revision[:12] or '?'}, "
            f"{self.health or '?'}, last sync {self.phase or 'none'} {self.message[:300]}{extra}"
        )


def applications(api: k8s.ApiClient, names: Iterable[str] = APPS) -> dict[str, AppStatus]:
    custom = k8s.CustomObjectsApi(api)
    found: dict[str, AppStatus] = {}
    for name in names:
        with contextlib.suppress(ApiException):
            app = cast(
                dict[str, Any],
                custom.get_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", argocd.NAMESPACE, "applications", name
                ),
            )
            found[name] = AppStatus.of(app)
    return found


def refresh(session: argocd.ArgoCDApi, names: Iterable[str] = APPS) -> None:
    """Have Argo CD read git now, as a webhook from the git host would (the git daemon sends
    none; without this Argo CD polls every 3 minutes)."""
    for name in names:
        with contextlib.suppress(Exception):
            session.application(name, refresh=True)


def wait_synced(
    api: k8s.ApiClient,
    session: argocd.ArgoCDApi,
    revision: str,
    *,
    healthy: bool,
    timeout: float = 900,
) -> dict[str, AppStatus]:
    """Until every Application is Synced at ``revision`` with its sync finished (and, with
    ``healthy``, Healthy); SyncFailed with their status when one fails or time runs out."""
    deadline = time.monotonic() + timeout
    last_refresh = 0.0
    while True:
        if time.monotonic() - last_refresh > 20:
            refresh(session)
            last_refresh = time.monotonic()
        found = applications(api)
        if len(found) == len(APPS):
            failed = [
                s
                for s in found.values()
                if s.phase in ("Failed", "Error") and s.operation_revision == revision
            ]
            if failed:
                raise SyncFailed("Argo CD's sync failed:\n" + "\n".join(str(s) for s in failed))
            if all(
                s.done_at(revision) and (not healthy or s.health == "Healthy")
                for s in found.values()
            ):
                return found
        if time.monotonic() > deadline:
            lines = "\n".join(str(s) for s in found.values()) or "no Applications"
            wanted = "Synced and Healthy" if healthy else "Synced"
            raise SyncFailed(f"not {wanted} at {revision[:12]} within {timeout:.0f}s:\n{lines}")
        time.sleep(1)


def failed_earlier(statuses: Iterable[AppStatus], revision: str) -> list[str]:
    """The Applications Synced at ``revision`` whose last sync failed on an earlier one.

    Argo CD starts no operation when git comes back to what the cluster runs (the revert
    of a commit whose sync failed, or ``up`` serving again what an interrupted run left),
    so that failure stays the last sync it reports, its message included."""
    return [
        s.name
        for s in statuses
        if s.sync == "Synced" and s.revision == revision and s.failed_before(revision)
    ]


def sync_failed_earlier(
    api: k8s.ApiClient, session: argocd.ArgoCDApi, revision: str, *, timeout: float = 600
) -> list[str]:
    """Sync again, at ``revision``, every Application whose last sync failed on an earlier
    revision (``failed_earlier``), and wait until each of these syncs succeeded: then what
    Argo CD reports last is what the cluster runs. Nothing changes in the cluster (it is
    Synced already) but the PreSync hook, which runs again (the migrations are idempotent).
    The names synced; SyncFailed if one of these syncs fails or time runs out."""
    statuses = applications(api)
    stale = failed_earlier(statuses.values(), revision)
    failed_at = {name: statuses[name].operation_revision for name in stale}
    for name in stale:
        # The head of main: ``revision`` unless a push came in between (reported below).
        session.sync(name)
    deadline = time.monotonic() + timeout
    while stale:
        found = applications(api, stale)
        moved = [
            s
            for s in found.values()
            if s.operation_revision not in (revision, failed_at[s.name])
            and s.phase in ("Succeeded", "Failed", "Error")
        ]
        if moved:
            lines = "\n".join(str(s) for s in moved)
            raise SyncFailed(f"main moved on from {revision[:12]} while syncing again:\n{lines}")
        done = [s for s in found.values() if s.operation_revision == revision]
        failed = [s for s in done if s.phase in ("Failed", "Error")]
        if failed:
            raise SyncFailed("Argo CD's sync failed:\n" + "\n".join(str(s) for s in failed))
        if len(done) == len(stale) and all(s.phase == "Succeeded" for s in done):
            break
        if time.monotonic() > deadline:
            lines = "\n".join(str(s) for s in found.values())
            raise SyncFailed(f"not synced again at {revision[:12]} within {timeout:.0f}s:\n{lines}")
        time.sleep(1)
    return stale


def wait_reminders_flow(api: k8s.ApiClient) -> None:
    """Until a reminder can fire on time, which Argo CD's Healthy does not say: every
    sidecar of ours has its stream to the Dapr scheduler, and the worker's calls reach the
    backend."""
    scheduler_streams.wait_connected(api, install.APP_NAMESPACE)
    worker_reconciled.wait_reconciled(api, install.APP_NAMESPACE)


def deploy(
    api: k8s.ApiClient, repo: Path, helm: str, images: install.Images, *, reuse: bool = False
) -> str:
    """Argo CD, the git server, the served repository and the bootstrap; waits until Argo CD
    reports everything Synced and Healthy. ``reuse`` (``up --reuse-images``) serves nothing
    new: the served main must name ``images.tag`` already. The served commit."""
    argocd.install(
        api,
        {argocd.UPSTREAM_ARGOCD_IMAGE: images.argocd, argocd.UPSTREAM_REDIS_IMAGE: images.redis},
    )
    gitserver.install(api, images.git_server)
    revision = served_with(api, images.tag) if reuse else serve(api, repo, images.tag)
    registry = images.backend_repository.rsplit("/", 1)[0]
    bootstrap = bootstrap_manifests(
        repo, helm, repo_url=gitserver.REPO_URL, image_registry=registry
    )
    changed = kube.apply(api, bootstrap)
    if changed:
        log(f"bootstrap: applied {', '.join(changed)}")
    started = time.monotonic()
    with argocd.api_session(api) as session:
        wait_synced(api, session, revision, healthy=True)
        resynced = sync_failed_earlier(api, session, revision)
        if resynced:
            log(
                f"Argo CD: synced {', '.join(resynced)} again at {revision[:12]}: the last sync "
                "Argo CD reported (of an earlier revision, before this up) had failed"
            )
            wait_synced(api, session, revision, healthy=True)
    wait_reminders_flow(api)
    took = time.monotonic() - started
    log(f"Argo CD: every Application Synced and Healthy at {revision[:12]} ({took:.0f}s)")
    return revision


def served_with(api: k8s.ApiClient, tag: str) -> str:
    """The served main, which must name the images ``tag``."""
    with gitserver.remote(api) as url, tempfile.TemporaryDirectory(prefix="todo-served-") as tmp:
        served = gitserver.served_head(url)
        if served is not None:
            git("init", "--quiet", "--bare", tmp)
            git("fetch", "--quiet", url, gitserver.BRANCH, cwd=Path(tmp))
            if tags_at(Path(tmp), served) == dict.fromkeys(SERVICES, tag):
                return served
    raise kube.ClusterError(
        f"the git server does not serve the images {tag}: run up without --reuse-images"
    )


def uninstall(api: k8s.ApiClient) -> None:
    """Argo CD (its Applications first, without pruning: the namespaces go next) and the
    git server."""
    argocd.uninstall(api)
    gitserver.uninstall(api)
