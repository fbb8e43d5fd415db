#!/usr/bin/env bash
# Builds the fourteen step Lambdas for the provided.al2023 runtime on x86_64 and writes
# <out>/<name>/bootstrap.zip, the files the CDK app deploys (cdk/lib/sources.ts).
#
# Usage: scripts/package-lambdas.sh [--out DIR] [--report]
#   --out DIR   where the <name>/bootstrap.zip tree goes (default: <repo>/target/lambda, the CDK
#               default; pass the same directory to cdk as -c lambdaAssetDir=DIR)
#   --report    build nothing: verify the existing zips and print their sizes
#
# Route: cargo-lambda with cargo-zigbuild links against glibc 2.34 (Amazon Linux 2023's), so
# the binaries run there even though the build machine has a newer glibc. The workspace's own
# [profile.release] applies (--disable-optimizations stops cargo-lambda overriding it).
# Every zip is verified: one executable entry named bootstrap, an x86-64 ELF, no GLIBC symbol
# version newer than 2.34, only system libraries the runtime has, within Lambda's size limits.
# The script then prints per function the binary and zip size, and totals, as a Markdown table.
# This is a deploy-time step: CI does not run it (a release build of the AWS SDK takes minutes).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

readonly GLIBC_MAX=2.34
readonly TARGET=x86_64-unknown-linux-gnu
readonly ZIP_LIMIT=$((50 * 1024 * 1024))  # Lambda: 50 MB zipped for a direct upload
readonly UNZIPPED_LIMIT=262144000         # Lambda: 250 MB unzipped (code and layers)
# Shared libraries provided.al2023 ships (glibc and libgcc); anything else would be missing there.
readonly ALLOWED_NEEDED="libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1 ld-linux-x86-64.so.2"

out="$SMARTSCALE_ROOT/target/lambda"
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --report) build=0; shift ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# need_package_venv: the project .venv with requirements-package.txt (cargo-lambda, ziglang),
# reinstalled only when that file changes.
need_package_venv() {
  local venv="$SMARTSCALE_ROOT/.venv" req="$SMARTSCALE_ROOT/requirements-package.txt" want
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; need_apt python3-venv; python3 -m venv "$venv"; }
  fi
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ "$(cat "$venv/.requirements-package.sha256" 2>/dev/null)" != "$want" ]; then
    log "pip install -r requirements-package.txt"
    "$venv/bin/pip" install -q -r "$req"
    echo "$want" >"$venv/.requirements-package.sha256"
  fi
  export PATH="$venv/bin:$PATH"
}

# The step binaries: every [[bin]] under functions/ (core and runtime are libraries).
functions=()
for manifest in "$SMARTSCALE_ROOT"/functions/*/Cargo.toml; do
  bin="$(awk '/^\[\[bin\]\]/ {b=1; next} b && /^name *=/ {gsub(/[" ]/, "", $0); sub(/^name=/, ""); print; exit}' "$manifest")"
  [ -n "$bin" ] && functions+=("$bin")
done
# Every function the CDK stack deploys (cdk/lib/contract.ts) must be one of them.
mapfile -t deployed < <(grep -oE "spec\('[a-z0-9-]+'" "$SMARTSCALE_ROOT/cdk/lib/contract.ts" | cut -d"'" -f2)
[ ${#deployed[@]} -gt 0 ] || { echo "found no spec('<name>', ...) in cdk/lib/contract.ts" >&2; exit 1; }
for name in "${deployed[@]}"; do
  [[ " ${functions[*]} " == *" $name "* ]] || { echo "cdk/lib/contract.ts deploys '$name' but no functions/*/Cargo.toml has a [[bin]] of that name" >&2; exit 1; }
