"""The cluster command: from nothing to the running product on Kubernetes, and back.

    ./pants run src/todo/cluster:up                        # local: a cluster on this machine
    ./pants run src/todo/cluster:up -- --existing          # the current kubeconfig's cluster
    ./pants run src/todo/cluster:up -- --fresh             # local, from a new cluster
    ./pants run src/todo/cluster:up -- --build-only        # only build and cache the tools
    ./pants run src/todo/cluster:up -- --prebuild          # the same, at idle CPU priority
    ./pants run src/todo/cluster:down                      # remove all that `up` started

    ./pants run src/todo/cluster:deliver                   # the CD loop for HEAD (deliver.py)

*local* builds Kubernetes 1.34 (and everything else, see ``todo.cluster.builds``) once,
caches it outside the repository, and starts a single-node cluster here
(``todo.cluster.local``). *existing* uses the current kubeconfig (Minikube, kind, AKS, GKE,
OKE) and builds nothing of Kubernetes. Both then build the images, push them to the
registry on 127.0.0.1 and install the product (``todo.cluster.install``), our charts through
Argo CD from the cluster's git server (``todo.cluster.gitops``). ``up`` is idempotent: run
again, it changes nothing (but an Application whose last sync failed is synced again). It
ends by printing where the app answers. ``--fresh`` first removes the local cluster a
previous ``up`` left (as ``down`` does), so nothing of an earlier run's state carries over:
what CI runs.

State lives in ``TODO_CLUSTER_HOME`` (default ``~/.cache/todo-cluster``): the local
cluster's node (deleted by ``down``; images stay cached) and the registry's storage (kept).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from todo.cluster import argocd, builds, gitops, gitserver, images, install, kube, local
from todo.cluster import deliver as delivery
from todo.cluster.daemons import DaemonFailed
from todo.cluster.log import log
from todo.cluster.registry import LocalRegistry
from todo.cluster.volumes import local_volumes, release_volumes
from todo.devstack import gotools, toolcache
from todo.devstack.toolcache import Tool, ToolUnavailable, find_repo_dir

# The ingress controller's port inside its pod (a port-forward's target on other clusters).
INGRESS_POD_PORT = 8000

TOOLS = (*builds.ALL, *images.ROOTFS_TOOLS, *argocd.TOOLS)


def cluster_only_tools() -> tuple[Tool, ...]:
    """The tools only the cluster needs. The devstack's (Helm, daprd, the Kafka jars) are
    left out: the tests build those themselves, and must never wait on a lock that a build
    at idle priority holds."""
    shared = {(tool.name, tool.version) for tool in toolcache.devstack_tools()}
    return tuple(tool for tool in TOOLS if (tool.name, tool.version) not in shared)


def _take_idle_priority() -> None:
    """Run on the CPU time no one else wants: SCHED_IDLE, whose threads run only when no
    other thread of the machine is runnable, and nice 19 besides (the builds' children
    inherit both)."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.nice(19)


