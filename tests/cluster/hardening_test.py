"""Each forbidden path tried, from outside the cluster (the ingress on 127.0.0.1) and from
inside it (an arbitrary pod of the namespace, and the worker's own container), and seen
refused; and what the NetworkPolicies say, checked against the live objects.

What the CNI here can and cannot enforce: the local cluster's CNI is the reference
`bridge` plugin, which implements no NetworkPolicy at all. So every refusal tested below is
made by the workloads themselves (listeners on loopback, paths the public listener does not
serve, the Ingress's paths, Dapr's API token, mTLS, access control and secret scopes), and
holds on any cluster. The NetworkPolicies are checked as objects (who they select and
admit, against the real pods and namespaces); on a cluster whose CNI enforces them (Calico,
Cilium, the clouds' own) they also refuse the metrics port to everyone but the scraper.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from cluster import sidecars
from cluster.app import API, Ingress, signup
from kubernetes import client as k8s

from todo.cluster import install, kube

PROBE = "todo-test-probe"


# --------------------------------------------------------------------------- outside


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/internal/v1/tasks/00000000-0000-0000-0000-000000000000"),
        ("POST", "/internal/v1/tasks/x/reminders"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("POST", "/events/task-events"),
        ("POST", "/job/reminder-x"),
        ("GET", "/healthz"),
        ("GET", "/dapr/subscribe"),
    ],
)
def test_the_ingress_refuses_everything_but_the_web_app_and_the_api(
    ingress: Ingress, method: str, path: str
) -> None:
    with ingress.sync_client() as client:
        assert client.request(method, path).status_code == 404


def test_the_ingress_serves_the_web_app_and_the_api(ingress: Ingress) -> None:
    with ingress.sync_client() as client:
        page = client.get("/")
        assert page.status_code == 200
        assets = re.findall(r'"(/assets/[^"]+)"', page.text)
        assert assets, page.text[:500]
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        assert client.get(f"{API}/users/me").status_code == 401


# --------------------------------------------------------------------------- inside


def _backend_image(api: k8s.ApiClient) -> str:
    deployment = k8s.AppsV1Api(api).read_namespaced_deployment(
        "todo-backend", install.APP_NAMESPACE
    )
    assert deployment.spec is not None
    assert deployment.spec.template.spec is not None
    image = deployment.spec.template.spec.containers[0].image
    assert image
    return image


@contextmanager
def probe_pod(api: k8s.ApiClient, name: str) -> Iterator[str]:
    """A pod of no app of ours in namespace todo (passing its restricted Pod Security
    Standard): any other workload of the cluster, trying what it must not reach."""
    core = k8s.CoreV1Api(api)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": install.APP_NAMESPACE,
            "labels": {"app.kubernetes.io/name": name},
        },
        "spec": {
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": _backend_image(api),
                    "command": ["python3", "-c", "import time; time.sleep(1800)"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    kube.apply(api, [pod])
    kube.wait_pods_ready(api, install.APP_NAMESPACE, f"app.kubernetes.io/name={name}", timeout=120)
    try:
        yield name
    finally:
        core.delete_namespaced_pod(name, install.APP_NAMESPACE, grace_period_seconds=0)


@pytest.fixture(scope="module")
def probe(api: k8s.ApiClient) -> Iterator[str]:
    with probe_pod(api, PROBE) as name:
        yield name


TRY = """
import json, socket, ssl, sys, urllib.request, urllib.error
kind, target = sys.argv[1], sys.argv[2]
try:
    if kind == "http":
        try:
            with urllib.request.urlopen(target, timeout=5) as r:
                print(json.dumps({"status": r.status}))
        except urllib.error.HTTPError as e:
            print(json.dumps({"status": e.code}))
    elif kind == "tcp":
        host, port = target.rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=5).close()
        print(json.dumps({"connected": True}))
    elif kind == "tls":
        host, port = target.rsplit(":", 1)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n")
                tls.recv(1)
        print(json.dumps({"tls": "accepted"}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__ + ": " + str(exc)}))
