"""Set a service's image tag in one environment: ``gitops/envs/<env>/images.yaml``.

That file is the only place an environment's image tags live: the app-of-apps chart
(``gitops/apps``) hands ``<service>.image.tag`` to the service's chart as ``image.tag``.
CD (``.github/workflows/cd.yml``) runs this after pushing the images of a commit:

    python gitops/bump_image_tag.py --env minikube --service backend --tag <git sha>
    python gitops/bump_image_tag.py --env minikube --env aks --service backend \\
        --service worker --tag "$GITHUB_SHA"

Everything is checked before anything is written; each file is replaced whole (a
temporary file renamed over it), keeping its comments and quoting. Exit codes: 0 some tag
changed, 2 an error (the message says how to fix it), 3 every tag already had that value
(nothing written).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

GITOPS_DIR = Path(__file__).resolve().parent
ENVS_DIRNAME = "envs"
IMAGES_FILE = "images.yaml"
SERVICES = ("backend", "worker")
# Under each service: the keys of its tag (images.yaml `<service>.image.tag`).
TAG_PATH = ("image", "tag")
# Images are tagged with the commit SHA only (src/docker/*/BUILD: image_tags GIT_SHA).
TAG_PATTERN = re.compile(r"[0-9a-f]{7,40}")

EXIT_CHANGED = 0
EXIT_ERROR = 2
EXIT_UNCHANGED = 3


class BumpError(Exception):
    """A problem the caller can fix; the message says how."""


@dataclass(frozen=True)
class Change:
    path: Path
    service: str
    old: str
    new: str


def environments(gitops_dir: Path) -> list[str]:
    """The environments: the folders of ``gitops/envs``."""
    envs_dir = gitops_dir / ENVS_DIRNAME
    if not envs_dir.is_dir():
        raise BumpError(f"{envs_dir} is not a directory: pass --gitops-dir <repo>/gitops")
    return sorted(p.name for p in envs_dir.iterdir() if p.is_dir())


def images_path(gitops_dir: Path, env: str) -> Path:
    return gitops_dir / ENVS_DIRNAME / env / IMAGES_FILE


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments, key order and quotes survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _load(path: Path) -> CommentedMap:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BumpError(
            f"{path} is missing: restore it from git, or create it with "
            + " and ".join(f"{s}.{'.'.join(TAG_PATH)}" for s in SERVICES)
        ) from None
    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        raise BumpError(f"{path} is not valid YAML ({exc}): fix it by hand first") from None
    if not isinstance(data, CommentedMap):
        raise BumpError(f"{path} must be a YAML mapping of service -> image -> tag")
    return data


def _tag_parent(data: CommentedMap, path: Path, service: str) -> CommentedMap:
    node: object = data
    for key in (service, *TAG_PATH[:-1]):
        if not isinstance(node, CommentedMap) or key not in node:
            raise BumpError(
                f"{path} has no {service}.{'.'.join(TAG_PATH)}: add it "
                f'({service}: {{image: {{tag: "<sha>"}}}})'
            )
        node = node[key]
    if not isinstance(node, CommentedMap) or TAG_PATH[-1] not in node:
        raise BumpError(
            f"{path} has no {service}.{'.'.join(TAG_PATH)}: add it "
            f'({service}: {{image: {{tag: "<sha>"}}}})'
        )
    if not isinstance(node[TAG_PATH[-1]], str):
        raise BumpError(f'{path}: {service}.{".".join(TAG_PATH)} must be a quoted string')
    return node


def validate_tag(tag: str) -> str:
    if not TAG_PATTERN.fullmatch(tag):
        raise BumpError(
            f"malformed tag {tag!r}: images are tagged with the git commit SHA they were "
            'built from (7 to 40 lowercase hex characters), e.g. --tag "$GITHUB_SHA"'
        )
    return tag


def current_tags(gitops_dir: Path, env: str) -> dict[str, str]:
    """Each service's tag in one environment, checked as strictly as a bump checks it."""
    path = images_path(gitops_dir, env)
    data = _load(path)
    return {s: str(_tag_parent(data, path, s)[TAG_PATH[-1]]) for s in SERVICES}


