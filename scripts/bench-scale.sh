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
# With both --lambda-dir and --emulator-bin nothing is built.
# The `decide` figures at that size come from criterion:
#   cargo bench -p smartscale-engine --bench decide -- 500_workers
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

lambda_dir=""
emulator_bin=""
workers=500
pods=15000
while [ $# -gt 0 ]; do
  case "$1" in
    --lambda-dir) lambda_dir="${2:?--lambda-dir needs a directory}"; shift 2 ;;
    --emulator-bin) emulator_bin="${2:?--emulator-bin needs a path}"; shift 2 ;;
    --workers) workers="${2:?--workers needs a number}"; shift 2 ;;
    --pods) pods="${2:?--pods needs a number}"; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

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
node tests/e2e/scale.bench.mjs --workers "$workers" --pods "$pods"
