"""Talking to the cluster with the official ``kubernetes`` client: server-side apply of
manifests, waits, exec and port-forward. Every helper takes an ``ApiClient`` made from a
kubeconfig (``client()``), so the local cluster and an existing one are driven alike."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.stream import portforward, stream

FIELD_MANAGER = "todo-cluster"
Manifest = dict[str, Any]


class ClusterError(RuntimeError):
    """The cluster refused or did not reach a state in time; the message says which."""


def client(kubeconfig: Path | None = None, context: str | None = None) -> k8s.ApiClient:
    """An API client for ``kubeconfig`` (default: $KUBECONFIG or ~/.kube/config)."""
    made: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig) if kubeconfig else None, context=context
    )
    return made


def dynamic(api: k8s.ApiClient) -> DynamicClient:
    return DynamicClient(api)  # type: ignore[no-untyped-call]


def load_manifests(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def apply(api: k8s.ApiClient, manifests: Iterable[Manifest]) -> list[str]:
    """Server-side apply of each manifest (as field manager ``todo-cluster``, taking over
    conflicting fields); the names of the objects that changed (a new resourceVersion)."""
    resources = dynamic(api).resources
    changed: list[str] = []
    for manifest in manifests:
        resource = resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        metadata = manifest["metadata"]
        namespace = metadata.get("namespace") if resource.namespaced else None
        before: str | None = None
        with contextlib.suppress(ApiException):
            before = resource.get(
                name=metadata["name"], namespace=namespace
            ).metadata.resourceVersion
        applied = resource.server_side_apply(
            body=manifest,
            name=metadata["name"],
            namespace=namespace,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        if applied.metadata.resourceVersion != before:
            changed.append(f"{manifest['kind']}/{metadata['name']}")
    return changed


def delete(api: k8s.ApiClient, manifests: Iterable[Manifest]) -> None:
    """Delete each object (absent ones are fine), in reverse order."""
    resources = dynamic(api).resources
    for manifest in reversed(list(manifests)):
        resource = resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        namespace = manifest["metadata"].get("namespace") if resource.namespaced else None
        with contextlib.suppress(ApiException):
            resource.delete(
                name=manifest["metadata"]["name"],
                namespace=namespace,
                body={"propagationPolicy": "Background"},
            )


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, describe: Callable[[], str] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except ApiException as exc:
            if exc.status not in (404, 409, 500, 503):
                raise
        if time.monotonic() > deadline:
            detail = f": {describe()}" if describe else ""
            raise ClusterError(f"{what} did not happen within {timeout:.0f}s{detail}")
        time.sleep(1)


def wait_until_none(
    what: str, pending: Callable[[], list[str]], timeout: float, still: str
) -> None:
    """Until ``pending()`` names nothing; on timeout the error lists, after ``still``, what
    it named last."""
    left: list[str] = []

    def none_left() -> bool:
        left[:] = pending()
        return not left

    wait_until(what, none_left, timeout, lambda: f"{still}: {', '.join(left)}")


def pod_log(
    api: k8s.ApiClient, namespace: str, pod: str, container: str, since_seconds: int | None = None
) -> str:
    """A container's current log, as text. Read raw: the client would parse a log that
    happens to be one JSON document."""
    kwargs: dict[str, Any] = {"container": container, "_preload_content": False}
    if since_seconds is not None:
        kwargs["since_seconds"] = since_seconds
    response: Any = k8s.CoreV1Api(api).read_namespaced_pod_log(pod, namespace, **kwargs)
    return bytes(response.data).decode("utf-8", errors="replace")


def pods(api: k8s.ApiClient, namespace: str, selector: str = "") -> list[k8s.V1Pod]:
    return list(k8s.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items)


def pod_ready(pod: k8s.V1Pod) -> bool:
    if pod.metadata is None or pod.metadata.deletion_timestamp is not None:
        return False
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def name_of(obj: Any) -> str:
    """``metadata.name`` of a typed API object."""
    metadata = getattr(obj, "metadata", None)
    return str(metadata.name) if metadata is not None else "?"


def ready_pod(api: k8s.ApiClient, namespace: str, selector: str) -> str:
    """The name of a Ready pod matching ``selector``; ClusterError (with the pods) if none."""
    for pod in pods(api, namespace, selector):
        if pod_ready(pod):
            return name_of(pod)
    raise ClusterError(
        f"no pod {selector} is Ready in {namespace}:\n{describe_pods(api, namespace, selector)}"
    )


def describe_pods(api: k8s.ApiClient, namespace: str, selector: str = "") -> str:
    lines = []
    for pod in pods(api, namespace, selector):
        states = []
        phase = pod.status.phase if pod.status else None
        for status in (pod.status.container_statuses if pod.status else None) or []:
            state = status.state
            if state is None:
                continue
            if state.waiting:
                states.append(
                    f"{status.name}: waiting ({state.waiting.reason}: {state.waiting.message})"
                )
            elif state.terminated:
                ended = state.terminated
                states.append(f"{status.name}: terminated ({ended.reason}, exit {ended.exit_code})")
            else:
                states.append(f"{status.name}: running, ready={status.ready}")
        lines.append(f"{name_of(pod)} [{phase}] " + "; ".join(states))
    return "\n".join(lines) or "no pods"


def wait_pods_ready(
    api: k8s.ApiClient, namespace: str, selector: str = "", timeout: float = 300
) -> None:
    def ready() -> bool:
        found = pods(api, namespace, selector)
        return bool(found) and all(pod_ready(p) for p in found)

    wait_until(
        f"pods {selector or '(all)'} in {namespace} Ready",
        ready,
        timeout,
        lambda: describe_pods(api, namespace, selector),
    )


def wait_rollout(
    api: k8s.ApiClient, namespace: str, kind: str, name: str, timeout: float = 300
) -> None:
    """A Deployment or StatefulSet has every replica updated and ready."""
    apps = k8s.AppsV1Api(api)

    def done() -> bool:
        obj: k8s.V1Deployment | k8s.V1StatefulSet = (
            apps.read_namespaced_deployment(name, namespace)
            if kind == "Deployment"
            else apps.read_namespaced_stateful_set(name, namespace)
        )
        status = obj.status
        if status is None or obj.spec is None or obj.metadata is None:
            return False
        wanted = obj.spec.replicas or 0
        # As `kubectl rollout status` judges it: while old pods remain (replicas counts
        # them), a surge pod updated and a still-Ready old one would pass for done.
        return bool(
            (status.observed_generation or 0) >= (obj.metadata.generation or 0)
            and (status.updated_replicas or 0) == wanted
            and (status.replicas or 0) == wanted
            and (status.ready_replicas or 0) == wanted
        )

    wait_until(
        f"{kind} {namespace}/{name} rolled out",
        done,
        timeout,
        lambda: describe_pods(api, namespace),
    )


def exec_in(
    api: k8s.ApiClient,
    namespace: str,
    pod: str,
    command: Sequence[str],
    container: str | None = None,
    timeout: float = 60,
) -> tuple[int, str, str]:
    """Run ``command`` in a container: (exit code, stdout, stderr)."""
    core = k8s.CoreV1Api(api)
    response = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        container=container,
        command=list(command),
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    out: list[str] = []
    err: list[str] = []
    deadline = time.monotonic() + timeout
    while response.is_open():
        response.update(timeout=1)
        if response.peek_stdout():
            out.append(response.read_stdout())
        if response.peek_stderr():
            err.append(response.read_stderr())
        if time.monotonic() > deadline:
            response.close()
            raise ClusterError(f"{' '.join(command)} in {namespace}/{pod} ran over {timeout:.0f}s")
    code = response.returncode
    response.close()
    return (code if code is not None else -1), "".join(out), "".join(err)


@contextlib.contextmanager
def port_forward(api: k8s.ApiClient, namespace: str, pod: str, port: int) -> Iterator[int]:
    """A listener on 127.0.0.1 whose connections reach ``port`` inside ``pod`` (its
    loopback too): yields the local port."""
    core = k8s.CoreV1Api(api)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.5)
    stop = threading.Event()

    def pump(source: Any, target: Any) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            forward = portforward(
                core.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port)
            )
            remote = forward.socket(port)
            remote.setblocking(True)
            threading.Thread(target=pump, args=(conn, remote), daemon=True).start()
            threading.Thread(target=pump, args=(remote, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        server.close()
        thread.join(timeout=2)


def secret_value(api: k8s.ApiClient, namespace: str, name: str, key: str) -> str:
    import base64

    secret = k8s.CoreV1Api(api).read_namespaced_secret(name, namespace)
    return base64.b64decode((secret.data or {})[key]).decode()


def ensure_secret(
    api: k8s.ApiClient, namespace: str, name: str, make: Callable[[], Mapping[str, str]]
) -> bool:
    """Create the Secret from ``make()`` unless it exists (its values are kept: a second
    ``up`` changes nothing). True if created."""
    core = k8s.CoreV1Api(api)
    try:
        core.read_namespaced_secret(name, namespace)
        return False
    except ApiException as exc:
        if exc.status != 404:
            raise
    body = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(
            name=name, namespace=namespace, labels={"app.kubernetes.io/managed-by": FIELD_MANAGER}
        ),
        string_data=dict(make()),
        type="Opaque",
    )
    core.create_namespaced_secret(namespace, body)
    return True
