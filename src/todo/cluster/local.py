"""The local single-node cluster: Kubernetes 1.34 built here, Debian's etcd, containerd,
runc and CNI plugins, every process on this machine, all of its state under one directory.

- etcd on 127.0.0.1; kube-apiserver on this machine's address (pods reach it through the
  ``kubernetes`` Service) and 127.0.0.1 (the kubeconfig); the controller manager and the
  scheduler on 127.0.0.1;
- containerd of its own (socket, root and state under the cluster's home; the pause image
  and every other image from the local registry on 127.0.0.1), runc without systemd
  cgroups, ``restrict_oom_score_adj`` (this kind of VM refuses negative OOM scores);
- kubelet on cgroup v1 (``failCgroupV1: false``) with image GC effectively off, so that
  images built here are never collected;
- CNI: one bridge (``todo-cni0``) with host-local IPAM in 10.244.0.0/24 and portmap;
- kube-proxy in iptables mode, NodePorts only on 127.0.0.1.

``start()`` is idempotent (each daemon keeps running when its command line is unchanged);
``stop()`` drains the node (pods stopped through the kubelet, so CNI and volumes are torn
down), stops every daemon, removes what kube-proxy and CNI put into the host's network and
the cgroups the kubelet made, and deletes the cluster's state (images stay cached).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from todo.cluster import cri, kube, pki
from todo.cluster.daemons import Daemon, DaemonFailed
from todo.cluster.log import log
from todo.devstack.ports import free_ports

NODE_NAME = "todo-node"
CLUSTER_DOMAIN = "cluster.local"
SERVICE_CIDR = "10.96.0.0/12"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_CIDR = "10.244.0.0/16"
POD_SUBNET = "10.244.0.0/24"
CNI_BRIDGE = "todo-cni0"
CNI_NETWORK = "todo-pods"
# What kubelet adds to the host's iptables (its localnet firewall and its canaries).
KUBELET_CHAINS = ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT")

ETCD = "/usr/bin/etcd"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CNI_BIN_DIR = "/usr/lib/cni"

DEBIAN_PACKAGES = (
    "etcd-server",
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "conntrack",
    "socat",
    "ethtool",
)


def node_ip() -> str:
    """This machine's first global IPv4 address (``TODO_CLUSTER_NODE_IP`` chooses one)."""
    explicit = os.environ.get("TODO_CLUSTER_NODE_IP")
    if explicit:
        return explicit
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields and not fields[1].startswith((CNI_BRIDGE, "docker", "veth")):
            return fields[fields.index("inet") + 1].split("/")[0]
    raise RuntimeError(
        "this machine has no global IPv4 address for the node: set TODO_CLUSTER_NODE_IP"
    )


@dataclass
class Ports:
    """The ports the cluster's daemons listen on, chosen free once and kept in state.json."""

    apiserver: int
    etcd_client: int
    etcd_peer: int
    controller_manager: int
    scheduler: int
    kubelet: int
    kubelet_healthz: int
    proxy_healthz: int
    proxy_metrics: int

    @classmethod
    def choose(cls) -> Ports:
        return cls(*free_ports(len(cls.__dataclass_fields__)))


