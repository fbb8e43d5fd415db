#!/usr/bin/env bash
# Runs every check and test SmartScale has, installing what they need. This is what CI runs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

log "shell: shellcheck of every script"
need_apt shellcheck
shellcheck -x scripts/*.sh

log "rust: format, lints, build once"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --all-targets --locked

log "rust: unit, property and emulator-backed tests"
# The kube-rs adapter tests start the emulator binary built just above.
export SMARTSCALE_BIN="$CARGO_TARGET_DIR/debug/smartscale"
cargo test --workspace --locked

for area in scripts/test-*.sh; do
  [ "$area" = "scripts/test-all.sh" ] && continue
  log "$area"
  bash "$area"
done
log "all tests passed"
