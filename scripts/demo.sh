#!/usr/bin/env bash
# The main job on the local stand-ins, no AWS account needed: SmartScale's real state machine
# (aws-local-stepfunctions) and step binaries manage a cluster emulator whose nodes follow EC2 in
# moto server, reading Debian's Prometheus, through a flash sale and the night after it, printing
# each tick's decision and reasons, the Slack messages and the cluster's size. About 6 minutes.
# Env: DEMO_LIMIT_SECONDS (default 900), SMARTSCALE_E2E_LOGS=DIR keeps the logs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

need_apt prometheus curl
need_venv
log "building the step binaries and the emulator"
cargo build --workspace --locked --all-targets
export SMARTSCALE_BIN_DIR="$CARGO_TARGET_DIR/debug"
export SMARTSCALE_PYTHON="$SMARTSCALE_ROOT/.venv/bin/python"

trap moto_down EXIT
moto_up

bash scripts/test-statemachine.sh --install-only
log "SmartScale on the local stand-ins"
node statemachine/demo/demo.mjs
