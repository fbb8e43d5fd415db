#!/usr/bin/env bash
# The main job on the local stand-ins, no AWS account needed, on the end-to-end suite's rig: the
# stack as `cdk synth` makes it (its state machine definition, each function's environment and
# role, the rule's input) deployed into moto server with IAM enforced; the step binaries manage a
# cluster emulator whose nodes follow EC2 in moto, reading Debian's Prometheus, through a flash
# sale and the night after it, printing each tick's decision and reasons, the Slack messages and
# the cluster's size. About 6 minutes.
# It prints at its start the commands to follow along in another terminal (kubectl with the
# generated kubeconfig, the Prometheus graphs of the recording rules, `smartscale status` and
# `explain` against the stand-ins) and runs `smartscale explain` once.
# Usage: scripts/demo.sh [--keep]   (--keep: the stand-ins stay up at the end until Ctrl-C)
# Env: DEMO_LIMIT_SECONDS (default 900), SMARTSCALE_E2E_LOGS=DIR keeps the logs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"
case "${1:-}" in
  --keep) export DEMO_KEEP=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac

bash scripts/test-e2e.sh --install-only
log "building the step binaries and the emulator"
cargo build --workspace --locked --all-targets
export SMARTSCALE_BIN_DIR="$CARGO_TARGET_DIR/debug"
export SMARTSCALE_PYTHON="$SMARTSCALE_ROOT/.venv/bin/python"

SMARTSCALE_E2E_SYNTH_DIR="$(mktemp -d -t smartscale-synth.XXXXXX)"
export SMARTSCALE_E2E_SYNTH_DIR PROMETHEUS_BIN=/usr/bin/prometheus
trap 'rm -rf "$SMARTSCALE_E2E_SYNTH_DIR"' EXIT
log "SmartScale on the local stand-ins"
node statemachine/demo/demo.mjs
