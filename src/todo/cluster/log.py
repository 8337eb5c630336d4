"""The cluster command's progress lines (stderr; stdout carries only what scripts read)."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[cluster {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)
