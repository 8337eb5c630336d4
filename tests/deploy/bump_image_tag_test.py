"""gitops/bump_image_tag.py, on copies of gitops/ in tmp_path."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from bump_image_tag import (
    EXIT_CHANGED,
    EXIT_ERROR,
    EXIT_UNCHANGED,
    main,
    write_atomically,
)
from deploy.render import ROOT, load_yaml

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    copy = tmp_path / "gitops"
    shutil.copytree(ROOT / "gitops" / "envs", copy / "envs")
    return copy


def run(gitops: Path, *args: str) -> int:
    return main(["--gitops-dir", str(gitops), *args])


def tag(gitops: Path, env: str, service: str) -> str:
    value: str = load_yaml(gitops / "envs" / env / "images.yaml")[service]["image"]["tag"]
    return value


def snapshot(gitops: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(gitops)): p.read_bytes() for p in sorted(gitops.rglob("*")) if p.is_file()
    }


def test_bumps_one_service_and_keeps_everything_else(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = gitops / "envs" / "minikube" / "images.yaml"
    before = path.read_text()
    old = tag(gitops, "minikube", "backend")
    assert run(gitops, "--env", "minikube", "--service", "backend", "--tag", SHA) == EXIT_CHANGED
    after = path.read_text()
    assert tag(gitops, "minikube", "backend") == SHA
    assert tag(gitops, "minikube", "worker") == old
    # Only the one line changed: comments, order and quoting survive.
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [(f'    tag: "{old}"', f'    tag: "{SHA}"')]
    assert f"backend {old} -> {SHA}" in capsys.readouterr().out


def test_bumps_several_environments_and_services_at_once(gitops: Path) -> None:
    args = ["--tag", SHA, "--service", "backend", "--service", "worker"]
    for env in ("minikube", "aks", "gke", "oke"):
        args += ["--env", env]
    assert run(gitops, *args) == EXIT_CHANGED
    for env in ("minikube", "aks", "gke", "oke"):
        for service in ("backend", "worker"):
            assert tag(gitops, env, service) == SHA


def test_unchanged_tag_exits_3_and_writes_nothing(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = tag(gitops, "aks", "worker")
    path = gitops / "envs" / "aks" / "images.yaml"
    mtime = path.stat().st_mtime_ns
    assert run(gitops, "--env", "aks", "--service", "worker", "--tag", current) == EXIT_UNCHANGED
    assert path.stat().st_mtime_ns == mtime
    err = capsys.readouterr().err
    assert "already at" in err
    assert "nothing written" in err


def test_partly_unchanged_writes_the_rest(gitops: Path) -> None:
    assert run(gitops, "--env", "oke", "--service", "backend", "--tag", SHA) == EXIT_CHANGED
    args = ["--env", "oke", "--service", "backend", "--service", "worker", "--tag", SHA]
    assert run(gitops, *args) == EXIT_CHANGED
    assert tag(gitops, "oke", "worker") == SHA


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--env", "staging", "--service", "backend", "--tag", SHA],
            "unknown environment 'staging': valid ones are aks, gke, minikube, oke",
        ),
        (
            ["--env", "aks", "--service", "frontend", "--tag", SHA],
            "unknown service 'frontend': valid ones are backend, worker",
        ),
        (
            ["--env", "aks", "--service", "backend", "--tag", "latest"],
            "malformed tag 'latest': images are tagged with the git commit SHA",
        ),
        (
            ["--env", "aks", "--service", "backend", "--tag", SHA.upper()],
            "malformed tag",
        ),
        (
            ["--env", "aks", "--service", "backend", "--tag", "abc12"],
            "7 to 40 lowercase hex characters",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    gitops: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = snapshot(gitops)
    assert run(gitops, *args) == EXIT_ERROR
    assert message in capsys.readouterr().err
    assert snapshot(gitops) == before


def test_missing_file_names_the_fix(gitops: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (gitops / "envs" / "gke" / "images.yaml").unlink()
    assert run(gitops, "--env", "gke", "--service", "backend", "--tag", SHA) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "gke/images.yaml is missing" in err
    assert "backend.image.tag and worker.image.tag" in err


def test_a_file_without_the_key_or_broken_yaml_is_refused(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = gitops / "envs" / "aks" / "images.yaml"
    path.write_text("backend:\n  image:\n    repository: x\n")
    assert run(gitops, "--env", "aks", "--service", "backend", "--tag", SHA) == EXIT_ERROR
    assert "has no backend.image.tag" in capsys.readouterr().err
    path.write_text("backend: [unclosed\n")
    assert run(gitops, "--env", "aks", "--service", "backend", "--tag", SHA) == EXIT_ERROR
    assert "is not valid YAML" in capsys.readouterr().err


def test_one_bad_environment_stops_every_write(gitops: Path) -> None:
    """Everything is checked first: a broken later file leaves the earlier ones alone."""
    (gitops / "envs" / "oke" / "images.yaml").write_text("worker: {}\n")
    before = snapshot(gitops)
    args = ["--env", "aks", "--env", "oke", "--service", "backend", "--tag", SHA]
    assert run(gitops, *args) == EXIT_ERROR
    assert snapshot(gitops) == before


def test_missing_arguments_are_usage_errors(gitops: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run(gitops, "--env", "aks", "--tag", SHA)
    assert exc.value.code == EXIT_ERROR


def test_write_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["images.yaml"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "images.yaml"
    path.write_text("old\n")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["images.yaml"]


def test_runs_as_a_script(gitops: Path) -> None:
    script = ROOT / "gitops" / "bump_image_tag.py"
    args = [str(script), "--gitops-dir", str(gitops), "--env", "minikube", "--service", "worker"]
    # The child sees the same packages as this test (ruamel.yaml), under Pants too.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def script_exit(*more: str) -> int:
        result = subprocess.run(
            [sys.executable, *args, *more], env=env, capture_output=True, text=True, check=False
        )
        return result.returncode

    assert script_exit("--tag", SHA) == EXIT_CHANGED
    assert script_exit("--tag", SHA) == EXIT_UNCHANGED
    assert script_exit("--tag", "nope") == EXIT_ERROR