def cluster_home() -> Path:
    explicit = os.environ.get("TODO_CLUSTER_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "todo-cluster"


def saved_state() -> dict[str, Any]:
    """What the last ``up`` recorded (up.json in the cluster home); empty if none."""
    try:
        saved = json.loads((cluster_home() / "up.json").read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def repository_root() -> Path:
    found = find_repo_dir("charts/todo-backend")
    if found is None:
        raise ToolUnavailable("run the cluster command from the repository (charts/ not found)")
    return found.parent.parent


def commit_tag(repo: Path) -> str:
    """The image tag: the commit under test (GIT_SHA, as ./pants sets it)."""
    explicit = os.environ.get("GIT_SHA")
    if explicit:
        return explicit
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@dataclass
class Options:
    existing: bool
    kubeconfig: Path | None = None
    context: str | None = None
    reuse_images: bool = False
    image_registry: str | None = None
    fresh: bool = False


class Cluster:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.home = cluster_home()
        self.repo = repository_root()

    # ------------------------------------------------------------------ parts

    def registry(self) -> LocalRegistry:
        return LocalRegistry(self.home / "registry", toolcache.ensure(builds.REGISTRY) / "registry")

    def image_registry(self) -> str:
        """Where images are pushed and pulled from: ``--image-registry``, else the registry
        on 127.0.0.1 (started now)."""
        if self.options.image_registry:
            return self.options.image_registry
        registry = self.registry()
        registry.daemon().start()
        return registry.address

    def node(self, registry: str, pause_image: str) -> local.LocalCluster:
        kube_bin = toolcache.ensure(builds.KUBERNETES) / "bin"
        return local.LocalCluster(
            home=self.home / "node", registry=registry, kube_bin=kube_bin, pause_image=pause_image
        )

    def kubeconfig(self) -> Path:
        if not self.options.existing:
            return self.home / "node" / "kubeconfig"
        if self.options.kubeconfig:
            return self.options.kubeconfig
        env = os.environ.get("KUBECONFIG", "")
        return Path(env.split(os.pathsep)[0]) if env else Path.home() / ".kube" / "config"

    # ------------------------------------------------------------------ up

    def tools(self) -> tuple[toolcache.Tool, ...]:
        """What this ``up`` needs built: an existing cluster needs nothing of Kubernetes;
        reused images need nothing but Helm, the Dapr chart and the registry."""
        if self.options.reuse_images:
            return (gotools.HELM, builds.DAPR_CHART, builds.REGISTRY, argocd.ARGOCD)
        if self.options.existing:
            return tuple(t for t in TOOLS if t not in builds.LOCAL_NODE_ONLY)
        return TOOLS

    def prepare_images(self, registry: str) -> tuple[install.Images, images.BuiltImages | None]:
        """Build and push every image (or, with --reuse-images, find the last ``up``'s)."""
        if self.options.reuse_images:
            saved = saved_state().get("images")
            if not isinstance(saved, dict):
                raise ToolUnavailable("--reuse-images: no images recorded; run up without it first")
            refs = install.Images(**saved)
            for ref in (
                refs.postgres,
                refs.kafka,
                refs.traefik,
                f"{refs.backend_repository}:{refs.tag}",
                refs.argocd,
                refs.redis,
                refs.git_server,
            ):
                repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
                if not images.registry_has(registry, repository, tag):
                    raise ToolUnavailable(f"--reuse-images: {ref} is not in the registry any more")
            return refs, None
        engine = images.Engine(self.repo)
        built = images.build_all(
            engine, registry, self.home / "image-files", for_local_node=not self.options.existing
        )
        argo = argocd.build_images(engine, registry)
        git_server = gitserver.build_image(engine, registry, argo.debian_base)
        tag = commit_tag(self.repo)
        ours = images.publish_ours(self.repo, engine, registry, built.python_base, tag)
        refs = install.Images(
            postgres=built.postgres,
            kafka=built.kafka,
            traefik=built.traefik,
            dapr_registry=built.dapr_registry,
            dapr_tag=built.dapr_tag,
            backend_repository=ours["backend"].rsplit(":", 1)[0],
            worker_repository=ours["worker"].rsplit(":", 1)[0],
            tag=tag,
            argocd=argo.argocd,
            redis=argo.redis,
            git_server=git_server,
        )
        return refs, built

    def start_local(self, registry: str, built: images.BuiltImages) -> k8s.ApiClient:
        assert built.pause is not None
        assert built.coredns is not None
        node = self.node(registry, built.pause)
        node.start()
        api = kube.client(node.kubeconfig)
        self._wait_node(api)
        kube.apply(api, local_volumes(node.volumes_dir))
        release_volumes(api)
        coredns = install.manifest(
            "coredns.yaml",
            image=built.coredns,
            dns_ip=local.DNS_SERVICE_IP,
            cluster_domain=local.CLUSTER_DOMAIN,
        )
        changed = kube.apply(api, coredns)
        if changed:
            log(f"applied {', '.join(changed)}")
        kube.wait_rollout(api, "kube-system", "Deployment", "coredns")
        return api

    def up(self) -> int:
        started = time.monotonic()
        if self.options.fresh and (self.home / "node").exists():
            log("--fresh: removing the local cluster an earlier up left")
            self.down(purge=False)
        toolcache.build_all(self.tools(), log)
        log(f"tools ready ({time.monotonic() - started:.0f}s)")
        registry = self.image_registry()
        refs, built = self.prepare_images(registry)
        tag = refs.tag
        log(f"images ready ({time.monotonic() - started:.0f}s)")
        kubeconfig = self.kubeconfig()
        if self.options.existing:
            api = kube.client(kubeconfig, self.options.context)
        else:
            assert built is not None
            api = self.start_local(registry, built)
            log(f"local cluster ready ({time.monotonic() - started:.0f}s)")
        helm = install.Helm(gotools.helm(), kubeconfig)
        changed = kube.apply(api, install.namespaces())
        if changed:
            log(f"applied {', '.join(changed)}")
        created = install.ensure_secrets(api)
        if created:
            log(f"created Secrets {', '.join(created)}")
        install.install_dependencies(api, refs)
        install.install_dapr(helm, toolcache.ensure(builds.DAPR_CHART) / "dapr", refs)
        install.wait_dependencies(api)
        served = gitops.deploy(
            api, self.repo, gotools.helm(), refs, reuse=self.options.reuse_images
        )
        address = install.wait_ingress_address(api)
        port = install.ingress_port(api)
        host = install.ingress_host(api)
        down_args = " -- --existing" if self.options.existing else ""
        local_cluster = kubeconfig == self.home / "node" / "kubeconfig"
        self._save(
            {
                "mode": "existing" if self.options.existing else "local",
                # The cluster this machine runs (its CNI is the bridge plugin), in either mode.
                "local_cluster": local_cluster,
                "kubeconfig": str(kubeconfig),
                "tag": tag,
                "served": served,
                "images": asdict(refs),
            }
        )
        log(f"up in {time.monotonic() - started:.0f}s")
        built_kubectl = builds.KUBERNETES.path("bin/kubectl")
        kubectl = built_kubectl if toolcache.cached(builds.KUBERNETES) else "kubectl"
        where = "the existing cluster" if self.options.existing else "the local cluster"
        lines = [
            f"Todo Cloud {tag} runs on {where}.",
            f"  Open:      http://{host}:{port}/  (*.localhost is this machine)",
            f"             or: curl -H 'Host: {host}' http://127.0.0.1:{port}/",
            f"  Ingress:   address {address}, class {install.INGRESS_CLASS}, NodePort {port}",
            f"  kubectl:   {kubectl} --kubeconfig {kubeconfig} -n {install.APP_NAMESPACE} get pods",
            f"  Images:    {refs.backend_repository}:{tag}, {refs.worker_repository}:{tag}",
            f"  Argo CD:   v{argocd.ARGOCD_VERSION}, every Application Synced and Healthy at "
            f"{served[:12]} of {gitserver.REPO_URL}",
            f"             API: kubectl -n {argocd.NAMESPACE} port-forward svc/argocd-server "
            f"8080:80 (admin, password in the Secret {argocd.ADMIN_SECRET})",
            "  Deliver:   ./pants run src/todo/cluster:deliver  (HEAD: build, publish, bump, sync)",
            f"  Remove:    ./pants run src/todo/cluster:down{down_args}",
        ]
        if self.options.existing:
            lines.insert(
                4,
                f"             (a remote cluster: kubectl -n {install.INGRESS_NAMESPACE} "
                "port-forward svc/traefik 8080:80, then port 8080)",
            )
        print("\n" + "\n".join(lines) + "\n", flush=True)
        summary = {"url": f"http://127.0.0.1:{port}/", "host": host, "kubeconfig": str(kubeconfig)}
        print(json.dumps(summary), flush=True)
        return 0

    def _wait_node(self, api: k8s.ApiClient) -> None:
        core = k8s.CoreV1Api(api)

        def ready() -> bool:
            status = core.read_node(local.NODE_NAME).status
            conditions = (status.conditions if status else None) or []
            return any(c.type == "Ready" and c.status == "True" for c in conditions)

        kube.wait_until(f"node {local.NODE_NAME} Ready", ready, 180)

    def _save(self, state: dict[str, object]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "up.json").write_text(json.dumps(state, indent=2) + "\n")

    # ------------------------------------------------------------------ down

    def down(self, *, purge: bool) -> int:
        started = time.monotonic()
        if self.options.existing:
            api = kube.client(self.kubeconfig(), self.options.context)
            helm = install.Helm(gotools.helm(), self.kubeconfig())
            # Argo CD first: it would put back what goes next.
            gitops.uninstall(api)
            helm.uninstall("dapr", install.DAPR_NAMESPACE)
            install.uninstall_rest(api)
        else:
            node = local.LocalCluster(
                home=self.home / "node",
                registry="",
                kube_bin=builds.KUBERNETES.home / "bin",
                pause_image="",
            )
            node.stop(keep_images=not purge)
            self.registry().daemon().stop()
        (self.home / "up.json").unlink(missing_ok=True)
        log(f"down in {time.monotonic() - started:.0f}s")
        return 0


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"./pants run src/todo/cluster:{command} --")
    parser.add_argument(
        "--existing",
        action="store_true",
        help="use the cluster of the current kubeconfig instead of starting one here",
    )
    parser.add_argument("--kubeconfig", type=Path, help="with --existing: this kubeconfig")
    parser.add_argument("--context", help="with --existing: this kubeconfig context")
    return parser


def up(argv: Sequence[str] | None = None) -> int:
    parser = _parser("up")
    parser.add_argument(
        "--image-registry",
        metavar="HOST[:PORT][/PATH]",
        help="with --existing: push and pull every image there (one the cluster's nodes "
        "reach, e.g. Minikube's registry addon at localhost:5000) instead of 127.0.0.1",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="remove the local cluster an earlier up left (as down does; the cached images "
        "stay) and start a new one",
    )
    parser.add_argument(
        "--reuse-images",
        action="store_true",
        help="build nothing: install the images the last up pushed (they must still be there)",
    )
    parser.add_argument(
        "--build-only",
        nargs="*",
        metavar="TOOL",
        help=f"only build the tools (all, or these: {', '.join(t.name for t in TOOLS)}) and exit",
    )
    parser.add_argument(
        "--check-builds",
        action="store_true",
        help="only say which tools are built; exit 1 unless all of them are",
    )
    parser.add_argument(
        "--prebuild",
        action="store_true",
        help="only build the tools the cluster alone needs, at idle CPU priority, and exit "
        "(CI runs this in the background while its tests run; `up` finds them built, or "
        "waits for the one being built)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.check_builds:
            return toolcache.cli(TOOLS, ["--check"], prog="up --check-builds")
        if args.prebuild:
            _take_idle_priority()
            return toolcache.cli(cluster_only_tools(), ["--build-only"], prog="up --prebuild")
        if args.build_only is not None:
            return toolcache.cli(TOOLS, ["--build-only", *args.build_only], prog="up --build-only")
        if args.image_registry and not args.existing:
            parser.error("--image-registry is for --existing (the local cluster uses its own)")
        if args.fresh and args.existing:
            parser.error("--fresh is for the local cluster (an existing one is not ours to remove)")
        options = Options(
            args.existing,
            args.kubeconfig,
            args.context,
            args.reuse_images,
            args.image_registry,
            fresh=args.fresh,
        )
        return Cluster(options).up()
    except (ToolUnavailable, kube.ClusterError, DaemonFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def down(argv: Sequence[str] | None = None) -> int:
    parser = _parser("down")
    parser.add_argument(
        "--purge", action="store_true", help="also delete the local cluster's cached images"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return Cluster(Options(args.existing, args.kubeconfig, args.context)).down(purge=args.purge)
    except (ToolUnavailable, kube.ClusterError, DaemonFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def delivery_target(repo: Path | None = None) -> Iterator[delivery.Target]:
    """The cluster of the last ``up`` (its up.json), as a delivery of ``repo`` needs it: the
    API, the registry, the Docker engine, the base of our images and the ingress on
    127.0.0.1 (the local cluster's NodePort; on another cluster a port-forward to it)."""
    saved = saved_state()
    if not saved:
        raise ToolUnavailable("no cluster: run ./pants run src/todo/cluster:up first")
    refs = install.Images(**saved["images"])
    api = kube.client(Path(str(saved["kubeconfig"])))
    engine = images.Engine(repo or repository_root())
    python_base = images.import_base(engine, images.PYTHON_ROOTFS)
    registry = refs.backend_repository.removesuffix("/todo-cloud/todo-backend")
    host = install.ingress_host(api)

    def target(port: int) -> delivery.Target:
        return delivery.Target(api, engine, registry, python_base, f"http://127.0.0.1:{port}", host)

    if saved.get("local_cluster"):
        yield target(install.ingress_port(api))
        return
    traefik = kube.ready_pod(api, install.INGRESS_NAMESPACE, "app.kubernetes.io/name=traefik")
    with kube.port_forward(api, install.INGRESS_NAMESPACE, traefik, INGRESS_POD_PORT) as port:
        yield target(port)


def deliver(argv: Sequence[str] | None = None) -> int:
    """``./pants run src/todo/cluster:deliver``: see todo.cluster.deliver."""
    repo = repository_root()
    try:
        return delivery.run(sys.argv[1:] if argv is None else argv, delivery_target, repo)
    except (ToolUnavailable, kube.ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
