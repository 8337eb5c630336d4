#!/usr/bin/env bash
# A throw-away kind cluster for cd.yml's end-to-end job, with the image registry kind
# documents for local images: a registry container on localhost:$PORT of the runner (what
# `up --existing --image-registry localhost:$PORT` pushes to) that the nodes' containerd
# reaches on kind's Docker network under the same name. Needs Go (kind builds from the Go
# module proxy) and Docker; the runner's public registries serve kind's node image and the
# registry's.
#   .github/kind-cluster.sh
set -euo pipefail

port="${PORT:-5001}"
name="${KIND_CLUSTER:-todo-e2e}"
registry="kind-registry"

go install sigs.k8s.io/kind@v0.33.0
kind="$(go env GOPATH)/bin/kind"

if [ -z "$(docker ps -q --filter "name=^${registry}$")" ]; then
  docker run -d --restart=always -p "127.0.0.1:$port:5000" --network bridge --name "$registry" registry:2
fi

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

for node in $("$kind" get nodes --name "$name"); do
  docker exec "$node" mkdir -p "/etc/containerd/certs.d/localhost:$port"
  printf '[host."http://%s:5000"]\n' "$registry" |
    docker exec -i "$node" tee "/etc/containerd/certs.d/localhost:$port/hosts.toml" >/dev/null
done
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$registry")" = "null" ]; then
  docker network connect kind "$registry"
fi
echo "kind cluster $name: images at localhost:$port" >&2
