#!/usr/bin/env bash
# Tests of the Step Functions definitions in statemachine/:
#  - asl-validator accepts both definitions (substitution variables filled with fake ARNs);
#  - flow tests of the definition: aws-local-stepfunctions runs the real definitions for every
#    path with Task states answered by scripted responses and Wait/Retry pauses shortened by the
#    tool's overrides.
# Needs node 20+ and npm; installs the pinned npm packages from statemachine/package-lock.json
# (`--install-only`: only that).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../statemachine"
export npm_config_cache="${SMARTSCALE_CACHE:-$HOME/.cache/smartscale}/npm"

# npm ci wipes node_modules every time; skip it when the installed tree matches the lock file.
stamp=node_modules/.smartscale-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
[ "${1:-}" = --install-only ] && exit 0

node --test test/*.test.mjs