"""


def attempt(
    api: k8s.ApiClient, pod: str, kind: str, target: str, container: str | None = None
) -> dict[str, object]:
    code, out, err = kube.exec_in(
        api, install.APP_NAMESPACE, pod, ["python3", "-c", TRY, kind, target], container=container
    )
    assert code == 0, err
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


SIGN_UPS = """
import json, sys, urllib.request, urllib.error, uuid
url, host, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
statuses = []
for _ in range(count):
    email = "probe-" + uuid.uuid4().hex[:12] + "@example.com"
    body = {"email": email, "password": "cluster-test-pw"}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Host", host)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            statuses.append(r.status)
    except urllib.error.HTTPError as e:
        statuses.append(e.code)
    if statuses[-1] == 429:
        break
print(json.dumps(statuses))
"""


def sign_ups_through_the_ingress(api: k8s.ApiClient, pod: str, count: int) -> list[int]:
    """Sign-ups from ``pod`` through the ingress controller's Service, until one is refused
    (at most ``count``): the statuses."""
    url = f"http://traefik.{install.INGRESS_NAMESPACE}.svc.cluster.local{API}/auth/register"
    host = install.ingress_host(api)
    code, out, err = kube.exec_in(
        api, install.APP_NAMESPACE, pod, ["python3", "-c", SIGN_UPS, url, host, str(count)]
    )
    assert code == 0, err
    statuses: list[int] = json.loads(out.strip().splitlines()[-1])
    return statuses


def test_the_sign_up_limit_counts_each_client_not_the_ingress_controller(
    api: k8s.ApiClient, probe: str
) -> None:
    """Behind the ingress controller the per-address limits count the client's address
    (Traefik's X-Forwarded-For, believed from the pod network: ingress.trustedProxies), not
    the controller's: one client over its sign-up limit leaves another's untouched."""
    statuses = sign_ups_through_the_ingress(api, probe, 12)
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {201}, statuses
    with probe_pod(api, f"{PROBE}-other") as other:
        assert sign_ups_through_the_ingress(api, other, 1) == [201]


def backend_pod_ip(api: k8s.ApiClient) -> str:
    (pod, *_) = (
        p
        for p in kube.pods(api, install.APP_NAMESPACE, "app.kubernetes.io/name=todo-backend")
        if kube.pod_ready(p)
    )
    assert pod.status is not None
    assert pod.status.pod_ip
    return str(pod.status.pod_ip)


def test_inside_the_backend_service_refuses_the_internal_api_and_metrics(
    api: k8s.ApiClient, probe: str
) -> None:
    service = f"http://todo-backend.{install.APP_NAMESPACE}.svc.cluster.local"
    assert attempt(api, probe, "http", f"{service}/healthz") == {"status": 200}
    for path in ("/internal/v1/tasks/x", "/metrics", "/events/task-events", "/job/x"):
        assert attempt(api, probe, "http", f"{service}{path}") == {"status": 404}, path


def test_inside_the_sidecar_only_listeners_are_unreachable(api: k8s.ApiClient, probe: str) -> None:
    ip = backend_pod_ip(api)
    # The backend's listener for its sidecar, and daprd's own API, are on the pod's loopback.
    for port in (8002, sidecars.DAPR_HTTP_PORT, 50001):
        result = attempt(api, probe, "tcp", f"{ip}:{port}")
        assert "ConnectionRefusedError" in str(result.get("error")), (port, result)


def test_inside_the_sidecars_invocation_port_wants_a_sentry_certificate(
    api: k8s.ApiClient, probe: str
) -> None:
    """daprd's internal gRPC port (50002) is reachable (the worker's sidecar calls it) but
    speaks mTLS only: a client without a certificate Sentry signed is refused."""
    result = attempt(api, probe, "tls", f"{backend_pod_ip(api)}:50002")
    assert "error" in result, result
    assert "SSL" in str(result["error"]) or "certificate" in str(result["error"]).lower(), result


def _worker_pod(api: k8s.ApiClient) -> str:
    return sidecars.first_pod(api, "todo-worker")


CALL_SIDECAR = """
import json, os, sys, urllib.request, urllib.error
method, path, with_token = sys.argv[1], sys.argv[2], sys.argv[3] == "token"
body = b"{}" if method == "POST" else None
request = urllib.request.Request("http://127.0.0.1:3500" + path, method=method, data=body)
request.add_header("Content-Type", "application/json")
if with_token:
    request.add_header("dapr-api-token", os.environ["DAPR_API_TOKEN"])
