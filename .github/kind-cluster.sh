#!/usr/bin/env bash
# A throw-away kind cluster for cd.yml's end-to-end job, whose nodes pull from the cluster
# command's image registry (127.0.0.1:$PORT on the runner, as on a developer's machine):
# each node's containerd resolves that address to the runner on kind's Docker network, and
# the registry listens on every address of the runner (TODO_REGISTRY_LISTEN; the runner is
# thrown away with it). Needs Go (kind builds from the Go module proxy) and Docker.
#   .github/kind-cluster.sh                 # writes TODO_CLUSTER_HOME's registry port
set -euo pipefail

port="${PORT:-5000}"
name="${KIND_CLUSTER:-todo-e2e}"
home="${TODO_CLUSTER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/todo-cluster}"

go install sigs.k8s.io/kind@v0.33.0
kind="$(go env GOPATH)/bin/kind"

config="$(mktemp)"
cat > "$config" <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
EOF
"$kind" create cluster --name "$name" --config "$config" --wait 180s

gateway="$(docker network inspect kind --format '{{range .IPAM.Config}}{{println .Gateway}}{{end}}' | grep -m1 -F .)"
for node in $("$kind" get nodes --name "$name"); do
  docker exec "$node" mkdir -p "/etc/containerd/certs.d/127.0.0.1:$port"
  printf '[host."http://%s:%s"]\n  capabilities = ["pull", "resolve"]\n' "$gateway" "$port" |
    docker exec -i "$node" tee "/etc/containerd/certs.d/127.0.0.1:$port/hosts.toml" >/dev/null
done

# The registry the cluster command starts: this port, on every address.
mkdir -p "$home/registry"
printf '{"port": %s}\n' "$port" > "$home/registry/state.json"
if [ -n "${GITHUB_ENV:-}" ]; then
  echo "TODO_REGISTRY_LISTEN=0.0.0.0" >> "$GITHUB_ENV"
fi
echo "kind cluster $name: nodes pull 127.0.0.1:$port from $gateway:$port" >&2
