"""The image registry on 127.0.0.1: the CNCF distribution registry (built here), its
storage kept across ``down``/``up`` (what was pushed stays pushed). ``./pants publish``
pushes our images to it; the local cluster's containerd pulls every image from it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import yaml

from todo.cluster.daemons import Daemon
from todo.devstack.ports import free_port


class LocalRegistry:
    def __init__(self, home: Path, binary: Path) -> None:
        self.home = home
        self.binary = binary

    @property
    def port(self) -> int:
        state = self.home / "state.json"
        try:
            return int(json.loads(state.read_text())["port"])
        except (OSError, ValueError, KeyError):
            port = free_port()
            self.home.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"port": port}) + "\n")
            return port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> Path:
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.home / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.address},
        }
        path = self.home / "config.yml"
        text = yaml.safe_dump(config, sort_keys=False)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return path

    def _ready(self) -> bool:
        try:
            return httpx.get(f"http://{self.address}/v2/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def daemon(self) -> Daemon:
        return Daemon(
            name="registry",
            argv=[str(self.binary), "serve", str(self._config())],
            run_dir=self.home / "run",
            log_dir=self.home / "logs",
            env={"OTEL_TRACES_EXPORTER": "none"},
            ready=self._ready,
        )
