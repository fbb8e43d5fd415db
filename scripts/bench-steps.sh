#!/usr/bin/env bash
# Peak memory and wall time of every step binary's local run against the loopback stand-ins, and
# the state transitions per tick: runs the end-to-end scenarios (scripts/test-e2e.sh) with the
# packaged release binaries, each invocation timed by the local Lambda service (wall time, the
# warm process's peak RSS), then prints a Markdown table per step (runs, median and max wall
# time, max peak RSS) and the transitions of each kind of tick.
#
# Usage: scripts/bench-steps.sh [--lambda-dir DIR]
#   --lambda-dir DIR  the <name>/bootstrap.zip tree of scripts/package-lambdas.sh
#                     (default: <repo>/target/lambda; run that script first)
# The figures go to docs/BENCHMARKS.md by hand, with this command.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"

lambda_dir="$SMARTSCALE_ROOT/target/lambda"
while [ $# -gt 0 ]; do
  case "$1" in
    --lambda-dir) lambda_dir="${2:?--lambda-dir needs a directory}"; shift 2 ;;
    *) echo "unknown argument: $1 (usage: $0 [--lambda-dir DIR])" >&2; exit 2 ;;
  esac
done
need_apt unzip time

log "building the emulator (debug; it is a stand-in, not measured)"
cargo build --workspace --locked --all-targets

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin"
# Every function's zip holds the same multi-call bootstrap (scripts/package-lambdas.sh).
zip="$lambda_dir/bootstrap/bootstrap.zip"
[ -f "$zip" ] || { echo "no $zip: run scripts/package-lambdas.sh first" >&2; exit 1; }
unzip -q -o "$zip" bootstrap -d "$WORK/bin"
ln -s "$CARGO_TARGET_DIR/debug/smartscale" "$WORK/bin/smartscale"

export SMARTSCALE_BIN_DIR="$WORK/bin" SMARTSCALE_BENCH_OUT="$WORK/bench.jsonl"
bash scripts/test-e2e.sh

"$SMARTSCALE_ROOT/.venv/bin/python" - "$SMARTSCALE_BENCH_OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = {}
for r in rows:
    if "fn" in r:
        steps.setdefault(r["fn"], []).append(r)
print("| step | runs | median wall ms | max wall ms | max peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
for fn in sorted(steps):
    rs = steps[fn]
    ms = [r["millis"] for r in rs]
    rss = max(r.get("maxRssKb") or 0 for r in rs) / 1024
    print(f"| {fn} | {len(rs)} | {statistics.median(ms):.0f} | {max(ms):.0f} | {rss:.1f} |")
print()
print("| tick | state transitions |")
print("|---|---:|")
seen = {}
for r in rows:
    if "tick" in r:
        seen.setdefault(r["tick"], set()).add(r["transitions"])
for k in sorted(seen):
    print(f"| {k} | {', '.join(str(x) for x in sorted(seen[k]))} |")
PY
