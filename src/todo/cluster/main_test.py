"""What `up --prebuild` builds, and the priority it builds at."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from todo.cluster import argocd, builds, images, main
from todo.devstack import toolcache


def test_the_prebuild_takes_every_tool_of_the_cluster_but_none_of_the_devstack() -> None:
    prebuilt = main.cluster_only_tools()
    devstack = {(tool.name, tool.version) for tool in toolcache.devstack_tools()}
    assert not {(tool.name, tool.version) for tool in prebuilt} & devstack
    # What the prebuild leaves out, the devstack builds (before the tests, in the foreground).
    left_out = {(t.name, t.version) for t in main.TOOLS} - {(t.name, t.version) for t in prebuilt}
    assert left_out <= devstack
    for heavy in (builds.KUBERNETES, builds.TRAEFIK, argocd.ARGOCD, *images.ROOTFS_TOOLS):
        assert heavy in prebuilt


def _priority(queue: multiprocessing.Queue[tuple[int, int]]) -> None:
    main._take_idle_priority()
    queue.put((os.sched_getscheduler(0), os.nice(0)))


def test_the_prebuild_runs_at_idle_priority() -> None:
    # In a child process: the test process keeps its own priority.
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    child = context.Process(target=_priority, args=(queue,))
    child.start()
    policy, niceness = queue.get(timeout=60)
    child.join(timeout=60)
    assert policy == os.SCHED_IDLE
    assert niceness == 19
    assert os.sched_getscheduler(0) != os.SCHED_IDLE


def test_fresh_is_refused_for_an_existing_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.up(["--existing", "--fresh"])
    assert exited.value.code == 2
    assert "--fresh is for the local cluster" in capsys.readouterr().err
