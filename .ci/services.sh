#!/usr/bin/env bash
# Installs (if missing) and starts the servers the tests need, idempotently; fails loudly.
# Sourced by .ci/run; developers can source it too: `source .ci/services.sh`.
set -euo pipefail

log() { echo "[services] $*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

start_postgres() {
  apt_install postgresql
  local version
  version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
    pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL $version"
    pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not become ready"; return 1; }
  # A test-only superuser on loopback; the password is not a secret of any deployment.
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='todo_test'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE todo_test LOGIN SUPERUSER PASSWORD 'todo_test'\""
  export TODO_TEST_POSTGRES_URL="postgresql://todo_test:todo_test@127.0.0.1:5432/postgres"
  log "PostgreSQL ready: $TODO_TEST_POSTGRES_URL"
}

ensure_bench_tools() {
  # The HTTP benchmark's load generator (loadtests/bench_http.py) and its test.
  apt_install wrk
  log "wrk: $(wrk --version 2>&1 | head -1)"
}

start_chromium() {
  apt_install chromium
  export TODO_TEST_CHROMIUM=/usr/bin/chromium
  log "Chromium: $("$TODO_TEST_CHROMIUM" --version 2>/dev/null || echo unknown)"
}

ensure_go() {
  # daprd and the Dapr scheduler are built from the Dapr Go module (build-support/dapr).
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="$PATH:/usr/local/go/bin"
  fi
  command -v go >/dev/null 2>&1 || apt_install golang-go
  log "Go: $(go version)"
}

ensure_kafka_prereqs() {
  # The Kafka broker of the tests runs from Apache's jars, fetched by Maven on a JVM.
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  log "Kafka prerequisites: $(java -version 2>&1 | head -1); $(mvn -v 2>/dev/null | head -1)"
}

start_docker() {
  # Image builds (./pants package src/docker::): Debian's Docker engine, started by the
  # project's own script (data in ~/.cache/todo-docker; an engine that answers is reused).
  apt_install docker.io
  DOCKER_HOST="$(build-support/bin/docker-engine)"
  export DOCKER_HOST
  log "Docker: $(docker version --format '{{.Server.Version}}' 2>/dev/null) at $DOCKER_HOST"
}

ensure_cluster_prereqs() {
  # What the local cluster runs from Debian (todo.cluster.local): etcd, containerd, runc,
  # the CNI plugins, iptables for kube-proxy; mmdebstrap for the images' root filesystems;
  # gcc for the pod sandbox's pause.
  apt_install etcd-server containerd runc containernetworking-plugins iptables conntrack \
    socat ethtool mmdebstrap gcc libc6-dev
  start_docker
}

ensure_node() {
  # The web app (src/web) builds with the machine's Node.js through Pants' JavaScript
  # backend; Vite 8 needs 20.19 or newer. npm comes through Corepack from the registry.
  local version
  version="$(node --version 2>/dev/null || true)"
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
    log "Node.js 20.19+ is needed for the web app (found: ${version:-none}); install it (e.g. from nodejs.org or your distribution's backports) and put it on PATH"
    return 1
  fi
  command -v corepack >/dev/null 2>&1 || { log "corepack not found beside node ($version)"; return 1; }
  log "Node.js: $version"
}
