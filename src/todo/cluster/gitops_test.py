"""Serving a repository to Argo CD (gitops.serve_to), with real git against a bare
repository standing in for the cluster's git server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from todo.cluster import gitops
from todo.cluster.gitserver import GitError, git, push, served_head

OLD = "0000000aaaaa"
TAG = "1111111bbbbb"


def images_yaml(tag: str) -> str:
    return (
        "# The image tags of the minikube environment.\n"
        f'backend:\n  image:\n    tag: "{tag}"\nworker:\n  image:\n    tag: "{tag}"\n'
    )


def commit(repo: Path, message: str, **files: str) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git("add", ".", cwd=repo)
    git("commit", "--quiet", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    git("init", "--quiet", "--initial-branch=main", str(work))
    git("config", "user.name", "dev", cwd=work)
    git("config", "user.email", "dev@localhost", cwd=work)
    commit(work, "start", **{"gitops/envs/minikube/images.yaml": images_yaml(OLD), "README": "x\n"})
    return work


@pytest.fixture
def url(tmp_path: Path) -> str:
    served = tmp_path / "served.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(served))
    return f"file://{served}"


def tags_served(repo: Path, url: str) -> dict[str, str]:
    git("fetch", "--quiet", url, "main", cwd=repo)
    return gitops.tags_at(repo, "FETCH_HEAD")


def test_serves_head_plus_the_bump_and_leaves_the_work_tree_alone(repo: Path, url: str) -> None:
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    served = gitops.serve_to(url, repo, TAG)
    assert served_head(url) == served != head
    assert tags_served(repo, url) == {"backend": TAG, "worker": TAG}
    assert git("rev-parse", "FETCH_HEAD^", cwd=repo).strip() == head
    assert git("log", "-1", "--format=%an %s", "FETCH_HEAD", cwd=repo).strip() == (
        f"todo-cluster deploy: images {TAG} to minikube"
    )
    assert git("rev-parse", "HEAD", cwd=repo).strip() == head
    assert (repo / "gitops/envs/minikube/images.yaml").read_text() == images_yaml(OLD)


def test_serving_again_changes_nothing_and_the_bump_commit_is_reproducible(
    repo: Path, url: str, tmp_path: Path
) -> None:
    first = gitops.serve_to(url, repo, TAG)
    assert gitops.serve_to(url, repo, TAG) == first
    fresh = tmp_path / "fresh.git"
    git("init", "--quiet", "--bare", str(fresh))
    assert gitops.serve_to(f"file://{fresh}", repo, TAG) == first


def test_a_delivery_on_top_of_main_is_kept(repo: Path, url: str, tmp_path: Path) -> None:
    gitops.serve_to(url, repo, TAG)
    clone = tmp_path / "clone"
    git("clone", "--quiet", url, str(clone))
    git("config", "user.name", "ci", cwd=clone)
    git("config", "user.email", "ci@localhost", cwd=clone)
    on_top = commit(clone, "docs", README="y\n")
    git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    assert gitops.serve_to(url, repo, TAG) == on_top
    assert served_head(url) == on_top


def test_a_new_head_is_served_afresh_even_when_main_went_elsewhere(repo: Path, url: str) -> None:
    gitops.serve_to(url, repo, TAG)
    newer = commit(repo, "more", README="z\n")
    served = gitops.serve_to(url, repo, "2222222ccccc")
    assert served_head(url) == served
    assert tags_served(repo, url) == {"backend": "2222222ccccc", "worker": "2222222ccccc"}
    assert git("rev-parse", f"{served}^", cwd=repo).strip() == newer


def test_head_that_already_names_the_tag_is_served_as_it_is(repo: Path, url: str) -> None:
    head = commit(repo, "tags", **{"gitops/envs/minikube/images.yaml": images_yaml(TAG)})
    assert gitops.serve_to(url, repo, TAG) == head


def test_an_unreachable_server_is_a_git_error_with_its_output(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="ls-remote"):
        gitops.serve_to(f"file://{tmp_path / 'missing.git'}", repo, TAG)


def test_a_push_that_is_not_a_fast_forward_is_refused(repo: Path, url: str) -> None:
    served = gitops.serve_to(url, repo, TAG)
    elsewhere = commit(repo, "elsewhere", README="w\n")
    with pytest.raises(GitError, match="rejected"):
        push(url, repo, elsewhere)
    assert served_head(url) == served
    push(url, repo, elsewhere, force=True)
    assert served_head(url) == elsewhere


def application(sync: str, revision: str, phase: str, operation_revision: str) -> gitops.AppStatus:
    """An Application as Argo CD reports it, cut to what `done_at` reads."""
    return gitops.AppStatus.of(
        {
            "metadata": {"name": "minikube-todo-backend"},
            "status": {
                "sync": {"status": sync, "revision": revision},
                "health": {"status": "Healthy"},
                "operationState": {
                    "phase": phase,
                    "syncResult": {"revision": operation_revision},
                }
                if phase
                else {},
            },
        }
    )


@pytest.mark.parametrize(
    ("sync", "revision", "phase", "operation_revision", "done"),
    [
        ("Synced", "new", "Succeeded", "new", True),
        ("Synced", "new", "", "", True),
        # The revert of a commit whose sync failed: nothing to apply, no new operation.
        ("Synced", "new", "Failed", "broken", True),
        ("Synced", "new", "Failed", "new", False),
        ("Synced", "new", "Running", "new", False),
        ("Synced", "new", "Running", "broken", False),
        ("OutOfSync", "new", "Succeeded", "old", False),
        ("Synced", "old", "Succeeded", "old", False),
    ],
)
def test_done_at_a_revision(
    sync: str, revision: str, phase: str, operation_revision: str, done: bool
) -> None:
    assert application(sync, revision, phase, operation_revision).done_at("new") is done


def test_a_status_of_an_earlier_spec_is_not_done() -> None:
    """The root has just rewritten a child's values (an image bump): the child's status,
    Synced at the new revision, was computed for its old spec, so nothing was applied."""
    old = {"repoURL": "git://repo", "path": "charts/todo", "helm": {"valuesObject": {"t": 1}}}
    new = {**old, "helm": {"valuesObject": {"t": 2}}}

    def child(spec_source: dict[str, Any], compared: dict[str, Any]) -> gitops.AppStatus:
        return gitops.AppStatus.of(
            {
                "metadata": {"name": "minikube-todo-backend"},
                "spec": {"source": spec_source},
                "status": {
                    "sync": {
                        "status": "Synced",
                        "revision": "new",
                        "comparedTo": {"source": compared},
                    },
                    "operationState": {"phase": "Succeeded", "syncResult": {"revision": "old"}},
                },
            }
        )

    stale = child(new, old)
    assert not stale.current
    assert not stale.done_at("new")
    assert "earlier spec" in str(stale)
    assert child(new, dict(new)).done_at("new")


@pytest.mark.parametrize(
    ("sync", "revision", "phase", "operation_revision", "stale"),
    [
        # What an interrupted run leaves (or the revert of a broken commit): Synced at the
        # new revision, the last sync a failure of an earlier one.
        ("Synced", "new", "Failed", "broken", True),
        ("Synced", "new", "Error", "broken", True),
        # A failure of this revision is a real one: reported, not synced over.
        ("Synced", "new", "Failed", "new", False),
        ("Synced", "new", "Succeeded", "old", False),
        ("Synced", "new", "", "", False),
        ("Synced", "new", "Running", "broken", False),
        ("OutOfSync", "new", "Failed", "broken", False),
        ("Synced", "old", "Failed", "broken", False),
    ],
)
def test_failed_earlier_names_what_a_sync_again_would_clear(
    sync: str, revision: str, phase: str, operation_revision: str, stale: bool
) -> None:
    found = gitops.failed_earlier([application(sync, revision, phase, operation_revision)], "new")
    assert found == (["minikube-todo-backend"] if stale else [])
