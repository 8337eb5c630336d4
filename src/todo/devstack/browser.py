"""Debian's Chromium for browser tests and benchmarks: where it is and how to start it here
(as root, without a sandbox, and without the background connections a closed network
refuses)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """TODO_TEST_CHROMIUM, else `chromium` on PATH; None when neither exists."""
    path = os.environ.get("TODO_TEST_CHROMIUM") or shutil.which("chromium") or ""
    return path if path and Path(path).exists() else None
