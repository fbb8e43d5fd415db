#!/usr/bin/env bash
# Simulator throughput, release build of the simulator alone (no AWS SDK, no emulator): simulated
# hours per CPU-second (user + system time of the process, so the figure does not depend on how
# busy the machine is) for each built-in scenario (five policies), for each policy alone over
# generated weeks, and the wall time of a suite of generated weeks (five policies and the low-floor
# bound each, on --jobs threads).
# Usage: sim/scripts/bench.sh [WEEKS] [JOBS] [POLICY_WEEKS]   (defaults: 100 weeks, 2 threads, 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
weeks="${1:-100}"
jobs="${2:-2}"
policy_weeks="${3:-20}"
cargo build --release --locked -q -p smartscale-sim --no-default-features --bin smartscale
bin="${CARGO_TARGET_DIR:-target}/release/smartscale"
TIMEFORMAT='%R %U %S'
measure() { # label, simulated hours, command...
  local label="$1" hours="$2"; shift 2
  local t
  t=$( { time "$@" > /dev/null 2>&1; } 2>&1 )
  read -r wall user sys <<< "$t"
  python3 -c "w,u,s,h=$wall,$user,$sys,$hours; print(f'$label: {h:.0f} simulated h in {w:.2f} s wall, {u+s:.2f} CPU-s = {h/(u+s):,.0f} simulated h per CPU-second')"
}
for s in techflow-week flash-sale; do
  hours=$("$bin" simulate --scenario "$s" --json | python3 -c 'import sys,json; print(sum(json.loads(l)["duration_hours"] for l in sys.stdin))')
  measure "$s (every row)" "$hours" "$bin" simulate --scenario "$s" --json
done
for p in smartscale baseline cluster-autoscaler-model karpenter-model oracle; do
  measure "$p alone, $policy_weeks weeks, 1 thread" "$((policy_weeks * 168))" \
    "$bin" simulate --suite techflow --seeds "$policy_weeks" --jobs 1 --policies "$p"
done
# Six rows a week: the five policies and the bound at the Karpenter model's floor (oracle-low-floor).
measure "suite techflow, $weeks weeks x 6 rows, $jobs threads" "$((weeks * 168 * 6))" \
  "$bin" simulate --suite techflow --seeds "$weeks" --jobs "$jobs"
