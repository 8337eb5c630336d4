"""A real single-node Apache Kafka broker (KRaft, broker+controller) for development and tests.

The broker runs from plain Maven Central jars: no Docker, no Kafka tarball. The jars and
their runtime dependencies are fetched once with Maven into a cache outside the repository
(``~/.cache/todo-devstack/kafka-jars-<version>/libs``, by ``todo.devstack.toolcache``;
``TODO_DEVSTACK_CACHE`` replaces ``~/.cache/todo-devstack``), then
``java -cp 'libs/*' kafka.Kafka server.properties`` runs as a child process that listens on
127.0.0.1 only.

Needs Java 17+ (``JAVA_HOME``, ``PATH`` or ``/usr/bin/java``) and, for the first fetch only,
Maven (``mvn``).

    python -m todo.devstack.kafka                 # broker on 127.0.0.1:9092 + default topics
    python -m todo.devstack.kafka --port 19092 --data-dir /tmp/kafka
    python -m todo.devstack.kafka --fetch-only    # fill the jar cache (CI pre-fetch)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from todo.devstack.cache import cache_root
from todo.devstack.ports import free_ports
from todo.devstack.processes import (
    ChildProcess,
    OneChildServer,
    ServiceFailed,
    serve_one,
)
from todo.devstack.toolcache import MavenFetch, Tool, ensure_async

# One pin for the whole stack; the Kafka 4.x jars on Maven Central (Scala 2.13 build).
KAFKA_VERSION = "4.1.1"
# Kafka 4.x logs through SLF4J 1.7 API; log4j2 is the backend its own distribution ships.
LOG4J_VERSION = "2.24.3"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_MAIN_CLASS = "kafka.tools.StorageTool"  # in kafka_2.13 for Kafka 4.x

HOST = "127.0.0.1"
NODE_ID = 1
DEFAULT_PORT = 9092
DEFAULT_HEAP = "512m"

DEFAULT_TOPICS: Mapping[str, int] = MappingProxyType(
    {
        "task-events": 6,
        "reminders": 3,
        "task-updates": 3,
        "task-events.dlq": 1,
        "reminders.dlq": 1,
    }
)

_STOP_GRACE_SECONDS = 30.0


def _log(message: str) -> None:
    print(f"[devstack.kafka] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- tools


def _find_tool(name: str, *fallbacks: str) -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    candidates: list[str] = []
    if name == "java" and java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    found = shutil.which(name)
    if found:
        candidates.append(found)
    candidates.extend(fallbacks)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def java_executable() -> str:
    java = _find_tool("java", "/usr/bin/java", "/usr/local/bin/java")
    if java is None:
        raise RuntimeError(
            "Kafka needs Java 17+: set JAVA_HOME or put `java` on PATH "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    return java


def _tool_env(java: str | None) -> dict[str, str]:
    """The environment for java/mvn children: a usable PATH even under a bare sandbox env."""
    env = dict(os.environ)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    extra = [str(Path(java).parent)] if java else []
    extra += ["/usr/local/bin", "/usr/bin", "/bin"]
    env["PATH"] = os.pathsep.join(path + [p for p in extra if p not in path])
    if java and "JAVA_HOME" not in env:
        # /usr/bin/java is usually a symlink chain into <home>/bin/java.
        env["JAVA_HOME"] = str(Path(os.path.realpath(java)).parent.parent)
    return env


# --------------------------------------------------------------------------- jar cache


def kafka_jars(version: str = KAFKA_VERSION) -> Tool:
    """Kafka ``version``'s broker jars and their runtime dependencies, with the log4j2
    backend its own distribution ships, fetched by Maven into ``<cache>/kafka-jars-<version>/libs``
    (``todo.devstack.toolcache``). The cluster's Kafka image carries the same jars."""
    return Tool(
        name="kafka-jars",
        version=version,
        recipe=MavenFetch(
            artifacts=(
                f"org.apache.kafka:kafka_2.13:{version}",
                # TopicCommand, for the cluster's topics Job.
                f"org.apache.kafka:kafka-tools:{version}",
                f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
                f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
            ),
            plugin=MAVEN_DEPENDENCY_PLUGIN,
        ),
        outputs=("libs", f"libs/kafka_2.13-{version}.jar"),
    )


