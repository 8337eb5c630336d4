"""The GitHub Actions workflows: actionlint, and the properties CI and CD rely on."""

from __future__ import annotations

import re
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
# owner/name@vN (a major version or more precise), or a full commit SHA.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(WORKFLOWS / name)
    return loaded


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    on: dict[str, Any] = doc["on"] if "on" in doc else dict(doc)[True]  # type: ignore[index]
    return on


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def test_actionlint_accepts_the_workflows(actionlint: str) -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
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


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_actions_are_pinned_and_runs_are_grouped(name: str) -> None:
    doc = workflow(name)
    for step in steps(doc):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
    assert doc["concurrency"]["group"]
    assert doc["permissions"] == {"contents": "read"}


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
    (job,) = doc["jobs"].values()
    assert "github-actions[bot]" in job["if"]
    assert "[skip ci]" in job["if"]
    assert job["permissions"] == {"contents": "write", "packages": "write"}
    assert job["env"]["GIT_SHA"] == "${{ github.sha }}"
    assert doc["concurrency"]["cancel-in-progress"] is False
    runs = [str(step.get("run", "")) for step in job["steps"]]
    assert runs.index("./pants package src/docker::") < runs.index("./pants publish src/docker::")
    login = next(
        s for s in job["steps"] if str(s.get("uses", "")).startswith("docker/login-action")
    )
    assert login["with"]["registry"] == "ghcr.io"
    assert login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"
    commit = next(run for run in runs if "git commit" in run)
    assert "[skip ci]" in commit
    assert "git add gitops/envs" in commit
