"""Where the devstack keeps downloads and builds (Kafka jars, daprd, Helm): never inside
the repository. `TODO_DEVSTACK_CACHE` moves it; the default follows XDG."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    explicit = os.environ.get("TODO_DEVSTACK_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "todo-devstack"