try:
    with urllib.request.urlopen(request, timeout=10) as r:
        print(json.dumps({"status": r.status, "body": r.read().decode()[:300]}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": e.read().decode()[:300]}))
"""


def from_the_worker(
    api: k8s.ApiClient, method: str, path: str, *, token: bool = True
) -> dict[str, object]:
    code, out, err = kube.exec_in(
        api,
        install.APP_NAMESPACE,
        _worker_pod(api),
        ["python3", "-c", CALL_SIDECAR, method, path, "token" if token else "none"],
        container="todo-worker",
    )
    assert code == 0, err
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_the_sidecar_api_requires_its_token(api: k8s.ApiClient) -> None:
    assert from_the_worker(api, "GET", "/v1.0/metadata", token=False)["status"] == 401
    assert from_the_worker(api, "GET", "/v1.0/metadata")["status"] == 200
    with sidecars.api(api, "todo-backend", token=False) as backend_sidecar:
        assert backend_sidecar.get("/v1.0/metadata").status_code == 401


INVOKE = "/v1.0/invoke/todo-backend/method"


def until_allowed_again(api: k8s.ApiClient, allowed: str, timeout: float = 120) -> None:
    """A refusal is retried by the caller's sidecar (its appCall retries) and each attempt
    counts for its circuit breaker, which then stays open for 30 s: wait until the worker's
    own calls get through again."""
    deadline = time.monotonic() + timeout
    while from_the_worker(api, "GET", allowed)["status"] != 200:
        assert time.monotonic() < deadline, "the worker's calls did not get through again"
        time.sleep(2)


def blocked_by_the_backends_policy(api: k8s.ApiClient) -> float:
    """What the backend's sidecar counted as refused by the worker's access-control policy."""
    pod = sidecars.first_pod(api, "todo-backend")
    with kube.port_forward(api, install.APP_NAMESPACE, pod, 9090) as port:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.findall(
        r"^dapr_runtime_acl_app_policy_action_blocked_total\{[^}]*\} (\S+)$", text, re.M
    )
    return sum(float(value) for value in found)


def test_access_control_lets_the_worker_call_only_the_internal_task_api(
    api: k8s.ApiClient, ingress: Ingress
) -> None:
    async def sign_up() -> dict[str, str]:
        # As every test signs up: waiting out the per-minute sign-up limit of one address.
        async with ingress.client() as client:
            return await signup(client)

    me = asyncio.run(sign_up())
    with ingress.sync_client() as client:
        task = client.post(f"{API}/tasks", headers=me, json={"title": "ACL"}).json()
    # Allowed: the routes the worker uses, the reconciler's page of tasks among them.
    allowed = f"{INVOKE}/internal/v1/tasks/{task['id']}"
    until_allowed_again(api, allowed)
    until_allowed_again(api, f"{INVOKE}/internal/v1/reminder-tasks?limit=1")
    # Refused by the backend's sidecar: the public API (another route), and another verb on
    # the internal one. The worker's sidecar retries a refusal and may then answer that its
    # circuit breaker is open; the backend's sidecar counts what its policy refused.
    for method, path in (
        ("GET", "/api/v1/users/me"),
        ("DELETE", f"/internal/v1/tasks/{task['id']}"),
    ):
        before = blocked_by_the_backends_policy(api)
        refused = from_the_worker(api, method, f"{INVOKE}{path}")
        assert refused["status"] in (403, 500), (method, path, refused)
        assert "ERR_DIRECT_INVOKE" in str(refused["body"]), refused
        assert blocked_by_the_backends_policy(api) > before, (method, path)
        until_allowed_again(api, allowed)
    with ingress.sync_client() as client:
        still = client.get(f"{API}/tasks/{task['id']}", headers=me)
        assert still.status_code == 200, "a refused DELETE deleted the task"


def test_no_other_app_may_invoke_the_worker(api: k8s.ApiClient) -> None:
    with sidecars.api(api, "todo-backend") as backend_sidecar:
        response = backend_sidecar.get("/v1.0/invoke/todo-worker/method/healthz")
        assert response.status_code == 403, response.text


@pytest.mark.parametrize("store", ["todo-secrets", "kubernetes"])
def test_the_secret_stores_deny_by_default(api: k8s.ApiClient, store: str) -> None:
    for secret in ("todo-postgres", "todo-app-api-token", "todo-dapr-api-token"):
        refused = from_the_worker(api, "GET", f"/v1.0/secrets/{store}/{secret}")
        assert refused["status"] == 403, (store, secret, refused)


@pytest.mark.parametrize("app", ["todo-backend", "todo-worker"])
def test_app_containers_mount_no_service_account_token(api: k8s.ApiClient, app: str) -> None:
    pod = kube.pods(api, install.APP_NAMESPACE, f"app.kubernetes.io/name={app}")[0]
    assert pod.spec is not None
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    for container in pod.spec.containers:
        mounts = {m.mount_path for m in container.volume_mounts or []}
        if container.name == "daprd":
            # Its own (the Kubernetes secret store's) and the injector's Sentry token.
            assert token_dir in mounts
            assert "/var/run/secrets/dapr.io/sentrytoken" in mounts
        else:
            assert not any(m.startswith("/var/run/secrets") for m in mounts), mounts
    code, out, _ = kube.exec_in(
        api, install.APP_NAMESPACE, kube.name_of(pod), ["ls", token_dir], container=app
    )
    assert code != 0, f"{app} sees a token: {out}"


# --------------------------------------------------------------------------- NetworkPolicy


def policy(api: k8s.ApiClient, name: str) -> k8s.V1NetworkPolicy:
    return k8s.NetworkingV1Api(api).read_namespaced_network_policy(name, install.APP_NAMESPACE)


def selects(api: k8s.ApiClient, selector: dict[str, str]) -> set[str]:
    query = ",".join(f"{k}={v}" for k, v in selector.items())
    return {kube.name_of(p) for p in kube.pods(api, install.APP_NAMESPACE, query)}


def test_the_network_policies_select_our_pods_and_admit_only_whom_they_should(
    api: k8s.ApiClient,
) -> None:
    backend = policy(api, "todo-backend")
    assert backend.spec is not None
    assert selects(
        api, backend.spec.pod_selector.match_labels or {} if backend.spec.pod_selector else {}
    ) == {
        kube.name_of(p)
        for p in kube.pods(api, install.APP_NAMESPACE, "app.kubernetes.io/name=todo-backend")
    }
    rules = backend.spec.ingress or []
    by_port = {str(port.port): rule for rule in rules for port in rule.ports or []}
    # The app port: our pods and the ingress controller's namespace (whose real labels match).
    ingress_ns = k8s.CoreV1Api(api).read_namespace(install.INGRESS_NAMESPACE)
    labels = (ingress_ns.metadata.labels if ingress_ns.metadata else None) or {}
    namespace_selectors = [
        peer.namespace_selector.match_labels or {}
        for rule in rules
        for peer in rule._from or []
        if peer.namespace_selector is not None
    ]
    assert any(
        all(labels.get(k) == v for k, v in selector.items()) for selector in namespace_selectors
    ), "the ingress controller's namespace is not admitted"
    # The metrics port: no rule admits it (no scraper in this environment).
    assert "metrics" not in by_port, sorted(by_port)
    assert "9102" not in by_port, sorted(by_port)
    # daprd to daprd (service invocation, mTLS) from our pods only.
    invocation = by_port["50002"]
    assert [
        (p.pod_selector.match_labels if p.pod_selector else None) for p in invocation._from or []
    ] == [{"app.kubernetes.io/part-of": "todo-cloud"}]


def test_the_metrics_port_is_refused_to_pods_the_policy_does_not_admit(
    api: k8s.ApiClient, probe: str, up_state: dict[str, Any]
) -> None:
    """The probe is admitted by no rule of the backend's NetworkPolicy: a CNI that enforces
    policies refuses it the metrics port. The local cluster's bridge CNI enforces none."""
    result = attempt(api, probe, "http", f"http://{backend_pod_ip(api)}:9102/metrics")
    if up_state.get("local_cluster") and result == {"status": 200}:
        pytest.xfail(
            "the local cluster's bridge CNI enforces no NetworkPolicy (see the module doc)"
        )
    assert "error" in result, result
