"""Promote image tags one environment along the chain minikube -> aks -> gke -> oke.

``minikube`` follows ``main``: CD bumps it to every commit whose images passed the
end-to-end test on a throw-away cluster. Every later environment only ever receives the
tags the environment before it runs, one environment per promotion
(``.github/workflows/promote.yml``, behind the target environment's approval):

    python gitops/promote.py --to aks      # aks gets the tags of minikube
    python gitops/promote.py --to gke      # gke gets the tags of aks

Nothing else can be promoted: no tag on the command line, no skipping an environment.
Exit codes as ``bump_image_tag.py``: 0 some tag changed, 2 an error (the message says how
to fix it), 3 the target already runs those tags (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bump_image_tag import (
    EXIT_ERROR,
    GITOPS_DIR,
    BumpError,
    apply,
    current_tags,
    environments,
    plan_tags,
)

# The promotion order; the first environment follows main and is never promoted to.
CHAIN = ("minikube", "aks", "gke", "oke")


def source_of(target: str, gitops_dir: Path) -> str:
    """The environment whose tags ``target`` receives: the one before it in CHAIN."""
    unchained = sorted(set(environments(gitops_dir)) - set(CHAIN))
    if unchained:
        raise BumpError(
            f"environment(s) {', '.join(unchained)} are not in the promotion chain: add them "
            "to CHAIN in gitops/promote.py"
        )
    if target == CHAIN[0]:
        raise BumpError(
            f"{CHAIN[0]} follows main (CD bumps it after the end-to-end test); promote one "
            f"of {', '.join(CHAIN[1:])}"
        )
    if target not in CHAIN:
        raise BumpError(f"unknown environment {target!r}: promote one of {', '.join(CHAIN[1:])}")
    return CHAIN[CHAIN.index(target) - 1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python gitops/promote.py",
        description="Give one environment the image tags of the environment before it "
        f"({' -> '.join(CHAIN)}).",
    )
    parser.add_argument("--to", required=True, metavar="ENV", help=", ".join(CHAIN[1:]))
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
        source = source_of(args.to, gitops_dir)
        tags = current_tags(gitops_dir, source)
        print(f"promoting {source} -> {args.to}: " + ", ".join(f"{s} {t}" for s, t in tags.items()))
        return apply(*plan_tags(gitops_dir, [args.to], tags))
    except BumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
