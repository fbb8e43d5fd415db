#!/usr/bin/env bash
# Simulator throughput, release build: simulated hours per CPU-second (user + system time of the
# process, so the figure does not depend on how busy the machine is) for each built-in scenario
# (five policies) and for a suite of generated weeks (five policies each, on --jobs threads).
# Usage: sim/scripts/bench.sh [WEEKS] [JOBS]   (defaults: 100 weeks, 2 threads)
set -euo pipefail
cd "$(dirname "$0")/../.."
weeks="${1:-100}"
jobs="${2:-2}"
cargo build --release --locked -q -p smartscale-sim --bin smartscale
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
  measure "$s (5 policies)" "$hours" "$bin" simulate --scenario "$s" --json
done
measure "suite techflow, $weeks weeks x 5 policies, $jobs threads" "$((weeks * 168 * 5))" \
  "$bin" simulate --suite techflow --seeds "$weeks" --jobs "$jobs"