done
[ ${#functions[@]} -gt 0 ] || { echo "no [[bin]] found under functions/" >&2; exit 1; }

need_apt unzip binutils

if [ "$build" -eq 1 ]; then
  need_package_venv
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
  fi
  bins=()
  for name in "${functions[@]}"; do bins+=(--bin "$name"); done
  cmd=(cargo lambda build --release --disable-optimizations --compiler cargo-zigbuild
    --target "$TARGET.$GLIBC_MAX" --output-format zip --lambda-dir "$out" --locked "${bins[@]}")
  log "${cmd[*]}"
  "${cmd[@]}"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=()
fail() { failures+=("$1: $2"); }

# verify NAME: checks <out>/NAME/bootstrap.zip, records failures, and sets v_bin and v_zip (bytes)
# and v_glibc (the newest GLIBC symbol version the binary needs).
verify() {
  local name="$1" zip="$out/$1/bootstrap.zip" entries perm bin glibc lib
  v_bin=0 v_zip=0 v_glibc=-
  if [ ! -f "$zip" ]; then fail "$name" "$zip is missing"; return; fi
  v_zip="$(stat -c %s "$zip")"
  entries="$(unzip -Z1 "$zip")"
  [ "$entries" = bootstrap ] || fail "$name" "the zip must hold exactly one entry named bootstrap, it holds: $(echo "$entries" | paste -sd, -)"
  perm="$(zipinfo "$zip" bootstrap 2>/dev/null | awk '{print $1}')"
  [[ "$perm" == -??x* ]] || fail "$name" "bootstrap is not executable in the zip (mode '$perm')"
  mkdir -p "$tmp/$name"
  unzip -q -o "$zip" bootstrap -d "$tmp/$name" 2>/dev/null || true
  bin="$tmp/$name/bootstrap"
  if [ ! -f "$bin" ]; then fail "$name" "no bootstrap to inspect"; return; fi
  v_bin="$(stat -c %s "$bin")"
  objdump -f "$bin" 2>/dev/null | grep -q 'file format elf64-x86-64' || fail "$name" "bootstrap is not an x86-64 ELF binary"
  glibc="$(objdump -T "$bin" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/^GLIBC_//' | sort -uV | tail -1)"
  glibc="${glibc:-none}"
  v_glibc="$glibc"
  if [ "$glibc" != none ] && [ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_MAX" | sort -V | tail -1)" != "$GLIBC_MAX" ]; then
    fail "$name" "needs GLIBC_$glibc, newer than Amazon Linux 2023's $GLIBC_MAX: $(objdump -T "$bin" | grep -F "GLIBC_$glibc" | awk '{print $NF}' | head -3 | paste -sd, -)"
  fi
  for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}'); do
    [[ " $ALLOWED_NEEDED " == *" $lib "* ]] || fail "$name" "links $lib, which provided.al2023 does not ship"
  done
  [ "$v_zip" -le "$ZIP_LIMIT" ] || fail "$name" "zip is $v_zip bytes, over Lambda's 50 MB direct-upload limit"
  [ "$v_bin" -le "$UNZIPPED_LIMIT" ] || fail "$name" "unzipped size $v_bin bytes is over Lambda's 250 MB limit"
}

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }

total_bin=0 total_zip=0 max_bin=0 max_zip=0
rows=()
for name in "${functions[@]}"; do
  verify "$name"
  rows+=("| $name | $(mib "$v_bin") | $(mib "$v_zip") | $v_glibc |")
  total_bin=$((total_bin + v_bin)) total_zip=$((total_zip + v_zip))
  [ "$v_bin" -le "$max_bin" ] || max_bin=$v_bin
  [ "$v_zip" -le "$max_zip" ] || max_zip=$v_zip
done

echo
echo "Lambda zips in $out ($TARGET, glibc <= $GLIBC_MAX), sizes in MiB:"
echo
echo "| function | binary (bootstrap) | bootstrap.zip | newest GLIBC symbol |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"
echo "| **total (${#functions[@]} functions)** | **$(mib "$total_bin")** | **$(mib "$total_zip")** | |"
echo
echo "Largest binary $(mib "$max_bin") MiB of Lambda's 250 MB unzipped limit; largest zip $(mib "$max_zip") MiB of the 50 MB direct-upload limit."

if [ ${#failures[@]} -gt 0 ]; then
  echo >&2
  echo "FAILED: ${#failures[@]} check(s):" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "All ${#functions[@]} zips verified: one executable 'bootstrap' each, x86-64 ELF, GLIBC <= $GLIBC_MAX, runtime-provided libraries only."
