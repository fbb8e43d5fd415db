#!/usr/bin/env bash
# The Lambda runtime path of the one `bootstrap` binary: builds it (debug), then
#   1. its local mode (`bootstrap <step> --event FILE`) and the step-rights contract (cargo test),
#   2. the real lambda_runtime loop behind the local Lambda service
#      (functions/bootstrap/lambda-service.mjs) with DynamoDB on moto server: results, warm
#      processes, and the errorType of typed errors (LockHeld, Retryable, Fatal, Runtime.ExitError).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
need_venv
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SMARTSCALE_ROOT/target}"

# The build with --all-targets is identical to test-all's, so nothing rebuilds; the test run leaves out
# the benches, whose criterion harness takes one filter only.
log "cargo test (contract, local mode, command line)"
cargo build --workspace --locked --all-targets
cargo test --workspace --lib --bins --tests --locked -- contract local_mode command_line invoke_reads

log "node --test functions/bootstrap/test"
SMARTSCALE_BOOTSTRAP="$CARGO_TARGET_DIR/debug/bootstrap" SMARTSCALE_PYTHON="$SMARTSCALE_ROOT/.venv/bin/python" \
  node --test "$SMARTSCALE_ROOT"/functions/bootstrap/test/*.test.mjs
echo "test-lambda-runtime: all passed"
