"""Every image the cluster runs, built here and pushed to the registry on 127.0.0.1.

No image is pulled from a public registry. Three kinds:

- **from Debian packages**: a root filesystem made by ``mmdebstrap --variant=minbase``
  (Debian's debootstrap alternative: apt downloads in parallel and writes a tarball) from
  this machine's Debian mirror, cached as a tool (``DebianRootfs``), imported into the
  Docker engine, then finished by a small Dockerfile: the Python base of our own images,
  PostgreSQL 15, and a Java 17 runtime for Kafka;
- **static programs** on an empty base (``FROM scratch``): Dapr (one multi-call binary,
  tagged under each name the Dapr chart expects), CoreDNS, Traefik, the pod sandbox's pause;
- **ours**: the backend and worker images, built and pushed by ``./pants publish
  src/docker::`` over the Python base above (or ``python:3.11-slim-bookworm`` where a
  registry serves it), tagged with the commit.

Image tags of what we build from a recipe carry a digest of what went in (Dockerfile, files,
base), so an unchanged image is found in the registry and neither rebuilt nor pushed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx

from todo.cluster import builds
from todo.cluster.log import log
from todo.devstack import dapr, kafka, toolcache
from todo.devstack.cache import cache_root
from todo.devstack.toolcache import Log, Recipe, Tool, ToolUnavailable, digest_of, run_build_step

DEBIAN_SUITE = "bookworm"
NONROOT = "65532:65532"


def debian_mirrors() -> list[str]:
    """The apt sources of this machine for the suite (deb822 or one-line format), so the
    rootfs comes from the same mirror apt uses; Debian's own mirror otherwise."""
    uris: list[str] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1)
                for line in stanza.splitlines()
                if ":" in line and not line.startswith("#")
            )
            if "URIs" in fields and DEBIAN_SUITE in fields.get("Suites", ""):
                uri = fields["URIs"].strip().split()[0]
                suites = fields["Suites"].split()
                for suite in suites:
                    if suite.startswith(DEBIAN_SUITE):
                        uris.append(f"deb {uri} {suite} main")
    legacy = Path("/etc/apt/sources.list")
    if not uris and legacy.is_file():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2].startswith(DEBIAN_SUITE):
                uris.append(f"deb {parts[1]} {parts[2]} main")
    return uris or [f"deb http://deb.debian.org/debian {DEBIAN_SUITE} main"]


@dataclass(frozen=True)
class DebianRootfs(Recipe):
    """A Debian minbase root filesystem with ``packages`` as ``rootfs.tar``, made by
    mmdebstrap; downloaded packages are kept in ``<cache>/debian-archives`` and reused.
    ``essential_hooks`` are shell commands run on this machine (``$1`` is the new root)
    before the packages are installed (e.g. a system user with a fixed id)."""

    packages: tuple[str, ...]
    essential_hooks: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        return digest_of(DEBIAN_SUITE, *self.packages, *self.essential_hooks)

    def build(self, staging: Path, log: Log) -> None:
        mmdebstrap = shutil.which("mmdebstrap")
        if mmdebstrap is None:
            raise ToolUnavailable("mmdebstrap is missing: apt-get install mmdebstrap")
        archives = cache_root() / "debian-archives"
        archives.mkdir(parents=True, exist_ok=True)
        argv = [
            mmdebstrap,
            "--variant=minbase",
            "--mode=root",
            "--format=tar",
            f"--include={','.join(self.packages)}",
            '--aptopt=Acquire::Queue-Mode "host"',
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-include=/usr/share/locale/locale.alias",
            f'--setup-hook=mkdir -p "$1/var/cache/apt/archives" && '
            f'cp -a {archives}/. "$1/var/cache/apt/archives/"',
            "--skip=download/empty",
            # Man pages are left out, but update-alternatives links into man1 (Java does).
            '--essential-hook=mkdir -p "$1/usr/share/man/man1"',
            *(f"--essential-hook={hook}" for hook in self.essential_hooks),
            f"--customize-hook=sync-out /var/cache/apt/archives {archives}",
            '--customize-hook=rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*',
            DEBIAN_SUITE,
            str(staging / "rootfs.tar"),
            *debian_mirrors(),
        ]
        log(f"mmdebstrap {DEBIAN_SUITE} + {' '.join(self.packages)}")
        run_build_step(
            argv, cwd=staging, env=os.environ, what="mmdebstrap", fix="check the Debian mirror"
        )

    def describe(self) -> str:
        return f"Debian {DEBIAN_SUITE} minbase + {' '.join(self.packages)}"


