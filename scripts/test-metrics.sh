#!/usr/bin/env bash
# Metrics tests: promtool checks and unit tests of the shipped Prometheus config and rules, then
# the Rust client's integration test against a real Prometheus (Debian's package) serving TLS and
# basic auth from the shipped web config, with backfilled history and the project's rules. See
# docs/METRICS.md.
#
# Env: PROMETHEUS_TEST_KEEP=1 keeps the temp dir; METRICS_SKIP_RUST=1 runs only promtool parts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/lib.sh

need_apt prometheus apache2-utils curl gettext-base openssl
PROM_DIR=$ROOT/cdk/prometheus

WORK=$(mktemp -d)
PROM_PID=""
cleanup() {
  if [ -n "$PROM_PID" ] && kill -0 "$PROM_PID" 2>/dev/null; then
    kill -CONT "$PROM_PID" 2>/dev/null || true # the live test freezes it with SIGSTOP
    kill "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
  fi
  if [ "${PROMETHEUS_TEST_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== promtool check rules"
promtool check rules "$PROM_DIR"/rules/*.yml

echo "== promtool check config"
# Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects
# kubernetes_sd_configs. Check a copy in which each kubernetes_sd block becomes a file_sd block
# (everything else, relabelling included, is checked as shipped) and absolute credential paths
# point at placeholder files.
mkdir -p "$WORK/check/rules" "$WORK/check/sd"
cp "$PROM_DIR"/rules/*.yml "$WORK/check/rules/"
sed -E -e 's/kubernetes_sd_configs:/file_sd_configs:/' \
  -e 's/- role: (node|pod|endpoints|service)$/- files: ["sd\/\1.json"]/' \
  -e "s#(/var/run/secrets|/etc/prometheus)#$WORK/check/fs\1#g" \
  "$PROM_DIR/prometheus.yml" >"$WORK/check/prometheus.yml"
grep -oE "$WORK/check/fs[^ ]+" "$WORK/check/prometheus.yml" | sort -u | while read -r f; do
  mkdir -p "$(dirname "$f")"; echo placeholder >"$f"
done
for r in node pod endpoints service; do echo '[]' >"$WORK/check/sd/$r.json"; done
if [ "$(grep -c kubernetes_sd_configs "$PROM_DIR/prometheus.yml")" != "$(grep -c file_sd_configs "$WORK/check/prometheus.yml")" ]; then
  echo "config rewrite missed a kubernetes_sd block" >&2; exit 1
fi
promtool check config "$WORK/check/prometheus.yml"

echo "== TLS: a CA and a server certificate for 127.0.0.1 (as the master makes them), and a CA that signed nothing"
TLS=$WORK/tls
mkdir -p "$TLS"
ca() { # $1: name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$TLS/$1.key" -out "$TLS/$1.crt" 2>/dev/null
}
ca ca
ca other-ca
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=prometheus \
  -keyout "$TLS/tls.key" -out "$TLS/tls.csr" 2>/dev/null
printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth' >"$TLS/tls.ext"
openssl x509 -req -in "$TLS/tls.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -set_serial 1 -days 2 \
  -extfile "$TLS/tls.ext" -out "$TLS/tls.crt" 2>/dev/null

echo "== promtool check web-config"
PROM_USER=smartscale
PROM_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
HASH=$(htpasswd -nbBC 10 "$PROM_USER" "$PROM_PASSWORD" | cut -d: -f2)
# shellcheck disable=SC2016 # envsubst takes the variable names literally
PROMETHEUS_BASIC_AUTH_BCRYPT=$HASH PROMETHEUS_TLS_DIR=$TLS envsubst '${PROMETHEUS_BASIC_AUTH_BCRYPT} ${PROMETHEUS_TLS_DIR}' \
  <"$PROM_DIR/web-config.yml.tmpl" >"$WORK/web-config.yml"
promtool check web-config "$WORK/web-config.yml"

echo "== promtool test rules"
promtool test rules "$PROM_DIR"/tests/*.yml

[ "${METRICS_SKIP_RUST:-0}" = 1 ] && { echo "METRICS_SKIP_RUST=1: live test not run"; exit 0; }

echo "== live Prometheus: backfill history and recording rules"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT # the backfill passes, without the web config
TLS_URL=https://127.0.0.1:$PORT
DATA=$WORK/data
mkdir -p "$DATA" "$WORK/live/rules"
cp "$PROM_DIR"/rules/*.yml "$WORK/live/rules/"
# No scrape jobs: the history is all backfilled, and nothing scraped at wall-clock time can
# disturb it. Rules are the shipped ones.
printf 'global:\n  evaluation_interval: 15s\nrule_files:\n  - rules/*.yml\n' >"$WORK/live/prometheus.yml"

python3 scripts/metrics/backfill.py >"$WORK/history.om"
promtool tsdb create-blocks-from openmetrics -q "$WORK/history.om" "$DATA" >"$WORK/backfill.log" 2>&1 ||
  { cat "$WORK/backfill.log" >&2; exit 1; }
# backfill.py's window: 2025-01-01T00:00:00Z minus 45 minutes, up to that instant.
END=1735689600
START=$((END - 45 * 60))

start_prometheus() { # $@: extra flags
  prometheus --config.file="$WORK/live/prometheus.yml" \
    --storage.tsdb.path="$DATA" \
    --storage.tsdb.retention.time=100y \
    --web.listen-address="127.0.0.1:$PORT" \
    --log.level=warn "$@" >>"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  local ready=("$URL/-/ready")
  [ "$#" -gt 0 ] && ready=(--cacert "$TLS/ca.crt" -u "$PROM_USER:$PROM_PASSWORD" "$TLS_URL/-/ready")
  for _ in $(seq 1 100); do
    if curl -fsS "${ready[@]}" >/dev/null 2>&1; then return 0; fi
    kill -0 "$PROM_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "prometheus did not become ready:" >&2; tail -20 "$WORK/prometheus.log" >&2; exit 1
}
stop_prometheus() { kill "$PROM_PID"; wait "$PROM_PID" 2>/dev/null || true; PROM_PID=""; }

# Recording rules read other recorded series (node -> cluster CPU -> windows), and
# create-blocks-from rules only sees what the server already holds, so backfill in three
# passes, reloading the blocks between them. Overlapping identical samples are merged.
for _ in 1 2 3; do
  start_prometheus
  rm -rf "$WORK/rules-out"
  promtool tsdb create-blocks-from rules -q --url "$URL" --start "$START" --end "$END" \
    --output-dir "$WORK/rules-out" "$WORK/live/rules/"*.yml >"$WORK/backfill.log" 2>&1 ||
    { cat "$WORK/backfill.log" >&2; exit 1; }
  stop_prometheus
  mv "$WORK/rules-out"/* "$DATA/"
done

start_prometheus --web.config.file="$WORK/web-config.yml"
echo "prometheus $TLS_URL pid $PROM_PID (TLS and basic auth on)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/-/ready" || true)
[ "$code" = 400 ] || { echo "plain HTTP to the TLS listener answered $code, want 400" >&2; exit 1; }

echo "== cargo test --test prometheus_live (tests/prometheus_live.rs; freezes, then stops, this Prometheus)"
PROMETHEUS_URL=$TLS_URL PROMETHEUS_CA_FILE=$TLS/ca.crt PROMETHEUS_OTHER_CA_FILE=$TLS/other-ca.crt \
  PROMETHEUS_USERNAME=$PROM_USER PROMETHEUS_PASSWORD=$PROM_PASSWORD PROMETHEUS_PID=$PROM_PID \
  cargo test --workspace --locked --test prometheus_live -- --ignored --test-threads=1
echo "== unit tests of the Prometheus adapter"
cargo test --workspace --lib -- adapters::prometheus
