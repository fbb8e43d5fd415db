#!/usr/bin/env bash
# Runs the what-if simulator on the built-in TechFlow week and prints the policy comparison.
# Extra arguments go to `smartscale simulate` (for example --json, --out DIR, --scenario flash-sale).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
cargo build --locked -q -p smartscale-sim --bin smartscale
has_scenario=false
for a in "$@"; do case "$a" in --scenario|--scenario=*) has_scenario=true ;; esac; done
if $has_scenario; then
  exec "$CARGO_TARGET_DIR/debug/smartscale" simulate "$@"
else
  exec "$CARGO_TARGET_DIR/debug/smartscale" simulate --scenario techflow-week "$@"
fi
