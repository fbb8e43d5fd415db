#!/usr/bin/env bash
# Runs every simulator test (unit, integration, end-to-end through the built binary), fmt and clippy.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt -p smartscale-sim --check
cargo clippy -p smartscale-sim --all-targets -- -D warnings
cargo test -p smartscale-sim
