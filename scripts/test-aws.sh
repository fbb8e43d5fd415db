#!/usr/bin/env bash
# The AWS adapters (DynamoDB lease, state and spot claims, EC2 provisioner, Secrets Manager, SNS
# publishing checked through an SQS subscription) against a live moto server on 127.0.0.1, plus
# their unit tests (aws-smithy-mocks for the error codes moto cannot produce). Installs moto into
# .venv from requirements-dev.txt.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

need_venv

port="$(free_port)"
log "moto server (single-threaded) on 127.0.0.1:$port"
moto_log="$(mktemp -t moto.XXXXXX.log)"
MOTO_PID=""
cleanup() {
  [ -z "$MOTO_PID" ] || { kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; }
  rm -f "$moto_log"
}
trap cleanup EXIT
start_moto "$port" "$moto_log"

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE

# --workspace keeps feature unification identical to the other cargo runs, so nothing rebuilds.
log "cargo test: adapter unit tests"
cargo test --workspace --locked --lib adapters::
log "cargo test: aws_moto"
cargo test --workspace --locked --test aws_moto -- --ignored
