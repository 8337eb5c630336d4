"""The fault suite's full disk is full even while the broker keeps writing (a single
fallocate of the free space measured a moment earlier failed as a whole, so a scenario
ran with a broker that never noticed)."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults.disk import PAGE, fill


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", "-l", str(tmp_path)], check=False)


def test_fill_leaves_no_room_while_another_writer_appends(small_filesystem: Path) -> None:
    stop = threading.Event()
    refused = threading.Event()

    def append() -> None:
        with open(small_filesystem / "segment.log", "ab", buffering=0) as log:
            while not stop.is_set():
                try:
                    log.write(b"x" * 1000)
                except OSError:
                    refused.set()
                stop.wait(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        free = fill(small_filesystem / "filler")
        assert free < PAGE, f"{free} bytes still free"
        assert refused.wait(10), "the writer's appends still succeed"
    finally:
        stop.set()
        writer.join()
    (small_filesystem / "filler").unlink()
    with open(small_filesystem / "segment.log", "ab") as log:
        log.write(b"x" * 1000)  # freeing the filler gives the room back
