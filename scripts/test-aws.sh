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

trap moto_down EXIT
moto_up

# --workspace keeps feature unification identical to the other cargo runs, so nothing rebuilds.
log "cargo test: adapter unit tests"
cargo test --workspace --locked --lib adapters::
log "cargo test: aws_moto (tests/aws_moto.rs, crate smartscale-tests)"
cargo test --workspace --locked --test aws_moto -- --ignored
