#!/usr/bin/env bash
# Builds the one SmartScale Lambda binary, `bootstrap` (functions/bootstrap: every step, chosen by
# the SMARTSCALE_STEP variable the CDK sets on each function), for the provided.al2023 runtime on
# x86_64, and writes the one zip all fourteen functions deploy: <out>/bootstrap/bootstrap.zip.
# For the CDK app, which reads <out>/<name>/bootstrap.zip per function (cdk/lib/sources.ts), each
# function's path is a hard link to that zip: same bytes, so one CDK asset, uploaded once.
#
# Usage: scripts/package-lambdas.sh [--out DIR] [--report]
#   --out DIR   where the zip tree goes (default: <repo>/target/lambda, the CDK default; pass the
#               same directory to cdk as -c lambdaAssetDir=DIR)
#   --report    build nothing: verify the existing zip and print its size
#
# Route: cargo-lambda with cargo-zigbuild links against glibc 2.34 (Amazon Linux 2023's), so
# the binary runs there even though the build machine has a newer glibc. The workspace's own
# [profile.release] applies (--disable-optimizations stops cargo-lambda overriding it).
# The zip is verified: one executable entry named bootstrap, an x86-64 ELF, no GLIBC symbol
# version newer than 2.34, only system libraries the runtime has, within Lambda's size limits,
# and every function in functions/contract.json linked to it. The script prints the build time,
# the binary and zip size, as a Markdown table. A release build of the AWS SDK takes minutes: CI
# does not run it (docs/BENCHMARKS.md has the measured times).
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
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# need_package_venv: the project .venv with requirements-package.txt (ziglang, and through its
# `-r` requirements-dev.txt with cargo-lambda), reinstalled only when either file changes.
need_package_venv() {
  local venv="$SMARTSCALE_ROOT/.venv" req="$SMARTSCALE_ROOT/requirements-package.txt" want
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; need_apt python3-venv; python3 -m venv "$venv"; }
  fi
  want="$(cat "$req" "$SMARTSCALE_ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$venv/.requirements-package.sha256" 2>/dev/null)" != "$want" ]; then
    log "pip install -r requirements-package.txt"
    "$venv/bin/pip" install -q -r "$req"
    echo "$want" >"$venv/.requirements-package.sha256"
  fi
  export PATH="$venv/bin:$PATH"
}

# Every function the CDK stack deploys: the steps of the step-rights contract.
mapfile -t functions < <(python3 -c 'import json, sys; print("\n".join(s["name"] for s in json.load(open(sys.argv[1]))["steps"]))' "$SMARTSCALE_ROOT/functions/contract.json")
[ ${#functions[@]} -gt 0 ] || { echo "functions/contract.json lists no steps" >&2; exit 1; }

need_apt unzip binutils

if [ "$build" -eq 1 ]; then
  need_package_venv
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
  fi
  cmd=(cargo lambda build --release --disable-optimizations --compiler cargo-zigbuild
    --target "$TARGET.$GLIBC_MAX" --output-format zip --lambda-dir "$out" --locked --bin bootstrap)
  log "${cmd[*]}"
  started=$SECONDS
  "${cmd[@]}"
  echo "build time: $((SECONDS - started)) s (CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-<repo>/target})"
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

verify bootstrap
for name in "${functions[@]}"; do
  mkdir -p "$out/$name"
  ln -f "$out/bootstrap/bootstrap.zip" "$out/$name/bootstrap.zip" 2>/dev/null || fail "$name" "cannot link $out/$name/bootstrap.zip"
  [ "$out/$name/bootstrap.zip" -ef "$out/bootstrap/bootstrap.zip" ] || fail "$name" "$out/$name/bootstrap.zip is not the shared zip"
done

echo
echo "Lambda zip in $out ($TARGET, glibc <= $GLIBC_MAX), shared by ${#functions[@]} functions:"
echo
echo "| artifact | binary (bootstrap) | bootstrap.zip | newest GLIBC symbol |"
echo "|---|---:|---:|---|"
echo "| bootstrap ($v_bin B / $v_zip B) | $(mib "$v_bin") MiB | $(mib "$v_zip") MiB | $v_glibc |"

if [ ${#failures[@]} -gt 0 ]; then
  echo >&2
  echo "FAILED: ${#failures[@]} check(s):" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "Verified: one executable 'bootstrap', x86-64 ELF, GLIBC <= $GLIBC_MAX, runtime-provided libraries only; linked for ${functions[*]}."
