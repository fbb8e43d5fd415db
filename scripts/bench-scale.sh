#!/usr/bin/env bash
# The scaling machine on a 500-worker / 15,000-pod cluster, on the end-to-end rig (the synthesized
# stack, moto behind the IAM proxy, the cluster emulator, Prometheus; every function behind the
# Lambda Runtime API): a scale-down (Evaluate on every tick, the DrainNode polls) and a scale-up
# (the CheckNodesReady polls). Prints per step the invocations, median and max wall time and peak
# RSS as a Markdown table, with the load average (others' builds share the machine: say so when
# recording). See tests/e2e/scale.bench.mjs. Takes several minutes; not part of CI.
#
# Usage: scripts/bench-scale.sh [--lambda-dir DIR] [--emulator-bin PATH] [--workers N] [--pods N]
#   --lambda-dir DIR  the tree scripts/package-lambdas.sh wrote (bootstrap/bootstrap.zip): measure
#                     the packaged release binary (default: the debug build, which is slower)
#   --emulator-bin PATH  a `smartscale` binary with the `emulate` command, such as the release build
#                     of `cargo build --release -p smartscale-sim --no-default-features --features
#                     emulator` (default: the debug build, whose list pages are far slower)
#   --workers N, --pods N  the cluster (default 500 and 15000)
#   --max-ticks N     stop (and print the figures) after N ticks
#   --lists-only      no rig: seed the emulator alone with that cluster and time (curl) the list
#                     requests Evaluate and the polls make, in pages of 500 as the adapter reads them
# With both --lambda-dir and --emulator-bin (or --lists-only and --emulator-bin) nothing is built.
# The `decide` figures at that size come from criterion:
#   cargo bench -p smartscale-engine --bench decide -- 500_workers
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

lambda_dir=""
emulator_bin=""
lists_only=""
max_ticks=0
workers=500
pods=15000
while [ $# -gt 0 ]; do
  case "$1" in
    --lambda-dir) lambda_dir="${2:?--lambda-dir needs a directory}"; shift 2 ;;
    --emulator-bin) emulator_bin="${2:?--emulator-bin needs a path}"; shift 2 ;;
    --lists-only) lists_only=1; shift ;;
    --max-ticks) max_ticks="${2:?--max-ticks needs a number}"; shift 2 ;;
    --workers) workers="${2:?--workers needs a number}"; shift 2 ;;
    --pods) pods="${2:?--pods needs a number}"; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# lists_only: times the emulator's list requests on a seeded cluster of $workers nodes and $pods pods.
lists_only() {
  need_apt curl
  local bin="${emulator_bin:-$CARGO_TARGET_DIR/debug/smartscale}" work port url pid
  [ -n "$emulator_bin" ] || cargo build --workspace --locked --all-targets
  work="$(mktemp -d -t smartscale-lists.XXXXXX)"
  # shellcheck disable=SC2064 # expand now: the trap runs after the locals are gone
  trap "kill \$(cat '$work/pid' 2>/dev/null) 2>/dev/null || true; rm -rf '$work'" EXIT
  python3 - "$workers" "$pods" > "$work/seed.json" <<'PY'
import json, sys
workers, pods = int(sys.argv[1]), int(sys.argv[2])
apps = 100
zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
nodes = [{"name": "k3s-master", "controlPlane": True, "unschedulable": True, "zone": zones[0]}]
nodes += [{"name": f"w{i}", "instanceId": f"i-{i:017x}", "zone": zones[i % 3], "instanceType": "t3.small"} for i in range(workers)]
def deployment(name, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": f"{name}:bench",
                                           "resources": {"requests": {"cpu": "20m", "memory": "8Mi"}}}]}}}}
