#!/usr/bin/env bash
# Every test of the CDK app, from a fresh clone: installs shellcheck (apt), cfn-lint and
# kubernetes-validate (.venv), the CDK app's npm packages (npm ci), then runs
#   1. the TypeScript build (strict; the same check as `tsc --noEmit`),
#   2. the GitOps kustomize tree (`kubectl kustomize cdk/gitops` with Debian's kubectl) against the
#      Kubernetes schemas offline,
#   3. the node:test suites (CDK assertions, cdk-nag, shellcheck, worker user-data sandbox,
#      manifests against Kubernetes schemas offline, the GitOps tree against the bundle, Grafana
#      dashboard queries, docs/TROUBLESHOOTING.md naming every alert and error),
#   4. `cdk synth` (cdk-nag AwsSolutions runs in the app: an error fails the synth),
#   5. cfn-lint on that template and on the variant templates the nag test writes
#      (no NAT + business-hours schedule + opened demo app).
# Synthesis uses the committed synth-only placeholders (SMARTSCALE_SYNTH_PLACEHOLDERS=1): no
# `cargo lambda build` is needed, and such a template is never deployed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
CACHE="${SMARTSCALE_CACHE:-$HOME/.cache/smartscale}"
CDK="$ROOT/cdk"
export AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
step() { printf "\n==> %s (%s s since start)\n" "$*" "$SECONDS"; }

step "installing shellcheck, Python tools and npm packages"
# jq and htpasswd: the master user-data sandbox test runs the real script with them.
need_apt shellcheck jq apache2-utils
need_venv
stamp="$CDK/node_modules/.smartscale-lock-sha256"
lock_sum="$(sha256sum "$CDK/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$lock_sum" ]; then
  (cd "$CDK" && npm ci --cache "$CACHE/npm" --prefer-offline --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$lock_sum" >"$stamp"
fi

step "TypeScript build (strict)"
(cd "$CDK" && rm -rf build && npx --no-install tsc -p tsconfig.json)

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

step "GitOps tree: kubectl kustomize cdk/gitops, validated against the Kubernetes schemas offline"
need_kubectl
"$KUBECTL" kustomize "$CDK/gitops" >"$OUT/gitops.yaml"
k8s_version="$(cd "$CDK" && node -p "require('./build/lib/config').defaultConfig('.').k3sVersion.replace(/^v(\\d+\\.\\d+)\\..*$/, '\$1.0')")"
offline=()
unshare -n true 2>/dev/null && offline=(unshare -n)
"${offline[@]}" "$ROOT/.venv/bin/kubernetes-validate" --strict --quiet -k "$k8s_version" "$OUT/gitops.yaml"
echo "cdk/gitops: $(grep -c '^kind:' "$OUT/gitops.yaml") objects, valid for Kubernetes $k8s_version${offline[*]:+ with no network}"
export SMARTSCALE_GITOPS_RENDERED="$OUT/gitops.yaml"

step "node:test suites"
(cd "$CDK" && SMARTSCALE_TEMPLATE_OUT="$OUT/variants" node --test build/test/*.test.js)

step "cdk synth (default configuration) with cdk-nag AwsSolutions"
(cd "$CDK" && SMARTSCALE_SYNTH_PLACEHOLDERS=1 npx --no-install cdk synth --quiet --no-notices --no-version-reporting \
  -o "$OUT/default" >"$OUT/default.log" 2>&1) || { cat "$OUT/default.log"; echo "cdk synth failed" >&2; exit 1; }

step "cfn-lint on the synthesised template and the test variants (no NAT, business hours, opened demo app)"
ls "$OUT"/variants/*.template.json >/dev/null
# W3005: CDK writes an explicit DependsOn next to a GetAtt on the same resource; harmless.
"$ROOT/.venv/bin/cfn-lint" --ignore-checks W3005 -- "$OUT"/default/*.template.json "$OUT"/variants/*.template.json
echo "cfn-lint: all templates clean ($(find "$OUT" -name '*.template.json' | wc -l) files)"

echo
echo "test-cdk: all CDK tests passed"