PYTHON_ROOTFS = Tool(
    name="rootfs-python",
    version="3.11-bookworm",
    recipe=DebianRootfs(packages=("python3.11", "python3", "ca-certificates", "tzdata")),
    outputs=("rootfs.tar",),
)
POSTGRES_ROOTFS = Tool(
    name="rootfs-postgres",
    version="15-bookworm",
    recipe=DebianRootfs(
        packages=("postgresql-15",),
        # Debian's postinst keeps an existing user: a fixed uid for runAsUser (groupadd is
        # not installed yet at this point, so the entries are written as they are).
        essential_hooks=(
            'echo "postgres:x:999:" >> "$1/etc/group" && echo '
            '"postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh" '
            '>> "$1/etc/passwd"',
        ),
    ),
    outputs=("rootfs.tar",),
)
JAVA_ROOTFS = Tool(
    name="rootfs-java",
    version="17-bookworm",
    recipe=DebianRootfs(packages=("openjdk-17-jre-headless",)),
    outputs=("rootfs.tar",),
)
ROOTFS_TOOLS = (PYTHON_ROOTFS, POSTGRES_ROOTFS, JAVA_ROOTFS)


# --------------------------------------------------------------------------- engine


class Engine:
    """The Docker engine (started by ``build-support/bin/docker-engine`` when none answers)."""

    def __init__(self, repo: Path) -> None:
        script = repo / "build-support" / "bin" / "docker-engine"
        result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ToolUnavailable(f"no Docker engine: {result.stderr.strip()}")
        self.host = result.stdout.strip().splitlines()[-1]
        self.docker = next(
            (p for p in ("/usr/bin/docker", "/usr/local/bin/docker") if toolcache.executable(p)),
            "docker",
        )

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def run(self, *args: str, what: str | None = None) -> str:
        result = subprocess.run(
            [self.docker, *args], capture_output=True, text=True, env=self.env, check=False
        )
        if result.returncode != 0:
            raise ToolUnavailable(
                f"docker {what or ' '.join(args[:2])} failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr).strip()[-3000:]}"
            )
        return result.stdout

    def has_image(self, ref: str) -> bool:
        result = subprocess.run(
            [self.docker, "image", "inspect", ref], capture_output=True, env=self.env, check=False
        )
        return result.returncode == 0

    def import_rootfs(self, tar: Path, ref: str) -> None:
        if not self.has_image(ref):
            log(f"docker import {ref}")
            self.run("import", str(tar), ref, what=f"import {ref}")

    def build(self, context: Path, ref: str, build_args: Mapping[str, str] | None = None) -> None:
        args = ["build", "--network=none", "--tag", ref]
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        self.run(*args, str(context), what=f"build {ref}")

    def push(self, ref: str) -> None:
        self.run("push", ref, what=f"push {ref}")


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class Image:
    """An image built from a Dockerfile and a context of files; ``tags`` pushes the same
    image under more repository names (the Dapr programs)."""

    repository: str  # under the registry, e.g. "dapr/operator"
    version: str
    dockerfile: str
    files: Mapping[str, Path] = field(default_factory=dict)  # context path -> file or dir
    base: str | None = None  # a local image the Dockerfile names as BASE
    also: tuple[str, ...] = ()  # more repositories with the same image

    def digest(self) -> str:
        hasher = hashlib.sha256(self.dockerfile.encode())
        hasher.update((self.base or "").encode())
        for name, path in sorted(self.files.items()):
            hasher.update(name.encode())
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_symlink():
                    hasher.update(f"{file.name}->{os.readlink(file)}".encode())
                elif file.is_file():
                    hasher.update(file.name.encode())
                    with open(file, "rb") as fh:
                        for chunk in iter(lambda: fh.read(1 << 20), b""):
                            hasher.update(chunk)
        return hasher.hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{self.version}-{self.digest()}"


