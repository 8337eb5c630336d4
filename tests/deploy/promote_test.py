"""gitops/promote.py, on copies of gitops/ in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bump_image_tag import EXIT_CHANGED, EXIT_ERROR, EXIT_UNCHANGED
from bump_image_tag import main as bump
from deploy.render import ROOT, environments, load_yaml
from promote import CHAIN
from promote import main as promote

BACKEND = "1111111111111111111111111111111111111111"
WORKER = "2222222222222222222222222222222222222222"


@pytest.fixture
def gitops(tmp_path: Path) -> Path:
    copy = tmp_path / "gitops"
    shutil.copytree(ROOT / "gitops" / "envs", copy / "envs")
    return copy


def tags(gitops: Path, env: str) -> dict[str, str]:
    images = load_yaml(gitops / "envs" / env / "images.yaml")
    return {service: images[service]["image"]["tag"] for service in ("backend", "worker")}


def files(gitops: Path) -> dict[str, bytes]:
    return {str(p.relative_to(gitops)): p.read_bytes() for p in sorted(gitops.rglob("*.yaml"))}


def deploy_to_minikube(gitops: Path) -> None:
    """What CD does after the end-to-end test: each service at a tag of its own."""
    for service, tag in (("backend", BACKEND), ("worker", WORKER)):
        argv = ["--gitops-dir", str(gitops), "--env", "minikube", "--service", service]
        assert bump([*argv, "--tag", tag]) == EXIT_CHANGED


def test_the_chain_holds_every_environment_once() -> None:
    assert sorted(CHAIN) == environments()
    assert CHAIN[0] == "minikube"


def test_each_promotion_moves_exactly_one_environment_one_step(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_to_minikube(gitops)
    before = {env: tags(gitops, env) for env in CHAIN}
    assert promote(["--gitops-dir", str(gitops), "--to", "aks"]) == EXIT_CHANGED
    assert tags(gitops, "aks") == {"backend": BACKEND, "worker": WORKER}
    for env in ("minikube", "gke", "oke"):
        assert tags(gitops, env) == before[env], env
    assert f"promoting minikube -> aks: backend {BACKEND}, worker {WORKER}" in (
        capsys.readouterr().out
    )
    # gke gets what aks runs now, and oke still what it ran.
    assert promote(["--gitops-dir", str(gitops), "--to", "gke"]) == EXIT_CHANGED
    assert tags(gitops, "gke") == tags(gitops, "aks")
    assert tags(gitops, "oke") == before["oke"]


def test_a_tag_that_did_not_pass_the_previous_environment_cannot_arrive(gitops: Path) -> None:
    """oke takes gke's tags even though minikube moved on: nothing skips a step."""
    deploy_to_minikube(gitops)
    assert promote(["--gitops-dir", str(gitops), "--to", "oke"]) in (EXIT_CHANGED, EXIT_UNCHANGED)
    assert tags(gitops, "oke") == tags(gitops, "gke")
    assert tags(gitops, "oke") != tags(gitops, "minikube")


def test_promoting_what_already_runs_writes_nothing(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_to_minikube(gitops)
    assert promote(["--gitops-dir", str(gitops), "--to", "aks"]) == EXIT_CHANGED
    before = files(gitops)
    assert promote(["--gitops-dir", str(gitops), "--to", "aks"]) == EXIT_UNCHANGED
    assert files(gitops) == before
    assert "nothing written" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("minikube", "minikube follows main (CD bumps it after the end-to-end test)"),
        ("staging", "unknown environment 'staging': promote one of aks, gke, oke"),
    ],
)
def test_a_target_outside_the_chain_is_refused(
    gitops: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    before = files(gitops)
    assert promote(["--gitops-dir", str(gitops), "--to", target]) == EXIT_ERROR
    assert message in capsys.readouterr().err
    assert files(gitops) == before


def test_an_environment_missing_from_the_chain_is_refused(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(gitops / "envs" / "oke", gitops / "envs" / "eks")
    assert promote(["--gitops-dir", str(gitops), "--to", "aks"]) == EXIT_ERROR
    assert "eks are not in the promotion chain" in capsys.readouterr().err


def test_a_broken_source_file_stops_the_promotion(
    gitops: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (gitops / "envs" / "minikube" / "images.yaml").write_text('backend:\n  image:\n    tag: "x"\n')
    before = files(gitops)
    assert promote(["--gitops-dir", str(gitops), "--to", "aks"]) == EXIT_ERROR
    assert "has no worker.image.tag" in capsys.readouterr().err
    assert files(gitops) == before


def test_runs_as_a_script(gitops: Path) -> None:
    deploy_to_minikube(gitops)
    script = ROOT / "gitops" / "promote.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, str(script), "--gitops-dir", str(gitops), "--to", "aks"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_CHANGED, result.stderr
    assert tags(gitops, "aks") == {"backend": BACKEND, "worker": WORKER}
