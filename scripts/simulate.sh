#!/usr/bin/env bash
# Runs the what-if simulator on the built-in TechFlow week and prints the five-policy comparison.
# Extra arguments go to `smartscale simulate` (for example --json, --out DIR, --scenario flash-sale,
# --suite techflow). With --out DIR, every SVG chart written there is also rendered as a PNG
# (rsvg-convert from Debian's librsvg2-bin, installed when missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$SMARTSCALE_ROOT"
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
# The whole workspace with all targets, exactly as the tests build it, so both share one build
# (building one package alone resolves dependency features differently and rebuilds the AWS SDK).
cargo build --locked -q --workspace --all-targets
has_scenario=false
out=""
prev=""
for a in "$@"; do
  case "$a" in
    --scenario|--scenario=*|--suite|--suite=*) has_scenario=true ;;
    --out=*) out="${a#--out=}" ;;
  esac
  [ "$prev" = "--out" ] && out="$a"
  prev="$a"
done
bin="$CARGO_TARGET_DIR/debug/smartscale"
if $has_scenario; then
  "$bin" simulate "$@"
else
  "$bin" simulate --scenario techflow-week "$@"
fi
if [ -n "$out" ]; then
  need_apt librsvg2-bin
  for svg in "$out"/*.svg; do
    [ -e "$svg" ] || continue
    rsvg-convert --background-color=white -o "${svg%.svg}.png" "$svg"
  done
fi