print(json.dumps({"nodes": nodes, "objects": [deployment(f"app-{i}", -(-pods // apps)) for i in range(apps)]}))
PY
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  url="http://127.0.0.1:$port"
  "$bin" emulate --listen "127.0.0.1:$port" --pod-startup 1s --seed "$work/seed.json" > "$work/emulator.log" 2>&1 &
  pid=$!
  echo "$pid" > "$work/pid"
  local started=$SECONDS running=0
  until [ "$running" -ge "$pods" ]; do
    sleep 2
    [ $((SECONDS - started)) -lt 600 ] || { echo "fewer than $pods pods Running after 600 s" >&2; exit 1; }
    running="$(curl -sf "$url/api/v1/pods?fieldSelector=status.phase%3DRunning" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))' || echo 0)"
  done
  echo "emulator: $bin; $workers nodes, $running pods Running after $((SECONDS - started)) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo '| request | time s | bytes |'
  echo '|---|---:|---:|'
  # time_get LABEL PATH: one GET, printed as a table row.
  time_get() { curl -sf -o /dev/null -w "| $1 | %{time_total} | %{size_download} |\n" "$url$2"; }
  time_get 'first page of 500 pods' '/api/v1/pods?limit=500'
  time_get 'first page of 500 nodes' '/api/v1/nodes?limit=500'
  time_get 'PodDisruptionBudgets (none)' '/apis/policy/v1/poddisruptionbudgets?limit=500'
  time_get 'ReplicaSets' '/apis/apps/v1/replicasets?limit=500'
  time_get 'Deployments' '/apis/apps/v1/deployments?limit=500'
  time_get 'StatefulSets (none)' '/apis/apps/v1/statefulsets?limit=500'
  time_get "one node's pods (the drain poll)" '/api/v1/pods?limit=500&fieldSelector=spec.nodeName%3Dw7'
  time_get 'node-exporter metrics' '/metrics/node-exporter'
  time_get 'kube-state-metrics' '/metrics/kube-state-metrics'
  # Every pod page in sequence, as the view reads them.
  local t0 token="" pages=0 page
  t0="$(date +%s.%N)"
  while :; do
    page="$(curl -sf "$url/api/v1/pods?limit=500${token:+&continue=$token}")"
    pages=$((pages + 1))
    token="$(printf '%s' "$page" | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"].get("continue", ""))')"
    [ -n "$token" ] || break
  done
  echo "| all $pages pod pages in sequence (with a JSON parse per page) | $(python3 -c "import time; print(f'{time.time() - $t0:.3f}')") | |"
  echo
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [ -n "$lists_only" ]; then
  lists_only
  exit 0
fi

bash scripts/test-e2e.sh --install-only
need_apt unzip
if [ -z "$lambda_dir" ] || [ -z "$emulator_bin" ]; then
  log "building the emulator and the debug bootstrap"
  cargo build --workspace --locked --all-targets
fi

WORK="$(mktemp -d -t smartscale-scale.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin" "$WORK/synth"
if [ -n "$lambda_dir" ]; then
  unzip -q -o "$lambda_dir/bootstrap/bootstrap.zip" bootstrap -d "$WORK/bin"
  echo "bootstrap: the packaged release binary of $lambda_dir"
else
  ln -s "$CARGO_TARGET_DIR/debug/bootstrap" "$WORK/bin/bootstrap"
  echo "bootstrap: the debug build"
fi
if [ -n "$emulator_bin" ]; then
  [ -x "$emulator_bin" ] || { echo "no executable at $emulator_bin" >&2; exit 2; }
  ln -s "$(realpath "$emulator_bin")" "$WORK/bin/smartscale"
  echo "emulator: $emulator_bin"
else
  ln -s "$CARGO_TARGET_DIR/debug/smartscale" "$WORK/bin/smartscale"
  echo "emulator: the debug build"
fi

export SMARTSCALE_BIN_DIR="$WORK/bin" SMARTSCALE_E2E_SYNTH_DIR="$WORK/synth"
export SMARTSCALE_PYTHON="$SMARTSCALE_ROOT/.venv/bin/python" PROMETHEUS_BIN=/usr/bin/prometheus
node tests/e2e/scale.bench.mjs --workers "$workers" --pods "$pods" --max-ticks "$max_ticks"
