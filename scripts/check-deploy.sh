#!/usr/bin/env bash
# Checks deploy/ offline: the Kubernetes manifests against the Kubernetes
# schemas (kubernetes-validate, from PyPI, in a virtualenv under target/),
# strictly, so an unknown field fails; the node pods' start script gives
# each pod its node id and the others as peers; the gateway's node list is
# one `moviebook` accepts; the Grafana dashboard is JSON (a Rust test checks
# its metrics). Installs python3-venv if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh

venv=target/deploy-check
ensure_python_tool "$venv" "kubernetes-validate==1.37.0"
"$venv/bin/kubernetes-validate" --strict --quiet deploy/kubernetes/nodes.yaml deploy/kubernetes/gateway.yaml

# The StatefulSet's start script, run as pod moviebook-node-1 would, with a
# `moviebook` that prints what it was given.
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
printf '#!/bin/sh\necho "NODE_ID=$NODE_ID PEERS=$PEERS DATABASE_URL=$DATABASE_URL $*"\n' > "$stub/moviebook"
chmod +x "$stub/moviebook"
script=$("$venv/bin/python" - <<'PY'
import yaml
docs = list(yaml.safe_load_all(open("deploy/kubernetes/nodes.yaml")))
sts = next(d for d in docs if d["kind"] == "StatefulSet")
node = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "node")
print(node["command"][2])
PY
)
got=$(env -i PATH="$stub:/usr/bin:/bin" HOSTNAME=moviebook-node-1 NODES_COUNT=3 DATABASE_PASSWORD=pw sh -c "$script")
want="NODE_ID=2 PEERS=1=moviebook-node-0.moviebook-nodes:3001,3=moviebook-node-2.moviebook-nodes:3001 DATABASE_URL=postgres://moviebook:pw@127.0.0.1:5432/moviebook node"
[ "$got" = "$want" ] || { echo "error: pod moviebook-node-1 would start as: $got" >&2; exit 1; }

# The gateway's NODES, as `moviebook gateway` parses them (on port 0, for a
# moment: it must start, not refuse its node list).
nodes=$("$venv/bin/python" - <<'PY'
import yaml
docs = list(yaml.safe_load_all(open("deploy/kubernetes/gateway.yaml")))
deploy = next(d for d in docs if d["kind"] == "Deployment")
env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
print(next(e["value"] for e in env if e["name"] == "NODES"))
PY
)
NODES="$nodes" timeout 2 target/release/moviebook gateway --port 0 > /dev/null 2>&1 || [ $? -eq 124 ] \
  || { echo "error: moviebook gateway refuses NODES=$nodes" >&2; exit 1; }

python3 -m json.tool deploy/grafana/moviebook.json > /dev/null
echo "deploy/ checked: manifests valid, pod start script and gateway nodes as intended"
