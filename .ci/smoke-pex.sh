#!/usr/bin/env bash
# Start a service PEX alone and require /healthz (and, with CHECK=ready, /readyz) to
# answer 200 (and, with PAGE=/path, that page to hold the web app's sign-in form).
# usage: [CHECK=ready|alive] [PAGE=/] smoke-pex.sh PEX PORT [ENV=VALUE ...]
set -euo pipefail
pex="$1"
port="$2"
shift 2
log="$(mktemp)"
env "$@" TODO_PORT="$port" TODO_WORKER_PORT="$port" "$pex" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    if [ "${CHECK:-ready}" = "ready" ]; then
      curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
      echo "smoke: $pex answers /healthz and /readyz on port $port"
    else
      echo "smoke: $pex answers /healthz on port $port (readyz: $(curl -s "http://127.0.0.1:$port/readyz"))"
    fi
    if [ -n "${PAGE:-}" ]; then
      # The web app's build is inside the PEX: the page, with the sign-in form in it.
      curl -fsS "http://127.0.0.1:$port$PAGE" | grep -q 'data-testid="auth-email"'
      echo "smoke: $pex serves the web app at $PAGE"
    fi
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
echo "smoke: $pex did not become healthy; its output:" >&2
cat "$log" >&2
exit 1
