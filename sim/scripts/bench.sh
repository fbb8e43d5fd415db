#!/usr/bin/env bash
# Simulator throughput: simulated hours per wall-clock second, release build, built-in scenarios.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p smartscale-sim
bin="${CARGO_TARGET_DIR:-target}/release/smartscale"
for s in techflow-week flash-sale; do
  start=$(date +%s.%N)
  "$bin" simulate --scenario "$s" --json > /dev/null
  end=$(date +%s.%N)
  hours=$("$bin" simulate --scenario "$s" --json | python3 -c 'import sys,json; print(sum(json.loads(l)["duration_hours"] for l in sys.stdin))')
  python3 -c "w=$end-$start; print(f'$s: 3 policies, {$hours:.0f} simulated hours in {w:.3f} s = {$hours/w:,.0f} simulated hours/s')"
done
