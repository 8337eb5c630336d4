"""Filling a filesystem while a process keeps writing to it (the broker's full disk)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

PAGE = 4096


def fill(filler: Path) -> int:
    """Allocates every free block of the filesystem that holds `filler` to that file, and
    returns the bytes still free.

    The broker keeps writing meanwhile, so one allocation of the free space measured a
    moment before fails as a whole (tmpfs undoes a failed fallocate) and fills nothing:
    allocate again from what is free now, halving the request on ENOSPC, until less than
    a page is left."""
    directory = filler.parent
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        request = shutil.disk_usage(directory).free
        while request >= PAGE:
            try:
                os.posix_fallocate(fd, os.fstat(fd).st_size, request)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                request //= 2
                continue
            request = shutil.disk_usage(directory).free
    finally:
        os.close(fd)
    return shutil.disk_usage(directory).free
