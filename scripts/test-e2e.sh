#!/usr/bin/env bash
# End-to-end runs of the deployment as synthesized: `cdk synth` of the real app (per scenario
# context: shortened windows through -c functionSettings, a lower maxNodes, a business-hours
# schedule), then per scenario its own moto server (IAM authorization on) holding the template's
# resources, the cluster emulator (Kubernetes, following moto's EC2) and Debian's Prometheus
# (scraping the emulator with the shipped rules). aws-local-stepfunctions runs the synthesized
# definitions; every Task invokes its function through the Lambda Runtime API (the one bootstrap
# running the real lambda_runtime loop, warm per function: functions/bootstrap/lambda-service.mjs)
# with the template's environment and timeout and its role's credentials, every AWS call checked against that role by
# tests/e2e/iam_proxy.mjs (@cloud-copilot/iam-simulate). Each scenario asserts the end state in
# moto, the emulator, the DynamoDB item, Slack and SNS. See tests/e2e/ and docs/STATE_MACHINE.md.
#
# Env: SMARTSCALE_E2E_LOGS=DIR keeps every scenario's logs there; SMARTSCALE_BENCH_OUT=FILE
# appends a JSON line per invocation (wall time, the process's peak RSS); SMARTSCALE_E2E_RUNTIME=local
# runs each step in local mode (`<step> --event -`) instead of the Runtime API; SMARTSCALE_BIN_DIR picks
# the binaries (default: the debug build, built here); E2E_ONLY=REGEX runs matching scenarios.
# `--install-only`: install what the rig needs (also for scripts/demo.sh) and build the CDK app.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

need_apt prometheus curl time openssl apache2-utils # openssl, htpasswd: the scenario Prometheus's TLS and basic auth (standins.mjs)
need_venv
# The troubleshooting scenario runs the page's kubectl commands.
need_kubectl
export KUBECTL
bash scripts/test-statemachine.sh --install-only
# npm ci wipes node_modules every time: run it only when the lock file changed.
npm_ci_once() {
  local dir="$1" stamp="$1/node_modules/.smartscale-lock-sha256" want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$want" >"$stamp"
  fi
}
npm_ci_once tests/e2e
npm_ci_once cdk
log "building the CDK app (the rig synthesizes it)"
(cd cdk && rm -rf build && npx --no-install tsc -p tsconfig.json)
[ "${1:-}" = --install-only ] && exit 0

if [ -z "${SMARTSCALE_BIN_DIR:-}" ]; then
  log "building the step binaries and the emulator"
  # --workspace --all-targets keeps the build identical to test-all's, so nothing rebuilds.
  cargo build --workspace --locked --all-targets
  export SMARTSCALE_BIN_DIR="$CARGO_TARGET_DIR/debug"
fi
export SMARTSCALE_PYTHON="$SMARTSCALE_ROOT/.venv/bin/python"
export PROMETHEUS_BIN=/usr/bin/prometheus

SMARTSCALE_E2E_SYNTH_DIR="$(mktemp -d -t smartscale-synth.XXXXXX)"
export SMARTSCALE_E2E_SYNTH_DIR
trap 'rm -rf "$SMARTSCALE_E2E_SYNTH_DIR"' EXIT
log "cdk synth of the scenarios' stacks"
node tests/e2e/synth.mjs
log "end-to-end scenarios"
name_pattern=()
[ -z "${E2E_ONLY:-}" ] || name_pattern=(--test-name-pattern "$E2E_ONLY")
node --test --test-concurrency=2 "${name_pattern[@]}" tests/e2e/*.e2e.mjs
