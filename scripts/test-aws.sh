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

# moto_server's own entry point serves requests on many threads, and moto's conditional writes
# are check-then-set without a lock: two concurrent conditional UpdateItems can both pass, which
# real DynamoDB (serialisable per item) never allows. So we run moto's WSGI app the way
# moto_server does, but on one thread: each request is atomic, as each DynamoDB item write is.
moto_serial='
import os, sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple("127.0.0.1", port, DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
'

port="$(free_port)"
log "moto server (single-threaded) on 127.0.0.1:$port"
moto_log="$(mktemp -t moto.XXXXXX.log)"
python -c "$moto_serial" "$port" >"$moto_log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -f "$moto_log"
}
trap cleanup EXIT
if ! wait_http "http://127.0.0.1:$port/" 60; then
  cat "$moto_log" >&2
  exit 1
fi

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE

# --workspace keeps feature unification identical to the other cargo runs, so nothing rebuilds.
log "cargo test: adapter unit tests"
cargo test --workspace --locked --lib adapters::
log "cargo test: aws_moto"
cargo test --workspace --locked --test aws_moto -- --ignored
