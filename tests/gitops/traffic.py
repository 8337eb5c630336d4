"""A steady stream of requests through the ingress while Argo CD rolls something out: one
user creates a task and asks the version, about five times a second each, and every
answer is kept. Afterwards: which requests failed, which accepted writes are missing,
which versions answered (each change, in order)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

PAUSE_SECONDS = 0.1
# After the block: a rollout that ends with it is still watched for a while.
TRAILING_SECONDS = 5.0


@dataclass(frozen=True)
class Failure:
    at: float
    request: str
    outcome: str

    def __str__(self) -> str:
        return f"{self.at:.1f}s {self.request}: {self.outcome}"


@dataclass
class Traffic:
    base_url: str
    host: str
    token: str = ""
    requests: int = 0
    failures: list[Failure] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def client(self) -> httpx.Client:
        headers = {"Host": self.host}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def sign_up(self, patience: float = 180.0) -> None:
        """A new account. The cluster suite before this one signs up from the same address,
        which the backend lets sign up only a few times a minute: a 429 is waited out for
        the Retry-After it names, as a client should."""
        email = f"steady-{uuid.uuid4().hex[:10]}@example.com"
        deadline = time.monotonic() + patience
        with self.client() as client:
            while True:
                response = client.post(
                    "/api/v1/auth/register",
                    json={"email": email, "password": "correct horse battery"},
                )
                if response.status_code != 429:
                    break
                retry_after = float(response.headers["Retry-After"])
                if time.monotonic() + retry_after > deadline:
                    break
                time.sleep(retry_after)
        response.raise_for_status()
        self.token = str(response.json()["access_token"])

    def _call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any | None:
        """One request; its JSON body, or None (the failure recorded)."""
        self.requests += 1
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 400:
                return response.json()
            outcome = f"HTTP {response.status_code} {response.text[:200]}"
        self.failures.append(Failure(time.monotonic() - self.started, f"{method} {path}", outcome))
        return None

    def run(self, stop: threading.Event) -> None:
        with self.client() as client:
            n = 0
            while not stop.is_set():
                n += 1
                task = self._call(client, "POST", "/api/v1/tasks", json={"title": f"steady {n}"})
                if task is not None:
                    self.created.append(str(task["id"]))
                answer = self._call(client, "GET", "/api/v1/version")
                if answer is not None:
                    served = str(answer["version"])
                    if not self.versions or self.versions[-1] != served:
                        self.versions.append(served)
                time.sleep(PAUSE_SECONDS)

    def wait_for_version(self, version: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while version not in self.versions:
            if time.monotonic() > deadline:
                raise AssertionError(f"the steady requests never saw {version}: {self.versions}")
            time.sleep(0.2)

    def lost_writes(self) -> list[str]:
        """Tasks that were created (201) but cannot be read back."""
        with self.client() as client:
            return [t for t in self.created if client.get(f"/api/v1/tasks/{t}").status_code != 200]


@contextmanager
def steady_traffic(base_url: str, host: str) -> Iterator[Traffic]:
    """Requests run while the block runs, and TRAILING_SECONDS after it."""
    traffic = Traffic(base_url, host)
    traffic.sign_up()
    stop = threading.Event()
    thread = threading.Thread(target=traffic.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield traffic
        time.sleep(TRAILING_SECONDS)
    finally:
        stop.set()
        thread.join(timeout=30)
