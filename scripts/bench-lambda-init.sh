#!/usr/bin/env bash
# Start-up cost of the packaged `bootstrap`, without AWS: wall time and peak memory from exec to
# exit of a local-mode run, per step (SMARTSCALE_STEP, as the CDK sets it), whose event is invalid
# ('{}').
#
# Usage: scripts/bench-lambda-init.sh [--lambda-dir DIR] [--runs N]
#   --lambda-dir DIR  the tree scripts/package-lambdas.sh wrote (bootstrap/bootstrap.zip)
#                     (default: <repo>/target/lambda)
#   --runs N          hyperfine runs per function (default 30, after 3 warm-up runs)
#
# What one run does: load the binary, start tokio and tracing, read the configuration from the
# environment, build the AWS SDK configuration and the clients the step needs (its seams in
# functions/contract.json), read the event,
# reject it (missing execution fields), print the error and exit 1. That is our share of a Lambda
# cold start's init phase, on this machine's CPU. It leaves out what only Lambda does: fetching and
# unpacking the zip, starting the sandbox, the Runtime API round trips, and any network call.
# Only steps whose start-up makes no network call are measured: those that read a Kubernetes or
# Prometheus secret from Secrets Manager at start-up (CLUSTER or METRICS needs) would measure a
# refused connection and the SDK's retries instead.
# No AWS endpoint is contacted: credentials and region are fixed dummies, IMDS is disabled and
# the endpoint points at a closed loopback port.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

dir="$SMARTSCALE_ROOT/target/lambda"
runs=30
while [ $# -gt 0 ]; do
  case "$1" in
    --lambda-dir) dir="${2:?--lambda-dir needs a directory}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Steps whose start-up needs no network: STORE, EC2 and NOTIFY (with no secret configured).
readonly STEPS=(acquire-lock record-outcome release-lock cleanup launch-nodes notify)

need_apt hyperfine time unzip

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo '{}' >"$tmp/event.json"
port="$(free_port)"
run_env=(env -i "PATH=/usr/bin:/bin" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench
  AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true "AWS_ENDPOINT_URL=http://127.0.0.1:$port"
  RUST_LOG=info)

echo "| step | wall time, mean ± σ (ms) | min (ms) | peak RSS (MiB) |"
echo "|---|---:|---:|---:|"
zip="$dir/bootstrap/bootstrap.zip"
[ -f "$zip" ] || { echo "$zip is missing (run scripts/package-lambdas.sh)" >&2; exit 1; }
unzip -q -o "$zip" bootstrap -d "$tmp"
bin="$tmp/bootstrap"
base_env=("${run_env[@]}")
for name in "${STEPS[@]}"; do
  run_env=("${base_env[@]}" "SMARTSCALE_STEP=$name")
  # The run must end in the event's rejection (exit 1 with errorType), not anywhere earlier.
  set +e
  out="$("${run_env[@]}" "$bin" --event "$tmp/event.json" 2>"$tmp/$name.err")"
  rc=$?
  set -e
  if [ "$rc" -ne 1 ] || [[ "$out" != *'"errorType"'* ]]; then
    echo "$name: expected exit 1 with an errorType line, got exit $rc: $out $(head -c 500 "$tmp/$name.err")" >&2
    exit 1
  fi
  # GNU time exits with the command's status (1 here); its last stderr line is the peak RSS in KiB.
  rss_kib="$({ /usr/bin/time -f %M "${run_env[@]}" "$bin" --event "$tmp/event.json" 2>&1 >/dev/null || true; } | tail -1)"
  hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$tmp/$name.json" \
    "${run_env[*]} $bin --event $tmp/event.json" >/dev/null 2>&1
  python3 - "$tmp/$name.json" "$name" "$rss_kib" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"| {sys.argv[2]} | {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} | {r['min']*1000:.1f} | {int(sys.argv[3])/1024:.1f} |")
EOF
done