def registry_has(registry: str, repository: str, tag: str) -> bool:
    try:
        response = httpx.head(
            f"http://{registry}/v2/{repository}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def publish(engine: Engine, registry: str, image: Image) -> str:
    """Build and push ``image`` unless the registry has it: its reference (under the first
    repository)."""
    tag = image.tag
    repositories = (image.repository, *image.also)
    refs = [f"{registry}/{repo}:{tag}" for repo in repositories]
    if all(registry_has(registry, repo, tag) for repo in repositories):
        return refs[0]
    built = f"{image.repository}:{image.tag}"
    if not engine.has_image(built):
        with tempfile.TemporaryDirectory(prefix="image-") as tmp:
            context = Path(tmp)
            (context / "Dockerfile").write_text(image.dockerfile)
            for name, source in image.files.items():
                target = context / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target, symlinks=True)
                else:
                    shutil.copy2(source, target)
            log(f"docker build {built}")
            engine.build(context, built, {"BASE": image.base} if image.base else None)
    for ref in refs:
        engine.run("tag", built, ref)
        engine.push(ref)
    log(f"pushed {', '.join(refs)}")
    return refs[0]


_USER_DATABASE = """root:x:0:0:root:/:/sbin/nologin
nonroot:x:65532:65532:nonroot:/:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
pause:x:65535:65535:pause:/:/sbin/nologin
"""
_GROUP_DATABASE = "root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\npause:x:65535:\n"


def _resource(name: str) -> str:
    return resources.files("todo.cluster").joinpath("images", name).read_text()


def import_base(engine: Engine, tool: Tool) -> str:
    """A ``DebianRootfs`` tool (built now if need be) as a local image named after its
    fingerprint: the BASE of the images made over it."""
    rootfs = toolcache.ensure(tool) / "rootfs.tar"
    fingerprint = str((toolcache.build_record(tool) or {}).get("fingerprint", "unknown"))
    ref = f"todo-cluster/{tool.name}:{fingerprint[:12]}"
    engine.import_rootfs(rootfs, ref)
    return ref


@dataclass(frozen=True)
class BuiltImages:
    """The references the installers use."""

    python_base: str  # a local image (the BASE_IMAGE of our Dockerfiles), not pushed
    pause: str | None  # the local node's only
    coredns: str | None
    traefik: str
    postgres: str
    kafka: str
    dapr_registry: str  # the Dapr chart's global.registry
    dapr_tag: str  # ... and global.tag