KAFKA_JARS = kafka_jars()


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    return kafka_jars(version).home


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    return kafka_home(version) / "libs"


async def ensure_kafka_jars(version: str = KAFKA_VERSION) -> Path:
    """The libs dir holding Kafka ``version`` and its runtime jars; fetched once, then cached."""
    return await ensure_async(kafka_jars(version), _log) / "libs"


# --------------------------------------------------------------------------- ports


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The JVM's server sockets use SO_REUSEADDR: leftover TIME_WAIT connections of a
        # stopped broker must not make its own port look busy on restart.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------- broker


def _random_cluster_id() -> str:
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    settings: dict[str, Any] = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        # A static single voter: the controller port may change between runs of a data dir.
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir / "kraft-logs"),
        # Topics: made explicitly by ensure_topics(), one replica, everything single-node.
        "auto.create.topics.enable": "false",
        "num.partitions": 6,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 4,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        # Small and few: a test machine has 2 cores and other things to do.
        "num.network.threads": 2,
        "num.io.threads": 2,
        "background.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "num.replica.fetchers": 1,
        "log.cleaner.threads": 1,
        "log.cleaner.dedupe.buffer.size": 8 * 1024 * 1024,
        "log.segment.bytes": 16 * 1024 * 1024,
        "log.retention.hours": 168,
        "log.retention.check.interval.ms": 300000,
        "controlled.shutdown.enable": "true",
    }
    lines = ["# Written by todo.devstack.kafka; rewritten on every start."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


_LOG4J2 = """\
# Written by todo.devstack.kafka: everything to stdout, which goes to broker.log.
status = warn
# Kafka logs its own shutdown from a JVM hook: log4j's hook must not close the appender first.
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


@dataclass
class KafkaBroker(OneChildServer):
    """One Kafka 4.x KRaft node (broker+controller) on 127.0.0.1, with its data in data_dir.

    Files in data_dir: server.properties, log4j2.properties, broker.log (the JVM's output)
    and kraft-logs/ (the topic and metadata logs, kept across stop/start).
    """

    data_dir: Path
    port: int  # client port
    controller_port: int
    version: str = KAFKA_VERSION
    heap: str = DEFAULT_HEAP
    _process: ChildProcess = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._process = ChildProcess("Kafka", self.data_dir / "broker.log")

    @classmethod
    def on_free_ports(cls, data_dir: Path, version: str = KAFKA_VERSION) -> KafkaBroker:
        port, controller_port = free_ports(2)
        return cls(data_dir=data_dir, port=port, controller_port=controller_port, version=version)

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    async def start(self, timeout: float = 90) -> None:
        """Start the broker (formatting data_dir on first use) and wait until it serves."""
        if self.running:
            return
        deadline = time.monotonic() + timeout
        libs = await ensure_kafka_jars(self.version)
        java = java_executable()
        for name, port in (("client", self.port), ("controller", self.controller_port)):
            if not _bindable(port):
                raise RuntimeError(f"Kafka {name} port {HOST}:{port} is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        if not (self.data_dir / "kraft-logs" / "meta.properties").is_file():
            await self._format(java, libs, deadline)
        started = time.monotonic()
        self._process.spawn(
            [
                *self._jvm_args(java, libs),
                KAFKA_MAIN_CLASS,
                str(self.data_dir / "server.properties"),
            ],
            _tool_env(java),
            cwd=self.data_dir,
        )
        try:
            await self._wait_ready(deadline)
        except BaseException:
            await self._process.terminate(grace=5)
            raise
        _log(
            f"Kafka {self.version} up on {self.bootstrap} in {time.monotonic() - started:.1f}s "
            f"(pid {self.pid}, log {self.log_file})"
        )

    async def stop(self) -> None:
        """Stop cleanly (SIGTERM, controlled shutdown), SIGKILL if it takes too long."""
        await self._process.terminate(grace=_STOP_GRACE_SECONDS)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # ---------------------------------------------------------------- internals

    def _jvm_args(self, java: str, libs: Path) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # quicker start on small machines; plenty for tests
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            str(libs / "*"),
        ]

    def _write_config(self) -> None:
        props = _server_properties(self.data_dir, self.port, self.controller_port)
        (self.data_dir / "server.properties").write_text(props)
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2)

    async def _format(self, java: str, libs: Path, deadline: float) -> None:
        cmd = [
            *self._jvm_args(java, libs),
            STORAGE_TOOL_MAIN_CLASS,
            "format",
            "--cluster-id",
            _random_cluster_id(),
            "--config",
            str(self.data_dir / "server.properties"),
            "--ignore-formatted",
        ]
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_tool_env(java),
        )
        try:
            async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                out, _ = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise RuntimeError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {proc.returncode}):\n"
                + out.decode("utf-8", "replace")[-4000:]
            )

    async def _wait_ready(self, deadline: float) -> None:
        last_error = "no answer yet"
        while True:
            self._process.check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceFailed(
                    self._process.failure(
                        f"did not answer on {self.bootstrap} in time ({last_error})"
                    )
                )
            try:
                async with asyncio.timeout(min(10.0, remaining)):
                    if await _broker_answers(self.bootstrap):
                        return
                    last_error = "metadata lists no broker yet"
            except Exception as exc:  # anything means "not yet"
                last_error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.25)


async def _port_open(bootstrap: str) -> bool:
    host, _, port = bootstrap.rpartition(":")
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _broker_answers(bootstrap: str) -> bool:
    if not await _port_open(bootstrap):
        return False
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    finally:
        await admin.close()


# --------------------------------------------------------------------------- topics


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int] = DEFAULT_TOPICS,
    *,
    timeout: float = 30,
) -> None:
    """Create each topic (name -> partitions, one replica) unless it already exists.

    Existing topics are left alone, whatever their partition count. Returns once every
    partition of every named topic has a leader, so producers can start right away.
    """
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=1)
            for name, partitions in topics.items()
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=15000)
            failures = []
            for entry in response.topic_errors:
                name, code = entry[0], entry[1]
                if code == 0 or code == TopicAlreadyExistsError.errno:
                    continue
                message = entry[2] if len(entry) > 2 and entry[2] else ""
                failures.append(f"{name}: {for_code(code).__name__} {message}".rstrip())
            if failures:
                raise RuntimeError("could not create Kafka topics: " + "; ".join(failures))
        await _wait_for_leaders(admin, list(topics), timeout)
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: Sequence[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while True:
        for topic in await admin.describe_topics(list(pending)):
            partitions = topic.get("partitions") or []
            if (
                topic.get("error_code") == 0
                and partitions
                and all(p.get("error_code") == 0 and p.get("leader", -1) >= 0 for p in partitions)
            ):
                pending.discard(topic["topic"])
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"Kafka topics without leaders after {timeout}s: {sorted(pending)}")
        await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m todo.devstack.kafka",
        description="Run a single-node Kafka broker on 127.0.0.1 with the project's topics.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="client port (9092)")
    parser.add_argument(
        "--controller-port",
        type=int,
        default=None,
        help="KRaft controller port (default: --port + 1)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="broker data (default: <cache>/data/kafka-<port>, kept across runs)",
    )
    parser.add_argument(
        "--kafka-version", default=KAFKA_VERSION, help=f"Kafka version ({KAFKA_VERSION})"
    )
    parser.add_argument(
        "--fetch-only", action="store_true", help="only fill the jar cache, then exit"
    )
    parser.add_argument("--no-topics", action="store_true", help="do not create the default topics")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> int:
    if args.fetch_only:
        started = time.monotonic()
        libs = await ensure_kafka_jars(args.kafka_version)
        _log(f"jar cache ready: {libs} ({time.monotonic() - started:.1f}s)")
        print(libs)
        return 0
    port: int = args.port
    controller_port: int = args.controller_port or port + 1
    data_dir: Path = args.data_dir or cache_root() / "data" / f"kafka-{port}"
    broker = KafkaBroker(
        data_dir=data_dir.resolve(),
        port=port,
        controller_port=controller_port,
        version=args.kafka_version,
    )

    async def create_topics() -> None:
        if not args.no_topics:
            await ensure_topics(broker.bootstrap, DEFAULT_TOPICS)
            _log("topics: " + ", ".join(f"{n}({p})" for n, p in DEFAULT_TOPICS.items()))

    _log(f"data in {data_dir}")
    return await serve_one(broker, "Kafka", lambda: broker.bootstrap, _log, create_topics)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