@dataclass
class LocalCluster:
    home: Path
    registry: str  # host:port of the local image registry on 127.0.0.1
    kube_bin: Path  # the directory holding kube-apiserver, kubelet, ... (builds.KUBERNETES)
    pause_image: str

    # ------------------------------------------------------------------ layout

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def containerd_socket(self) -> Path:
        return self.home / "containerd" / "containerd.sock"

    @property
    def volumes_dir(self) -> Path:
        return self.home / "volumes"

    def _state(self) -> dict[str, object]:
        try:
            state = json.loads((self.home / "state.json").read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def ports(self) -> Ports:
        saved = self._state().get("ports")
        if isinstance(saved, dict):
            with contextlib.suppress(TypeError):
                return Ports(**saved)
        ports = Ports.choose()
        self.home.mkdir(parents=True, exist_ok=True)
        state = {**self._state(), "ports": asdict(ports)}
        (self.home / "state.json").write_text(json.dumps(state, indent=2) + "\n")
        return ports

    def node_ip(self) -> str:
        saved = self._state().get("node_ip")
        if isinstance(saved, str):
            return saved
        address = node_ip()
        state = {**self._state(), "node_ip": address}
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "state.json").write_text(json.dumps(state, indent=2) + "\n")
        return address

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports().apiserver}"

    # ------------------------------------------------------------------ identity

    def _pki(self) -> dict[str, pki.Pair]:
        directory = self.pki_dir
        directory.mkdir(parents=True, exist_ok=True)
        ca = pki.Authority(directory, "ca", "todo-cluster-ca")
        front = pki.Authority(directory, "front-proxy-ca", "todo-cluster-front-proxy-ca")
        pki.service_account_keys(directory)
        ip = self.node_ip()
        return {
            "ca": ca.pair,
            "front-proxy-ca": front.pair,
            "apiserver": ca.issue(
                directory / "apiserver",
                "kube-apiserver",
                server=True,
                dns_names=(
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
                    "localhost",
                ),
                ip_addresses=("127.0.0.1", KUBERNETES_SERVICE_IP, ip),
            ),
            "apiserver-kubelet-client": ca.issue(
                directory / "apiserver-kubelet-client",
                "kube-apiserver-kubelet-client",
                organization="system:masters",
                client=True,
            ),
            "front-proxy-client": front.issue(
                directory / "front-proxy-client", "front-proxy-client", client=True
            ),
            "admin": ca.issue(
                directory / "admin", "kubernetes-admin", organization="system:masters", client=True
            ),
            "controller-manager": ca.issue(
                directory / "controller-manager", "system:kube-controller-manager", client=True
            ),
            "scheduler": ca.issue(directory / "scheduler", "system:kube-scheduler", client=True),
            "kube-proxy": ca.issue(directory / "kube-proxy", "system:kube-proxy", client=True),
            "kubelet-client": ca.issue(
                directory / "kubelet-client",
                f"system:node:{NODE_NAME}",
                organization="system:nodes",
                client=True,
            ),
            "kubelet-serving": ca.issue(
                directory / "kubelet-serving",
                f"system:node:{NODE_NAME}",
                organization="system:nodes",
                server=True,
                dns_names=(NODE_NAME, "localhost"),
                ip_addresses=("127.0.0.1", ip),
            ),
        }

    def _write_kubeconfig(self, path: Path, user: pki.Pair, ca: pki.Pair) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "todo-local",
                    "cluster": {"server": self.server, "certificate-authority": str(ca.cert)},
                }
            ],
            "users": [
                {
                    "name": "todo-local",
                    "user": {"client-certificate": str(user.cert), "client-key": str(user.key)},
                }
            ],
            "contexts": [
                {"name": "todo-local", "context": {"cluster": "todo-local", "user": "todo-local"}}
            ],
            "current-context": "todo-local",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(config, sort_keys=False)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            path.chmod(0o600)

    # ------------------------------------------------------------------ configuration

    def _write_if_changed(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return path

    def _containerd_config(self) -> Path:
        base = self.home / "containerd"
        certs = base / "certs.d" / self.registry
        self._write_if_changed(
            certs / "hosts.toml",
            f'server = "http://{self.registry}"\n\n'
            f'[host."http://{self.registry}"]\n  capabilities = ["pull", "resolve"]\n',
        )
        config = f"""version = 2
root = "{base / 'root'}"
state = "{base / 'state'}"
plugin_dir = ""
disabled_plugins = [
  "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
]

[grpc]
  address = "{self.containerd_socket}"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{base / 'opt'}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{self.pause_image}"
  # This kind of VM lacks CAP_SYS_RESOURCE: negative OOM scores are refused.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{self.home / 'cni' / 'net.d'}"

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{base / 'certs.d'}"
"""
        return self._write_if_changed(base / "config.toml", config)

    def _cni_config(self) -> Path:
        conflist = {
            "cniVersion": "1.0.0",
            "name": CNI_NETWORK,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": CNI_BRIDGE,
                    "isGateway": True,
                    # Pods talk to each other and to this machine only: no NAT to the outside.
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.home / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        return self._write_if_changed(
            self.home / "cni" / "net.d" / "10-todo.conflist", json.dumps(conflist, indent=2) + "\n"
        )

    def _kubelet_config(self, certs: dict[str, pki.Pair], ports: Ports) -> Path:
        resolv = self._write_if_changed(
            self.home / "kubelet" / "resolv.conf", "# no upstream DNS\n"
        )
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": "0.0.0.0",
            "port": ports.kubelet,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": ports.kubelet_healthz,
            "tlsCertFile": str(certs["kubelet-serving"].cert),
            "tlsPrivateKeyFile": str(certs["kubelet-serving"].key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(certs["ca"].cert)},
            },
            "authorization": {"mode": "Webhook"},
            # The host runs cgroup v1 without systemd.
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "clusterDomain": CLUSTER_DOMAIN,
            "clusterDNS": [DNS_SERVICE_IP],
            "resolvConf": str(resolv),
            # Images built here cannot be pulled from anywhere else: never collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            # The disk and memory are shared with other work: evict only when nearly out.
            "evictionHard": {
                "memory.available": "200Mi",
                "nodefs.available": "1%",
                "nodefs.inodesFree": "1%",
                "imagefs.available": "1%",
            },
            "oomScoreAdj": 0,
            "serializeImagePulls": False,
            "maxPods": 110,
            "rotateCertificates": False,
            "shutdownGracePeriod": "0s",
            "containerLogMaxSize": "10Mi",
        }
        return self._write_if_changed(
            self.home / "kubelet" / "config.yaml", yaml.safe_dump(config, sort_keys=False)
        )

    def _proxy_config(self, ports: Ports) -> Path:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.home / "kubeconfigs" / "kube-proxy")},
            "hostnameOverride": NODE_NAME,
            "mode": "iptables",
            "clusterCIDR": CLUSTER_CIDR,
            # NodePorts answer on loopback only: tests and users reach the cluster on 127.0.0.1.
            "nodePortAddresses": ["127.0.0.1/32"],
            "healthzBindAddress": f"127.0.0.1:{ports.proxy_healthz}",
            "metricsBindAddress": f"127.0.0.1:{ports.proxy_metrics}",
            "oomScoreAdj": 0,
            # Leave the host's conntrack sysctls as they are.
            "conntrack": {"maxPerCore": 0, "min": 0},
        }
        return self._write_if_changed(
            self.home / "kube-proxy" / "config.yaml", yaml.safe_dump(config, sort_keys=False)
        )

    # ------------------------------------------------------------------ daemons

    def _http_ready(
        self, url: str, *, cert: pki.Pair | None = None, ca: Path | None = None
    ) -> bool:
        verify: ssl.SSLContext | bool = False
        if ca is not None:
            verify = ssl.create_default_context(cafile=str(ca))
            if cert is not None:
                verify.load_cert_chain(str(cert.cert), str(cert.key))
        try:
            response = httpx.get(url, verify=verify, timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def daemons(self) -> list[Daemon]:
        """Every daemon of the node, in start order."""
        ports = self.ports()
        certs = self._pki()
        kubeconfigs = self.home / "kubeconfigs"
        for name, pair in (
            ("controller-manager", certs["controller-manager"]),
            ("scheduler", certs["scheduler"]),
            ("kube-proxy", certs["kube-proxy"]),
            ("kubelet", certs["kubelet-client"]),
        ):
            self._write_kubeconfig(kubeconfigs / name, pair, certs["ca"])
        self._write_kubeconfig(self.kubeconfig, certs["admin"], certs["ca"])
        run, logs = self.home / "run", self.home / "logs"
        ca = certs["ca"].cert
        pki_dir = self.pki_dir
        bin_dir = self.kube_bin

        def daemon(name: str, argv: list[str], ready: object, **kwargs: object) -> Daemon:
            return Daemon(name=name, argv=argv, run_dir=run, log_dir=logs, ready=ready, **kwargs)  # type: ignore[arg-type]

        etcd_url = f"http://127.0.0.1:{ports.etcd_client}"
        peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
        return [
            daemon(
                "etcd",
                [
                    ETCD,
                    "--name=todo",
                    f"--data-dir={self.home / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=todo={peer_url}",
                    "--initial-cluster-state=new",
                    "--quota-backend-bytes=2147483648",
                    "--snapshot-count=10000",
                    "--log-level=warn",
                ],
                lambda: self._http_ready(f"{etcd_url}/health"),
            ),
            daemon(
                "kube-apiserver",
                [
                    str(bin_dir / "kube-apiserver"),
                    f"--etcd-servers={etcd_url}",
                    "--bind-address=0.0.0.0",
                    f"--secure-port={ports.apiserver}",
                    f"--advertise-address={self.node_ip()}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    f"--client-ca-file={ca}",
                    f"--tls-cert-file={certs['apiserver'].cert}",
                    f"--tls-private-key-file={certs['apiserver'].key}",
                    f"--kubelet-client-certificate={certs['apiserver-kubelet-client'].cert}",
                    f"--kubelet-client-key={certs['apiserver-kubelet-client'].key}",
                    "--kubelet-preferred-address-types=InternalIP",
                    f"--service-account-key-file={pki_dir / 'sa.pub'}",
                    f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
                    f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
                    "--authorization-mode=Node,RBAC",
                    "--enable-admission-plugins=NodeRestriction",
                    f"--requestheader-client-ca-file={certs['front-proxy-ca'].cert}",
                    f"--proxy-client-cert-file={certs['front-proxy-client'].cert}",
                    f"--proxy-client-key-file={certs['front-proxy-client'].key}",
                    "--requestheader-allowed-names=front-proxy-client",
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                    "--requestheader-group-headers=X-Remote-Group",
                    "--requestheader-username-headers=X-Remote-User",
                    "--enable-bootstrap-token-auth=false",
                    "--profiling=false",
                    "--event-ttl=1h",
                ],
                lambda: self._http_ready(f"{self.server}/readyz", cert=certs["admin"], ca=ca),
                ready_timeout=180.0,
            ),
            daemon(
                "kube-controller-manager",
                [
                    str(bin_dir / "kube-controller-manager"),
                    f"--kubeconfig={kubeconfigs / 'controller-manager'}",
                    f"--authentication-kubeconfig={kubeconfigs / 'controller-manager'}",
                    f"--authorization-kubeconfig={kubeconfigs / 'controller-manager'}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={ports.controller_manager}",
                    f"--cluster-signing-cert-file={ca}",
                    f"--cluster-signing-key-file={certs['ca'].key}",
                    f"--root-ca-file={ca}",
                    f"--service-account-private-key-file={pki_dir / 'sa.key'}",
                    "--use-service-account-credentials=true",
                    "--leader-elect=false",
                    "--allocate-node-cidrs=true",
                    f"--cluster-cidr={CLUSTER_CIDR}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--node-cidr-mask-size=24",
                    "--profiling=false",
                ],
                lambda: self._http_ready(f"https://127.0.0.1:{ports.controller_manager}/healthz"),
            ),
            daemon(
                "kube-scheduler",
                [
                    str(bin_dir / "kube-scheduler"),
                    f"--kubeconfig={kubeconfigs / 'scheduler'}",
                    f"--authentication-kubeconfig={kubeconfigs / 'scheduler'}",
                    f"--authorization-kubeconfig={kubeconfigs / 'scheduler'}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={ports.scheduler}",
                    "--leader-elect=false",
                    "--profiling=false",
                ],
                lambda: self._http_ready(f"https://127.0.0.1:{ports.scheduler}/healthz"),
            ),
            daemon(
                "containerd",
                [CONTAINERD, f"--config={self._containerd_config()}", "--log-level=warn"],
                self._containerd_ready,
            ),
            daemon(
                "kubelet",
                [
                    str(bin_dir / "kubelet"),
                    f"--config={self._kubelet_config(certs, ports)}",
                    f"--kubeconfig={kubeconfigs / 'kubelet'}",
                    f"--root-dir={self.home / 'kubelet' / 'root'}",
                    f"--node-ip={self.node_ip()}",
                    f"--hostname-override={NODE_NAME}",
                    f"--cert-dir={self.home / 'kubelet' / 'pki'}",
                ],
                lambda: self._http_ready(f"http://127.0.0.1:{ports.kubelet_healthz}/healthz"),
            ),
            daemon(
                "kube-proxy",
                [
                    str(bin_dir / "kube-proxy"),
                    f"--config={self._proxy_config(ports)}",
                ],
                lambda: self._http_ready(f"http://127.0.0.1:{ports.proxy_healthz}/livez"),
            ),
        ]

    def _stoppable(self) -> list[Daemon]:
        """The daemons by name and program, in start order: enough to find and stop them
        (nothing is written, nothing needs to be built)."""
        programs = [
            ("etcd", ETCD),
            *(
                (name, str(self.kube_bin / name))
                for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
            ),
            ("containerd", CONTAINERD),
            ("kubelet", str(self.kube_bin / "kubelet")),
            ("kube-proxy", str(self.kube_bin / "kube-proxy")),
        ]
        return [
            Daemon(name=name, argv=[program], run_dir=self.home / "run", log_dir=self.home / "logs")
            for name, program in programs
        ]

    def _containerd_serves(self) -> bool:
        """containerd's own API answers (enough to list and stop its tasks)."""
        if not self.containerd_socket.exists():
            return False
        result = subprocess.run(
            [CTR, f"--address={self.containerd_socket}", "version"],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def _containerd_ready(self) -> bool:
        """Ready for the kubelet: its CRI service answers too. That service initialises
        after containerd's own API is up (longer the more images it holds), and a kubelet
        started in between exits at once."""
        return self._containerd_serves() and cri.runtime_serves(self.containerd_socket)

    def start(self) -> None:
        """Bring every daemon up (leaving those that already run as specified)."""
        missing = [
            p
            for p in (ETCD, CONTAINERD, CTR, "/usr/sbin/runc", f"{CNI_BIN_DIR}/bridge")
            if not Path(p).exists()
        ]
        if missing:
            raise DaemonFailed(
                f"missing {', '.join(missing)}: apt-get install {' '.join(DEBIAN_PACKAGES)}"
            )
        if os.geteuid() != 0:
            raise DaemonFailed("the local cluster runs containerd and the kubelet: run it as root")
        self._cni_config()
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        for daemon in self.daemons():
            started = daemon.start()
            log(f"{daemon.name}: {'started' if started else 'running'} (log {daemon.log_file})")

    # ------------------------------------------------------------------ teardown

    def _containerd_tasks(self) -> list[str]:
        if not self._containerd_serves():
            return []
        result = subprocess.run(
            [CTR, f"--address={self.containerd_socket}", "-n", "k8s.io", "tasks", "ls", "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.split()

    def drain(self, timeout: float = 120.0) -> None:
        """Stop every pod through the kubelet (so CNI and volumes are released): stop the
        controllers that would replace them, then delete them all."""
        daemons = {d.name: d for d in self._stoppable()}
        for name in ("kube-controller-manager", "kube-scheduler"):
            daemons[name].stop()
        if daemons["kube-apiserver"].pid() is None or daemons["kubelet"].pid() is None:
            return
        api = kube.client(self.kubeconfig)
        core = k8s.CoreV1Api(api)
        try:
            for namespace in core.list_namespace().items:
                core.delete_collection_namespaced_pod(
                    kube.name_of(namespace), grace_period_seconds=5
                )
        except (ApiException, OSError) as exc:
            log(f"could not delete the pods through the API ({exc}): they are killed")
        finally:
            api.close()  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + timeout
        while self._containerd_tasks() and time.monotonic() < deadline:
            time.sleep(1)
        left = self._containerd_tasks()
        if left:
            log(f"{len(left)} containers still ran after {timeout:.0f}s: they are killed")

    def _kill_leftover_containers(self) -> None:
        ctr = [CTR, f"--address={self.containerd_socket}", "-n", "k8s.io"]
        for task in self._containerd_tasks():
            subprocess.run(
                [*ctr, "tasks", "kill", "--signal", "SIGKILL", task],
                capture_output=True,
                check=False,
            )
        time.sleep(1)
        for task in self._containerd_tasks():
            subprocess.run(
                [*ctr, "tasks", "delete", "--force", task], capture_output=True, check=False
            )

    def _mounts_under_home(self) -> Iterator[str]:
        home = str(self.home.resolve())
        lines = Path("/proc/self/mounts").read_text().splitlines()
        points = [line.split()[1].encode().decode("unicode_escape") for line in lines]
        yield from sorted((p for p in points if p.startswith(home + "/")), key=len, reverse=True)

    def _remove_kubepods_cgroups(self) -> None:
        root = Path("/sys/fs/cgroup")
        for hierarchy in root.iterdir() if root.is_dir() else ():
            top = hierarchy / "kubepods"
            if not top.is_dir():
                continue
            for path in sorted(
                (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
            ):
                with contextlib.suppress(OSError):
                    path.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()

    def _remove_network(self) -> None:
        proxy = self.kube_bin / "kube-proxy"
        if proxy.exists():
            subprocess.run([str(proxy), "--cleanup"], capture_output=True, check=False, timeout=60)
        subprocess.run(["ip", "link", "delete", CNI_BRIDGE], capture_output=True, check=False)
        for table in ("nat", "filter"):
            rules = subprocess.run(
                ["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False
            ).stdout.splitlines()
            for rule in rules:
                if rule.startswith("-A ") and CNI_NETWORK in rule:
                    subprocess.run(
                        ["iptables", "-t", table, *("-D " + rule[3:]).split()],
                        capture_output=True,
                        check=False,
                    )
        self._remove_kubelet_chains()

    @staticmethod
    def _remove_kubelet_chains() -> None:
        """The chains kubelet makes at start (kube-proxy --cleanup leaves them): the jumps
        to them first, then the chains, in IPv4 and IPv6."""
        for program in ("iptables", "ip6tables"):
            for table in ("nat", "filter", "mangle"):
                rules = subprocess.run(
                    [program, "-t", table, "-S"], capture_output=True, text=True, check=False
                ).stdout.splitlines()
                for rule in rules:
                    words = rule.split()
                    if (
                        words[:1] == ["-A"]
                        and words[1] not in KUBELET_CHAINS
                        and any(f"-j {chain}" in rule for chain in KUBELET_CHAINS)
                    ):
                        subprocess.run(
                            [program, "-t", table, "-D", *words[1:]],
                            capture_output=True,
                            check=False,
                        )
                for chain in KUBELET_CHAINS:
                    for action in ("-F", "-X"):
                        subprocess.run(
                            [program, "-t", table, action, chain], capture_output=True, check=False
                        )

    def stop(self, *, keep_images: bool = True) -> None:
        """Drain the node, stop every daemon (last started, first stopped), undo what they
        did to this machine, and delete the cluster's state."""
        if not self.home.exists():
            return
        if (self.home / "state.json").exists():
            self.drain()
            self._kill_leftover_containers()
            for daemon in reversed(self._stoppable()):
                if daemon.stop():
                    log(f"{daemon.name}: stopped")
        for mount in self._mounts_under_home():
            subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)
        self._remove_kubepods_cgroups()
        self._remove_network()
        keep = {"containerd"} if keep_images else set()
        for entry in self.home.iterdir():
            if entry.name in keep:
                for inner in entry.iterdir():
                    if inner.name != "root":
                        shutil.rmtree(
                            inner, ignore_errors=True
                        ) if inner.is_dir() else inner.unlink()
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
