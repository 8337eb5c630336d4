"""The GitHub Actions workflows: actionlint, and the properties CI and CD rely on."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy.render import ROOT, load_yaml

from todo.devstack import gotools as tools

WORKFLOWS = ROOT / ".github" / "workflows"
PANTS_CACHES = {
    "~/.cache/pants/setup",
    "~/.cache/pants/lmdb_store",
    "~/.cache/pants/named_caches",
    "~/.cache/todo-pants-bootstrap",
}
# owner/name@<full commit SHA>; the release it is stays in a `# vX.Y.Z` comment.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PINNED_LINE = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
NAMES = ["ci.yml", "cd.yml", "promote.yml", "gitops-push.yml"]
# The reusable workflow that pushes to main: it alone may write, and it runs no project code.
PUSH_WORKFLOW = "./.github/workflows/gitops-push.yml"


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(WORKFLOWS / name)
    return loaded


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    on: dict[str, Any] = doc["on"] if "on" in doc else dict(doc)[True]  # type: ignore[index]
    return on


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def runs(job: dict[str, Any]) -> list[str]:
    """The job's shell scripts, continuation lines joined."""
    return [str(step["run"]).replace("\\\n", " ") for step in job.get("steps", []) if "run" in step]


def test_actionlint_accepts_the_workflows(actionlint: str) -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert sorted(Path(f).name for f in files) == sorted(NAMES)
    result = tools.run([actionlint, "-no-color", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(actionlint: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          fetch-depht: 0\n"
        "      - run: echo ${{ github.shaa }}\n"
    )
    result = tools.run([actionlint, "-no-color", str(bad)])
    assert result.returncode == 1
    assert "fetch-depht" in result.stdout
    assert "shaa" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_pinned_by_commit_sha(name: str) -> None:
    doc = workflow(name)
    for step in steps(doc):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
    for line in (WORKFLOWS / name).read_text().splitlines():
        if "uses: " in line and "./.github/" not in line:
            assert PINNED_LINE.search(line.strip()), line
    for job in doc["jobs"].values():
        if "uses" in job:
            assert job["uses"] == PUSH_WORKFLOW
    assert doc["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "promote.yml"])
def test_runs_are_grouped(name: str) -> None:
    assert workflow(name)["concurrency"]["group"]


def _writes(job: dict[str, Any]) -> bool:
    return bool((job.get("permissions") or {}).get("contents") == "write")


@pytest.mark.parametrize("name", NAMES)
def test_jobs_that_run_project_code_hold_no_credentials_and_cannot_write(name: str) -> None:
    for job_name, job in workflow(name)["jobs"].items():
        checkouts = [
            s
            for s in job.get("steps", [])
            if str(s.get("uses", "")).startswith("actions/checkout@")
        ]
        if _writes(job):
            # Only the push: a caller of gitops-push.yml, or its own job, which runs git only.
            if "uses" in job:
                continue
            assert (name, job_name) == ("gitops-push.yml", "push")
            for script in runs(job):
                for word in ("./", "python", "pants", ".sh", ".py", "bash"):
                    assert word not in script, (job_name, word)
            continue
        for checkout in checkouts:
            assert checkout.get("with", {}).get("persist-credentials") is False, (name, job_name)


def test_only_publishing_may_write_packages() -> None:
    for name in NAMES:
        for job_name, job in workflow(name)["jobs"].items():
            packages = (job.get("permissions") or {}).get("packages")
            if (name, job_name) == ("cd.yml", "publish"):
                assert packages == "write"
            else:
                assert packages in (None, "read"), (name, job_name)


def _push_step(name: str) -> str:
    (job,) = workflow("gitops-push.yml")["jobs"].values()
    script: str = next(s["run"] for s in job["steps"] if s.get("name") == name)
    return script


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A repository like the one gitops-push.yml checks out, and a runner temp dir."""
    repo = tmp_path / "repo"
    for env in ("minikube", "aks"):
        (repo / "gitops" / "envs" / env).mkdir(parents=True)
        (repo / "gitops" / "envs" / env / "images.yaml").write_text('tag: "old"\n')
    (repo / "README.md").write_text("readme\n")
    git = ["git", "-C", str(repo)]
    tools.run(["git", "init", "-q", str(repo)])
    tools.run([*git, "add", "."])
    tools.run([*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"])
    return repo


def _apply(repo: Path, patch: str, file: str) -> subprocess.CompletedProcess[str]:
    temp = repo.parent / "runner-temp"
    (temp / "gitops-change").mkdir(parents=True, exist_ok=True)
    (temp / "gitops-change" / "gitops.patch").write_text(patch)
    return subprocess.run(
        ["bash", "-e", "-c", _push_step("Apply the change (exactly one file, nothing else)")],
        cwd=repo,
        env={**os.environ, "RUNNER_TEMP": str(temp), "FILE": file},
        capture_output=True,
        text=True,
        check=False,
    )


def _diff(repo: Path, edits: dict[str, str]) -> str:
    for path, text in edits.items():
        (repo / path).write_text(text)
    diff = tools.run(["git", "-C", str(repo), "diff"]).stdout
    tools.run(["git", "-C", str(repo), "checkout", "-q", "--", "."])
    return diff


def test_the_push_applies_a_patch_of_exactly_its_file(checkout: Path) -> None:
    file = "gitops/envs/minikube/images.yaml"
    result = _apply(checkout, _diff(checkout, {file: 'tag: "new"\n'}), file)
    assert result.returncode == 0, result.stderr
    staged = tools.run(["git", "-C", str(checkout), "diff", "--cached", "--name-only"]).stdout
    assert staged.split() == [file]


@pytest.mark.parametrize(
    "edits",
    [
        {"gitops/envs/aks/images.yaml": 'tag: "new"\n'},
        {"gitops/envs/minikube/images.yaml": 'tag: "new"\n', "README.md": "changed\n"},
    ],
)
def test_the_push_refuses_a_patch_that_changes_anything_else(
    checkout: Path, edits: dict[str, str]
) -> None:
    result = _apply(checkout, _diff(checkout, edits), "gitops/envs/minikube/images.yaml")
    assert result.returncode == 1
    assert "not exactly gitops/envs/minikube/images.yaml: refusing it" in result.stderr
    staged = tools.run(["git", "-C", str(checkout), "diff", "--cached", "--name-only"]).stdout
    assert staged == ""


def _cached_paths(doc: dict[str, Any]) -> list[tuple[set[str], str]]:
    return [
        (set(str(step["with"]["path"]).split()), str(step["with"]["key"]))
        for step in steps(doc)
        if str(step.get("uses", "")).startswith("actions/cache@")
    ]


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_pants_caches_are_keyed_on_its_config_and_lockfiles(name: str) -> None:
    caches = [(paths, key) for paths, key in _cached_paths(workflow(name)) if paths & PANTS_CACHES]
    assert caches
    for paths, key in caches:
        assert paths == PANTS_CACHES
        for part in ("hashFiles(", "pants.toml", "3rdparty/python/*.lock"):
            assert part in key


def test_ci_runs_what_dot_ci_run_runs_plus_the_chart_checks() -> None:
    doc = workflow("ci.yml")
    on = triggers(doc)
    assert "pull_request" in on
    assert "push" in on
    runs = [str(step.get("run", "")) for step in steps(doc)]
    assert "bash .ci/run" in runs
    assert any("./pants test tests/deploy::" in run for run in runs)
    assert any("tests/deploy/tools.py" in run for run in runs)


def test_cd_publishes_with_pants_and_never_triggers_itself() -> None:
    doc = workflow("cd.yml")
    on = triggers(doc)
    assert on["push"]["branches"] == ["main"]
    assert "gitops/**" in on["push"]["paths-ignore"]
    jobs = doc["jobs"]
    for name in ("publish", "e2e"):
        assert "github-actions[bot]" in jobs[name]["if"]
        assert "[skip ci]" in jobs[name]["if"]
    publish = jobs["publish"]
    assert publish["permissions"] == {"contents": "read", "packages": "write"}
    assert doc["env"]["GIT_SHA"] == "${{ github.sha }}"
    assert doc["concurrency"]["cancel-in-progress"] is False
    scripts = runs(publish)
    assert scripts.index("./pants package src/docker::") < scripts.index(
        "./pants publish src/docker::"
    )
    login = next(
        s for s in publish["steps"] if str(s.get("uses", "")).startswith("docker/login-action")
    )
    assert login["with"]["registry"] == "ghcr.io"
    assert login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"
    (push,) = workflow("gitops-push.yml")["jobs"].values()
    commit = next(script for script in runs(push) if "git commit" in script)
    assert "[skip ci]" in commit


def ci_run_commands(text: str) -> list[str]:
    """The commands of a shell script, continuation lines joined, comments dropped."""
    lines = text.replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# `up` options for the cluster it starts on this machine, which --existing refuses.
LOCAL_CLUSTER_ONLY = {"--fresh"}


def e2e_violations(ci_run: str, cd: dict[str, Any]) -> list[str]:
    """The end-to-end job must run .ci/run's cluster command (against the throw-away
    cluster's kubeconfig: --existing) and then its gitops suite, unchanged."""
    commands = ci_run_commands(ci_run)
    # The stage's own `up`, with no options but those of the local cluster alone (the
    # throw-away cluster is a new one anyway).
    up = next(
        (
            c.split(" -- ")[0]
            for c in commands
            if "pants run src/todo/cluster:up" in c
            and set(c.partition(" -- ")[2].split()) <= LOCAL_CLUSTER_ONLY
        ),
        None,
    )
    suite = next((c for c in commands if "TODO_TEST_SUITES=gitops" in c), None)
    if up is None or suite is None:
        return [".ci/run: runs no cluster command or no gitops suite"]
    found: list[str] = []
    e2e = runs(cd["jobs"]["e2e"])
    existing = [i for i, run in enumerate(e2e) if run.startswith(f"{up} -- --existing")]
    if not existing:
        found.append(f"e2e: never runs `{up} -- --existing`")
    if suite not in e2e:
        found.append(f"e2e: never runs `{suite}`")
    elif existing and existing[0] > e2e.index(suite):
        found.append("e2e: runs the suite before the cluster command")
    return found


def test_the_end_to_end_job_runs_the_cluster_command_and_suite_of_ci_run() -> None:
    """The pipeline's own end-to-end test is what .ci/run runs: the same cluster command
    (against the throw-away cluster's kubeconfig) and the same gitops suite."""
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert e2e_violations(ci_run, workflow("cd.yml")) == []


def test_the_end_to_end_check_reports_another_suite_or_command() -> None:
    ci_run = (ROOT / ".ci" / "run").read_text()
    other_suite = copy.deepcopy(workflow("cd.yml"))
    for step in other_suite["jobs"]["e2e"]["steps"]:
        if "TODO_TEST_SUITES=gitops" in str(step.get("run", "")):
            step["run"] = "TODO_TEST_SUITES=gitops ./pants test tests/gitops/argocd_test.py"
    suite = next(c for c in ci_run_commands(ci_run) if "TODO_TEST_SUITES=gitops" in c)
    assert e2e_violations(ci_run, other_suite) == [f"e2e: never runs `{suite}`"]
    other_up = ci_run.replace(
        "./pants run src/todo/cluster:up -- --fresh\n",
        "./pants run src/todo/cluster:up --verbose -- --fresh\n",
        1,
    )
    assert other_up != ci_run
    assert e2e_violations(other_up, workflow("cd.yml")) == [
        "e2e: never runs `./pants run src/todo/cluster:up --verbose -- --existing`"
    ]
