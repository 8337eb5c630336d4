"""What the cluster command builds, as tools of the one tool cache (``todo.devstack.toolcache``).

Nothing is downloaded as a binary. Kubernetes, CoreDNS, the image registry, the ingress
controller and Dapr come from the Go module proxy; the pause process from gcc; the Kafka
jars from Maven Central (the devstack's own ``kafka`` tool). Each is built once per machine
and reused; ``./pants run src/todo/cluster:up -- --build-only`` builds them all ahead of time.

Two of them are multi-call binaries, to build (and link) shared code once:
``build-support/kubernetes`` (``kube``: kube-apiserver, kube-controller-manager,
kube-scheduler, kubelet, kube-proxy and kubectl) and ``build-support/dapr`` (``dapr``: daprd
and the whole control plane, the devstack's own binary).
"""

from __future__ import annotations

from todo.devstack import dapr, gotools, kafka
from todo.devstack.toolcache import CBuild, GoBuild, GoModuleFiles, Tool

KUBERNETES_VERSION = "1.34.4"
COREDNS_VERSION = "1.13.1"
REGISTRY_VERSION = "3.0.0"
TRAEFIK_VERSION = "3.6.12"

KUBE_PROGRAMS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)

_KUBE_VERSION_FLAGS = tuple(
    f"-X {package}.{name}={value}"
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
    for name, value in (
        ("gitVersion", f"v{KUBERNETES_VERSION}"),
        ("gitMajor", KUBERNETES_VERSION.split(".")[0]),
        ("gitMinor", KUBERNETES_VERSION.split(".")[1]),
        ("gitTreeState", "clean"),
    )
)

KUBERNETES = Tool(
    name="kubernetes",
    version=KUBERNETES_VERSION,
    recipe=GoBuild(
        module="build-support/kubernetes",
        binaries={"bin/kube": "./cmd/kube"},
        links={f"bin/{program}": "kube" for program in KUBE_PROGRAMS},
        ldflags=("-s", "-w", *_KUBE_VERSION_FLAGS),
    ),
    outputs=("bin/kube", *(f"bin/{program}" for program in KUBE_PROGRAMS)),
)

# CoreDNS with only the plugins our Corefile uses (build-support/coredns: its own main).
COREDNS = Tool(
    name="coredns",
    version=COREDNS_VERSION,
    recipe=GoBuild(module="build-support/coredns", binaries={"coredns": "."}, ldflags=("-s", "-w")),
    outputs=("coredns",),
)

# The CNCF distribution registry: the images' registry on 127.0.0.1 (`./pants publish`),
# with only its filesystem storage (build-support/registry: its own main).
REGISTRY = Tool(
    name="registry",
    version=REGISTRY_VERSION,
    recipe=GoBuild(
        module="build-support/registry",
        binaries={"registry": "."},
        ldflags=(
            "-s",
            "-w",
            f"-X github.com/distribution/distribution/v3/version.version=v{REGISTRY_VERSION}",
        ),
    ),
    outputs=("registry",),
)

# The ingress controller. Traefik's go.mod has replace directives, which `go install`
# refuses: build-support/traefik repeats them (see its go.mod). Built without lego's DNS
# challenge providers (build-support/traefik/_overrides/lego): the local cluster asks no
# certificate authority for anything, and they are a third of what Traefik compiles.
TRAEFIK = Tool(
    name="traefik",
    version=TRAEFIK_VERSION,
    recipe=GoBuild(
        module="build-support/traefik",
        binaries={"traefik": "github.com/traefik/traefik/v3/cmd/traefik"},
        overrides={"github.com/go-acme/lego/v4": "_overrides/lego"},
        ldflags=(
            "-s",
            "-w",
            f"-X github.com/traefik/traefik/v3/pkg/version.Version=v{TRAEFIK_VERSION}",
        ),
    ),
    outputs=("traefik",),
)

# Dapr's official Helm chart, as the Dapr module of the pinned release ships it.
DAPR_CHART = Tool(
    name="dapr-chart",
    version=dapr.DAPR_VERSION,
    recipe=GoModuleFiles(
        module=dapr.DAPR_MODULE, version=dapr.DAPR_VERSION, paths={"dapr": "charts/dapr"}
    ),
    outputs=("dapr/Chart.yaml",),
)

PAUSE = Tool(
    name="pause",
    version="1",
    recipe=CBuild(source="build-support/pause/pause.c", output="pause"),
    outputs=("pause",),
)

# Only the local cluster needs these (an existing cluster has its own Kubernetes and DNS).
LOCAL_NODE_ONLY: tuple[Tool, ...] = (KUBERNETES, COREDNS, PAUSE)

# Everything `up` needs, in the order it needs it (the longest first is no faster: builds
# run one at a time, each using both cores).
ALL: tuple[Tool, ...] = (
    PAUSE,
    gotools.HELM,
    KUBERNETES,
    COREDNS,
    REGISTRY,
    dapr.DAPR,
    DAPR_CHART,
    TRAEFIK,
    kafka.KAFKA_JARS,
)