def build_all(engine: Engine, registry: str, work: Path, *, for_local_node: bool) -> BuiltImages:
    """Build (or find) every image but ours (the pause and CoreDNS images only for the local
    node); ``work`` holds build contexts' files."""
    work.mkdir(parents=True, exist_ok=True)
    traefik = toolcache.ensure(builds.TRAEFIK)
    dapr_home = toolcache.ensure(dapr.DAPR)
    jars = toolcache.ensure(kafka.KAFKA_JARS)

    def base(tool: Tool) -> str:
        return import_base(engine, tool)

    python_base = base(PYTHON_ROOTFS)
    for name in ("postgres-entrypoint", "kafka-entrypoint"):
        script = work / name
        script.write_text(_resource(name))
        script.chmod(0o755)
    # An empty base has no user database; the kubelet runs an image's numeric user without
    # its group unless /etc/passwd names it (and daprd insists on 65532:65532).
    (work / "passwd").write_text(_USER_DATABASE)
    (work / "group").write_text(_GROUP_DATABASE)
    users = {"passwd": work / "passwd", "group": work / "group"}

    static = (
        "FROM scratch\nCOPY passwd /etc/passwd\nCOPY group /etc/group\nCOPY {src} /{dst}\n"
        'USER {user}\nENTRYPOINT ["/{dst}"]\n'
    )
    refs: dict[str, str] = {}
    refs["traefik"] = publish(
        engine,
        registry,
        Image(
            "todo-cluster/traefik",
            builds.TRAEFIK_VERSION,
            static.format(src="traefik", dst="traefik", user=NONROOT),
            {"traefik": traefik / "traefik", **users},
        ),
    )
    if for_local_node:
        pause = toolcache.ensure(builds.PAUSE)
        coredns = toolcache.ensure(builds.COREDNS)
        refs["pause"] = publish(
            engine,
            registry,
            Image(
                "todo-cluster/pause",
                "1",
                static.format(src="pause", dst="pause", user="65535:65535"),
                {"pause": pause / "pause", **users},
            ),
        )
        refs["coredns"] = publish(
            engine,
            registry,
            Image(
                "todo-cluster/coredns",
                builds.COREDNS_VERSION,
                static.format(src="coredns", dst="coredns", user=NONROOT),
                {"coredns": coredns / "coredns", **users},
            ),
        )
    programs = dapr.PROGRAMS
    dapr_image = Image(
        "dapr/daprd",
        dapr.DAPR_VERSION,
        # The chart runs /operator, /placement, ...; daprd requires uid/gid 65532.
        "FROM scratch\nCOPY passwd /etc/passwd\nCOPY group /etc/group\nCOPY bin/ /\n"
        f"USER {NONROOT}\n",
        {"bin": dapr_home / "bin", **users},
        also=tuple(f"dapr/{p}" for p in programs if p != "daprd"),
    )
    # The chart names every image {global.registry}/{name}:{global.tag}: one tag for all six.
    publish(engine, registry, dapr_image)
    refs["postgres"] = publish(
        engine,
        registry,
        Image(
            "todo-cluster/postgres",
            "15",
            "ARG BASE\nFROM ${BASE}\nCOPY postgres-entrypoint /usr/local/bin/postgres-entrypoint\n"
            'USER 999:999\nENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]\n',
            {"postgres-entrypoint": work / "postgres-entrypoint"},
            base=base(POSTGRES_ROOTFS),
        ),
    )
    refs["kafka"] = publish(
        engine,
        registry,
        Image(
            "todo-cluster/kafka",
            kafka.KAFKA_VERSION,
            "ARG BASE\nFROM ${BASE}\nCOPY libs/ /opt/kafka/libs/\n"
            "COPY kafka-entrypoint /usr/local/bin/kafka-entrypoint\n"
            'USER 10003:10003\nENTRYPOINT ["/usr/local/bin/kafka-entrypoint"]\n',
            {"libs": jars / "libs", "kafka-entrypoint": work / "kafka-entrypoint"},
            base=base(JAVA_ROOTFS),
        ),
    )
    return BuiltImages(
        python_base=python_base,
        pause=refs.get("pause"),
        coredns=refs.get("coredns"),
        traefik=refs["traefik"],
        postgres=refs["postgres"],
        kafka=refs["kafka"],
        dapr_registry=f"{registry}/dapr",
        dapr_tag=dapr_image.tag,
    )


def publish_ours(
    repo: Path, engine: Engine, registry: str, python_base: str, tag: str
) -> dict[str, str]:
    """``./pants publish src/docker::`` onto the local registry over our Python base: the
    backend and worker images, tagged ``tag`` (the commit)."""
    repositories = {"backend": "todo-cloud/todo-backend", "worker": "todo-cloud/todo-worker"}
    refs = {name: f"{registry}/{repo_path}:{tag}" for name, repo_path in repositories.items()}
    if _clean_tree(repo) and all(registry_has(registry, r, tag) for r in repositories.values()):
        log(f"our images of commit {tag} are in the registry already")
        return refs
    env = {
        **engine.env,
        "GIT_SHA": tag,
        "TODO_IMAGE_REGISTRY": f"{registry}/todo-cloud",
        "TODO_BASE_IMAGE": python_base,
    }
    log(f"./pants publish src/docker:: -> {registry}/todo-cloud (tag {tag})")
    run_build_step(
        [str(repo / "pants"), "--no-pantsd", "publish", "src/docker::"],
        cwd=repo,
        env=env,
        what="./pants publish src/docker::",
        fix="see the output below",
    )
    return refs


def _clean_tree(repo: Path) -> bool:
    """No change since the commit: an image tagged with it is what it would build."""
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=False,
    )
    return status.returncode == 0 and not status.stdout.strip()


def image_sizes(engine: Engine, refs: Sequence[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for ref in refs:
        out = engine.run("image", "inspect", "--format", "{{json .Size}}", ref)
        sizes[ref] = int(json.loads(out))
    return sizes
