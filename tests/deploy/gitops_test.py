"""GitOps: each environment's image tags live in one place, and CD bumps exactly that."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from bump_image_tag import IMAGES_FILE, SERVICES, TAG_PATTERN
from bump_image_tag import main as bump
from deploy import policies
from deploy.render import (
    ROOT,
    Environment,
    Helm,
    environments,
    load_yaml,
    make_workspace,
    render_environment,
)
from promote import CHAIN

ENVIRONMENTS = environments()
# minikube follows main; the rest move by promotion (gitops/promote.py).
FOLLOW_MAIN = CHAIN[:1]
PROMOTED = CHAIN[1:]
IMAGES = {"backend": "ghcr.io/todo-cloud/todo-backend", "worker": "ghcr.io/todo-cloud/todo-worker"}


def cd_workflow() -> Any:
    return load_yaml(ROOT / ".github" / "workflows" / "cd.yml")


def values_files(root: Path) -> dict[str, Any]:
    files = sorted((root / "charts").glob("*/values*.yaml"))
    files += [root / "gitops" / "apps" / "values.yaml"]
    files += sorted((root / "gitops" / "envs").glob("*/*.yaml"))
    return {str(p.relative_to(root)): load_yaml(p) for p in files}


def images_files(root: Path) -> list[str]:
    return [f"gitops/envs/{env}/{IMAGES_FILE}" for env in environments(root)]


def deployed_images(environment: Environment) -> dict[str, set[str]]:
    """Service -> every image its pods (Deployment and Job) run."""
    found: dict[str, set[str]] = {}
    for chart, docs in environment.charts.items():
        for doc in docs:
            spec = policies.pod_spec(doc)
            if spec is not None:
                service = chart.removeprefix("todo-")
                found.setdefault(service, set()).update(c["image"] for c in spec["containers"])
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_images_file_holds_a_sha_for_every_service(env: str) -> None:
    images = load_yaml(ROOT / "gitops" / "envs" / env / IMAGES_FILE)
    assert set(images) == set(SERVICES)
    for service in SERVICES:
        assert TAG_PATTERN.fullmatch(images[service]["image"]["tag"]), service


def test_image_tags_live_only_in_images_yaml() -> None:
    assert policies.tag_location_violations(values_files(ROOT), images_files(ROOT)) == []


def test_tag_location_policy_reports_a_second_place(tmp_path: Path) -> None:
    for part in ("charts", "gitops"):
        shutil.copytree(ROOT / part, tmp_path / part)
    backend = tmp_path / "gitops" / "envs" / "aks" / "backend.yaml"
    backend.write_text(backend.read_text() + 'image:\n  tag: "abc1234"\n')
    chart = tmp_path / "charts" / "todo-worker" / "values-cloud.yaml"
    chart.write_text(chart.read_text() + 'image:\n  tag: "abc1234"\n')
    assert policies.tag_location_violations(values_files(tmp_path), images_files(tmp_path)) == [
        "charts/todo-worker/values-cloud.yaml: sets image.tag; image tags live only in "
        "gitops/envs/<env>/images.yaml",
        "gitops/envs/aks/backend.yaml: sets image.tag; image tags live only in "
        "gitops/envs/<env>/images.yaml",
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_images_carry_the_images_yaml_tags(
    rendered: dict[str, Environment], env: str
) -> None:
    images = load_yaml(ROOT / "gitops" / "envs" / env / IMAGES_FILE)
    found = deployed_images(rendered[env])
    for service in SERVICES:
        assert found[service] == {f"{IMAGES[service]}:{images[service]['image']['tag']}"}
    assert set(found) == set(SERVICES)


def test_a_bump_reaches_the_rendered_deployments(helm: Helm, tmp_path: Path) -> None:
    """End to end: what the script edits is what the charts deploy, in every environment."""
    workspace = make_workspace(helm, tmp_path / "ws")
    new_tag = "0123456789abcdef0123456789abcdef01234567"
    argv = ["--gitops-dir", str(workspace / "gitops"), "--tag", new_tag]
    for env in ENVIRONMENTS:
        argv += ["--env", env]
    for service in SERVICES:
        argv += ["--service", service]
    assert bump(argv) == 0
    for env in ENVIRONMENTS:
        found = deployed_images(render_environment(helm, workspace, env))
        for service in SERVICES:
            assert found[service] == {f"{IMAGES[service]}:{new_tag}"}, (env, service)


def test_cd_bumps_minikube_to_the_published_tag_and_no_cloud_environment() -> None:
    assert policies.cd_tag_violations(cd_workflow(), FOLLOW_MAIN, PROMOTED, SERVICES) == []


def _bump_step(workflow: Any) -> dict[str, Any]:
    steps = workflow["jobs"]["bump"]["steps"]
    step: dict[str, Any] = next(s for s in steps if "bump_image_tag.py" in str(s.get("run")))
    return step


def test_cd_tag_policy_reports_a_missing_environment() -> None:
    workflow = copy.deepcopy(cd_workflow())
    step = _bump_step(workflow)
    step["run"] = step["run"].replace("--env minikube", "")
    found = policies.cd_tag_violations(workflow, FOLLOW_MAIN, PROMOTED, SERVICES)
    assert "cd: never bumps backend in minikube" in found
    assert "cd: never bumps worker in minikube" in found


def test_cd_tag_policy_reports_a_cloud_environment_bumped_without_promotion() -> None:
    workflow = copy.deepcopy(cd_workflow())
    step = _bump_step(workflow)
    step["run"] = step["run"].replace("--env minikube", "--env minikube --env gke --env aks")
    assert policies.cd_tag_violations(workflow, FOLLOW_MAIN, PROMOTED, SERVICES) == [
        "cd: bumps aks, which moves only by promotion (promote.yml)",
        "cd: bumps gke, which moves only by promotion (promote.yml)",
    ]


def test_cd_tag_policy_reports_a_tag_other_than_the_published_one() -> None:
    workflow = copy.deepcopy(cd_workflow())
    step = _bump_step(workflow)
    step["run"] = step["run"].replace('"$GIT_SHA"', '"${{ github.run_id }}"')
    assert policies.cd_tag_violations(workflow, FOLLOW_MAIN, PROMOTED, SERVICES) == [
        "cd: bumps tag 'github.run_id' but publishes github.sha"
    ]
    workflow = copy.deepcopy(cd_workflow())
    workflow["env"]["GIT_SHA"] = "${{ github.run_number }}"
    _bump_step(workflow)["env"] = {"GIT_SHA": "${{ github.sha }}"}
    assert policies.cd_tag_violations(workflow, FOLLOW_MAIN, PROMOTED, SERVICES) == [
        "cd: bumps tag 'github.sha' but publishes github.run_number"
    ]


def test_cd_tag_policy_reports_a_workflow_that_does_not_bump() -> None:
    workflow = copy.deepcopy(cd_workflow())
    steps = workflow["jobs"]["bump"]["steps"]
    steps.remove(_bump_step(workflow))
    found = policies.cd_tag_violations(workflow, FOLLOW_MAIN, PROMOTED, SERVICES)
    assert "cd: no step runs gitops/bump_image_tag.py" in found


def promote_workflow() -> Any:
    return load_yaml(ROOT / ".github" / "workflows" / "promote.yml")


def test_promotion_offers_each_promoted_environment_and_moves_only_it() -> None:
    doc = promote_workflow()
    on = doc["on"] if "on" in doc else doc[True]
    choice = on["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice"
    assert tuple(choice["options"]) == PROMOTED
    plan = doc["jobs"]["plan"]
    assert plan["env"]["TARGET"] == "${{ inputs.environment }}"
    runs = "\n".join(str(step.get("run", "")) for step in plan["steps"])
    assert 'gitops/promote.py --to "$TARGET"' in runs
    assert "bump_image_tag.py" not in runs
    push = doc["jobs"]["push"]
    assert push["uses"] == "./.github/workflows/gitops-push.yml"
    # The push waits for the target's GitHub environment (its required reviewers) and may
    # change that environment's images.yaml and nothing else.
    assert push["with"]["environment"] == "${{ inputs.environment }}"
    assert push["with"]["file"] == "gitops/envs/${{ inputs.environment }}/images.yaml"


def test_cd_pushes_the_bump_only_after_the_images_and_the_end_to_end_test() -> None:
    jobs = cd_workflow()["jobs"]
    assert set(jobs["bump"]["needs"]) == {"publish", "e2e"}
    assert jobs["push"]["needs"] == "bump"
    assert jobs["push"]["uses"] == "./.github/workflows/gitops-push.yml"
    assert jobs["push"]["with"]["environment"] == "minikube"
    assert jobs["push"]["with"]["file"] == "gitops/envs/minikube/images.yaml"