def _check_envs(gitops_dir: Path, envs: Sequence[str]) -> None:
    valid_envs = environments(gitops_dir)
    for env in envs:
        if env not in valid_envs:
            raise BumpError(
                f"unknown environment {env!r}: valid ones are {', '.join(valid_envs)} "
                f"(the folders of {gitops_dir / ENVS_DIRNAME}); for a new one create "
                f"{images_path(gitops_dir, env)}"
            )


def plan(
    gitops_dir: Path, envs: Sequence[str], services: Sequence[str], tag: str
) -> tuple[list[Change], list[Change], dict[Path, str]]:
    """Check everything; return the changes, the no-ops and each changed file's new text."""
    return plan_tags(gitops_dir, envs, dict.fromkeys(services, tag))


def plan_tags(
    gitops_dir: Path, envs: Sequence[str], tags: Mapping[str, str]
) -> tuple[list[Change], list[Change], dict[Path, str]]:
    """`plan` with a tag of its own for each service (a promotion copies them)."""
    for tag in tags.values():
        validate_tag(tag)
    _check_envs(gitops_dir, envs)
    for service in tags:
        if service not in SERVICES:
            raise BumpError(f"unknown service {service!r}: valid ones are {', '.join(SERVICES)}")
    changes: list[Change] = []
    unchanged: list[Change] = []
    texts: dict[Path, str] = {}
    for env in dict.fromkeys(envs):
        path = images_path(gitops_dir, env)
        data = _load(path)
        touched = False
        for service, tag in tags.items():
            parent = _tag_parent(data, path, service)
            old = str(parent[TAG_PATH[-1]])
            change = Change(path=path, service=service, old=old, new=tag)
            if old == tag:
                unchanged.append(change)
                continue
            parent[TAG_PATH[-1]] = DoubleQuotedScalarString(tag)
            changes.append(change)
            touched = True
        if touched:
            out = io.StringIO()
            _yaml().dump(data, out)
            texts[path] = out.getvalue()
    return changes, unchanged, texts


def apply(changes: Sequence[Change], unchanged: Sequence[Change], texts: Mapping[Path, str]) -> int:
    """Write a plan and report it: the exit code of the command line."""
    for path, text in texts.items():
        write_atomically(path, text)
    for change in unchanged:
        print(f"{change.path}: {change.service} already at {change.new}", file=sys.stderr)
    if not changes:
        print("unchanged: every tag already had that value; nothing written", file=sys.stderr)
        return EXIT_UNCHANGED
    for change in changes:
        print(f"{change.path}: {change.service} {change.old} -> {change.new}")
    return EXIT_CHANGED


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` whole: readers see the old file or the new one, never a part."""
    mode = path.stat().st_mode & 0o777
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python gitops/bump_image_tag.py",
        description="Set the image tag of services in gitops/envs/<env>/images.yaml.",
    )
    parser.add_argument(
        "--env",
        dest="envs",
        action="append",
        required=True,
        metavar="ENV",
        help="environment (a folder of gitops/envs); repeat for several",
    )
    parser.add_argument(
        "--service",
        dest="services",
        action="append",
        required=True,
        metavar="SERVICE",
        help=f"one of {', '.join(SERVICES)}; repeat for several",
    )
    parser.add_argument("--tag", required=True, help="the git commit SHA the images carry")
    parser.add_argument(
        "--gitops-dir",
        type=Path,
        default=GITOPS_DIR,
        help="the gitops folder (default: the one this script is in)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    gitops_dir: Path = args.gitops_dir
    try:
        return apply(*plan(gitops_dir, args.envs, args.services, args.tag))
    except BumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
