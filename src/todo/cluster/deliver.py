"""The delivery loop, as CD runs it, against the cluster ``up`` made:

1. **build**: ``./pants package src/docker::``, the images tagged with HEAD's commit;
2. **publish**: ``./pants publish src/docker::`` to the cluster's registry;
3. **commit**: ``gitops/bump_image_tag.py`` for minikube, committed in the repository (as
   CD's bot commits on main) and pushed to the served repository, fast-forward only;
4. **sync**: Argo CD reads the commit (asked to refresh, as a webhook would) and syncs the
   app-of-apps: the Dapr resources, the migrations PreSync hook, the services;
5. **rollout**: until Argo CD reports every Application Healthy and the new version
   answers ``GET /api/v1/version`` through the ingress on 127.0.0.1.

Each part is timed; the command prints the figures (and, last, one JSON line of them).

    ./pants run src/todo/cluster:deliver                 # this repository's HEAD
    ./pants run src/todo/cluster:deliver -- --repo DIR   # another clone's HEAD

The work tree must be clean (the images are built from it and named after HEAD) and HEAD
must contain the served ``main`` (``up`` serves HEAD afresh when it does not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from kubernetes import client as k8s

from todo.cluster import argocd, gitops, gitserver, images
from todo.cluster.gitserver import GitError, git
from todo.cluster.log import log
from todo.devstack.toolcache import run_build_step

Log = Callable[[str], None]


class DeliveryError(RuntimeError):
    """The delivery cannot start or did not finish; the message says why and the fix."""


@dataclass(frozen=True)
class Target:
    """The cluster ``up`` made, as the delivery needs it."""

    api: k8s.ApiClient
    engine: images.Engine
    registry: str  # host:port on 127.0.0.1
    python_base: str  # the base image of ours (TODO_BASE_IMAGE)
    ingress: str  # http://127.0.0.1:<port>
    host: str  # the Ingress's host


@dataclass
class Delivery:
    tag: str
    revision: str  # the served commit (the bump)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(self.seconds.values()), 1)

    def report(self) -> str:
        parts = ", ".join(f"{name} {value:.0f}s" for name, value in self.seconds.items())
        return f"delivered {self.tag} ({self.revision[:12]}) in {self.total:.0f}s: {parts}"


def version_served(target: Target, timeout: float = 5) -> str | None:
    """What ``GET /api/v1/version`` answers through the ingress (None: no answer)."""
    try:
        response = httpx.get(
            f"{target.ingress}/api/v1/version", headers={"Host": target.host}, timeout=timeout
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return str(response.json().get("version"))


def commit_tag(repo: Path) -> str:
    """The image tag of HEAD: its commit, 12 hex digits (as ``up`` tags)."""
    return git("rev-parse", "--short=12", "HEAD", cwd=repo).strip()


def _check_clean(repo: Path) -> None:
    dirty = git("status", "--porcelain", "--untracked-files=no", cwd=repo).strip()
    if dirty:
        raise DeliveryError(
            f"{repo} has uncommitted changes; the images are built from the work tree and "
            f"named after HEAD: commit or stash them first:\n{dirty}"
        )


def _pants(repo: Path, goal: str, target: Target, tag: str) -> None:
    env = {
        **os.environ,
        **target.engine.env,
        "GIT_SHA": tag,
        "TODO_IMAGE_REGISTRY": f"{target.registry}/todo-cloud",
        "TODO_BASE_IMAGE": target.python_base,
    }
    # Without pantsd: this command may itself run under `./pants run` in the same repository.
    run_build_step(
        [str(repo / "pants"), "--no-pantsd", goal, "src/docker::"],
        cwd=repo,
        env=env,
        what=f"./pants {goal} src/docker::",
        fix="see the output below",
    )


def deliver(repo: Path, target: Target, *, timeout: float = 900, say: Log = log) -> Delivery:
    """Run the loop for HEAD of ``repo`` (see the module doc); the served commit and times."""
    _check_clean(repo)
    tag = commit_tag(repo)
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    with gitserver.remote(target.api) as url:
        served = gitserver.served_head(url)
        if served is not None:
            git("fetch", "--quiet", url, gitserver.BRANCH, cwd=repo)
            if not gitops.is_ancestor(repo, served, head):
                raise DeliveryError(
                    f"HEAD ({head[:12]}) does not contain the served main ({served[:12]}): "
                    "merge it (git merge FETCH_HEAD, fetched just now) or serve HEAD afresh "
                    "with ./pants run src/todo/cluster:up"
                )
    seconds: dict[str, float] = {}

    def timed(name: str, step: Callable[[], object]) -> None:
        started = time.monotonic()
        step()
        seconds[name] = round(time.monotonic() - started, 1)
        say(f"deliver: {name} took {seconds[name]:.0f}s")

    timed("build", lambda: _pants(repo, "package", target, tag))
    timed(
        "publish",
        lambda: images.publish_ours(repo, target.engine, target.registry, target.python_base, tag),
    )

    def commit_and_push() -> None:
        if not gitops.commit_bump(repo, tag):
            raise DeliveryError(
                f"gitops/envs/minikube/images.yaml already names {tag}: nothing to deliver"
            )
        with gitserver.remote(target.api) as push_url:
            gitserver.push(push_url, repo, "HEAD")

    timed("commit", commit_and_push)
    revision = git("rev-parse", "HEAD", cwd=repo).strip()
    with argocd.api_session(target.api) as session:
        timed(
            "sync",
            lambda: gitops.wait_synced(
                target.api, session, revision, healthy=False, timeout=timeout
            ),
        )

        def rollout() -> None:
            gitops.wait_synced(target.api, session, revision, healthy=True, timeout=timeout)
            gitops.wait_reminders_flow(target.api)
            deadline = time.monotonic() + timeout
            while version_served(target) != tag:
                if time.monotonic() > deadline:
                    answered = version_served(target)
                    raise DeliveryError(
                        f"{tag} is Healthy in Argo CD but the ingress answers {answered}"
                    )
                time.sleep(0.5)

        timed("rollout", rollout)
    return Delivery(tag=tag, revision=revision, seconds=seconds)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./pants run src/todo/cluster:deliver --",
        description="Build, publish, bump and commit HEAD; Argo CD syncs and rolls it out.",
    )
    parser.add_argument("--repo", type=Path, help="the repository to deliver (default: this one)")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds for sync and for rollout"
    )
    return parser


def report_json(delivery: Delivery) -> str:
    return json.dumps({**asdict(delivery), "total": delivery.total})


def run(
    argv: Sequence[str],
    target_for: Callable[[Path], AbstractContextManager[Target]],
    repo_default: Path,
) -> int:
    """The command line: deliver ``--repo`` (default ``repo_default``) to ``target_for``'s
    cluster, print the figures."""
    args = parser().parse_args(argv)
    repo = (args.repo or repo_default).resolve()
    try:
        with target_for(repo) as target:
            delivery = deliver(repo, target, timeout=args.timeout)
    except (DeliveryError, GitError, gitops.SyncFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(delivery.report())
    print(report_json(delivery))
    return 0
