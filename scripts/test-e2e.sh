#!/usr/bin/env bash
# End-to-end runs of the real state machine with the real step binaries: aws-local-stepfunctions
# runs statemachine/*.asl.json with every Task state running its Lambda binary in local mode
# (`<step> --event -`) against moto server (AWS), the cluster emulator (Kubernetes, following
# moto's EC2) and Debian's Prometheus (scraping the emulator with the shipped rules). Each
# scenario asserts the end state in moto, the emulator, the DynamoDB item, Slack and SNS.
# See tests/e2e/ and docs/STATE_MACHINE.md.
#
# Env: SMARTSCALE_E2E_LOGS=DIR keeps every scenario's logs there; SMARTSCALE_BENCH_OUT=FILE
# appends a JSON line per step run (wall time, peak RSS via GNU time); SMARTSCALE_BIN_DIR picks
# the binaries (default: the debug build, built here); E2E_ONLY=REGEX runs matching scenarios.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

need_apt prometheus curl time
need_venv

if [ -z "${SMARTSCALE_BIN_DIR:-}" ]; then
  log "building the step binaries and the emulator"
  # --workspace --all-targets keeps the build identical to test-all's, so nothing rebuilds.
  cargo build --workspace --locked --all-targets
  export SMARTSCALE_BIN_DIR="$CARGO_TARGET_DIR/debug"
fi
export SMARTSCALE_PYTHON="$SMARTSCALE_ROOT/.venv/bin/python"
export PROMETHEUS_BIN=/usr/bin/prometheus

trap moto_down EXIT
moto_up

bash scripts/test-statemachine.sh --install-only
log "end-to-end scenarios"
name_pattern=()
[ -z "${E2E_ONLY:-}" ] || name_pattern=(--test-name-pattern "$E2E_ONLY")
node --test --test-concurrency=4 "${name_pattern[@]}" tests/e2e/*.e2e.mjs
