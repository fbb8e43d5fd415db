#!/bin/bash
# SmartScale K3s master bootstrap, run by cloud-init as EC2 user data on the single master.
#
# Installs the K3s server, stores its agent join token in Secrets Manager (never the server token:
# that one would let a worker join as a server and read the cluster CA keys), places SmartScale's manifests
# (RBAC, Prometheus, Grafana, exporters, demo app) in K3s's auto-deploy directory, creates the
# in-cluster secrets those manifests need from Secrets Manager, makes Prometheus's TLS CA and
# server certificate (publishing only the CA certificate, in the Prometheus secret), and stores
# the API credentials of the smartscale service account for the Lambdas. No secret value is part of user data, and none is
# printed: values move between files (mode 0600) and the AWS CLI's file:// parameters.
#
# Required settings (prepended by the CDK stack): CLUSTER_ID, AWS_REGION, K3S_VERSION,
#   K3S_BINARY_URL, K3S_SHA256, K3S_TOKEN_SECRET_ARN, K8S_CREDENTIALS_SECRET_ARN, PROMETHEUS_AUTH_SECRET_ARN,
#   GRAFANA_ADMIN_SECRET_ARN, MANIFESTS_S3_URL, DEMO_APP_IMAGE.
set -euo pipefail
umask 077

: "${CLUSTER_ID:?}" "${AWS_REGION:?}" "${K3S_VERSION:?}" "${K3S_TOKEN_SECRET_ARN:?}"
: "${K3S_BINARY_URL:?}" "${K3S_SHA256:?}"
: "${K8S_CREDENTIALS_SECRET_ARN:?}" "${PROMETHEUS_AUTH_SECRET_ARN:?}" "${GRAFANA_ADMIN_SECRET_ARN:?}"
: "${MANIFESTS_S3_URL:?}" "${DEMO_APP_IMAGE:?}"

ROOT="${SMARTSCALE_ROOT:-}"
IMDS="${SMARTSCALE_IMDS_URL:-http://169.254.169.254}"
K3S_BIN="$ROOT/usr/local/bin/k3s"
CONF_DIR="$ROOT/etc/rancher/k3s"
STATE_DIR="$ROOT/var/lib/smartscale"
SERVER_DIR="$ROOT/var/lib/rancher/k3s/server"
MANIFEST_DIR="$SERVER_DIR/manifests"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

log() { printf '%s smartscale-master: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=SCRIPTDIR/k3s.sh
source "$(dirname "$0")/k3s.sh" # inlined by renderUserData
kubectl() { "$K3S_BIN" kubectl "$@"; }
wait_for() {
  local what=$1 n=0
  shift
  until "$@" >/dev/null 2>&1; do
    n=$((n + 1))
    [ "$n" -ge 120 ] && die "timed out waiting for $what"
    sleep "${SMARTSCALE_RETRY_SLEEP:-5}"
  done
}

IMDS_TOKEN=$(curl -sSf -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') \
  || die "cannot get an IMDSv2 token"
imds() { curl -sSf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS/latest/meta-data/$1"; }
ZONE=$(imds placement/availability-zone)
INSTANCE_ID=$(imds instance-id)
INSTANCE_TYPE=$(imds instance-type)
PRIVATE_IP=$(imds local-ipv4)
log "master $INSTANCE_ID ($INSTANCE_TYPE) in $ZONE at $PRIVATE_IP, cluster $CLUSTER_ID"

mkdir -p "$CONF_DIR" "$STATE_DIR" "$MANIFEST_DIR"
if ! command -v jq >/dev/null || ! command -v htpasswd >/dev/null || ! command -v openssl >/dev/null; then
  dnf install -y -q jq httpd-tools openssl
fi

# --- SmartScale manifests into the auto-deploy directory (K3s applies and re-applies them) ---
aws s3 cp --only-show-errors --region "$AWS_REGION" "$MANIFESTS_S3_URL" "$WORK/manifests.zip"
python3 -m zipfile -e "$WORK/manifests.zip" "$WORK/manifests"
for f in "$WORK"/manifests/*.yaml; do
  # The demo app image lives in this stack's ECR repository, known only at deploy time.
  sed -i -e "s|__DEMO_APP_IMAGE__|$DEMO_APP_IMAGE|g" -e "s|__AWS_REGION__|$AWS_REGION|g" "$f"
  install -m 0600 "$f" "$MANIFEST_DIR/$(basename "$f")"
done

# --- K3s server ---
# The agent token: workers join with it and can join only as agents. Generated once, kept on the
# master's disk only (K3s publishes it with its CA hash in server/agent-token).
AGENT_TOKEN_FILE="$STATE_DIR/agent-token"
if [ ! -s "$AGENT_TOKEN_FILE" ]; then
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$AGENT_TOKEN_FILE"
  chmod 0600 "$AGENT_TOKEN_FILE"
fi
# Pod Security Admission: every namespace without its own label (tenants' included, and ones
# created later) enforces baseline, so no tenant pod gets hostNetwork (the node's IMDS) or host
# paths; kube-system is exempt for K3s's own components, and SmartScale's namespaces carry their
# own labels (smartscale-00-namespaces.yaml).
cat >"$WORK/psa.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: baseline
        enforce-version: latest
        warn: restricted
        warn-version: latest
      exemptions:
        usernames: []
        runtimeClasses: []
        namespaces: [kube-system]
EOF
install -m 0600 "$WORK/psa.yaml" "$CONF_DIR/psa.yaml"
cat >"$WORK/config.yaml" <<EOF
write-kubeconfig-mode: "0600"
secrets-encryption: true
agent-token-file: $AGENT_TOKEN_FILE
kube-apiserver-arg:
  - admission-control-config-file=$CONF_DIR/psa.yaml
tls-san:
  - $PRIVATE_IP
disable:
  - traefik
  - servicelb
node-taint:
  - CriticalAddonsOnly=true:NoSchedule
kubelet-arg:
  - provider-id=aws:///$ZONE/$INSTANCE_ID
node-label:
  - topology.kubernetes.io/zone=$ZONE
  - node.kubernetes.io/instance-type=$INSTANCE_TYPE
  - smartscale.io/role=master
EOF
RESTART=0
if ! cmp -s "$WORK/config.yaml" "$CONF_DIR/config.yaml"; then
  install -m 0600 "$WORK/config.yaml" "$CONF_DIR/config.yaml"
  RESTART=1
fi
if install_k3s k3s server notify; then RESTART=1; fi
systemctl enable k3s
if [ "$RESTART" -eq 1 ] || ! systemctl is-active --quiet k3s; then
  systemctl restart k3s
fi
wait_for "the K3s API" kubectl get --raw=/readyz

# put_secret ARN FILE: stores FILE's content in the secret unless it already holds exactly that.
put_secret() {
  local arn=$1 file=$2
  aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$arn" \
    --query SecretString --output text >"$WORK/current" 2>/dev/null || true
  if ! cmp -s <(printf '%s' "$(cat "$WORK/current")") <(printf '%s' "$(cat "$file")"); then
    aws secretsmanager put-secret-value --region "$AWS_REGION" --secret-id "$arn" \
      --secret-string "file://$file" >/dev/null
    log "stored a new value in $arn"
  fi
  rm -f "$WORK/current"
}
get_secret() {
  aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$1" \
    --query SecretString --output text >"$2"
}

# --- join token for the workers: the agent token only ---
wait_for "the agent token" test -s "$SERVER_DIR/agent-token"
put_secret "$K3S_TOKEN_SECRET_ARN" "$SERVER_DIR/agent-token"

# --- Prometheus TLS: a CA made here, whose key is discarded once it has signed the server certificate ---
# The server key never leaves this disk (0600) and the in-cluster secret; the Lambdas get only the
# CA certificate, in the Prometheus secret, and trust nothing else. A certificate is made again
# when it does not name this master's address or expires within 30 days.
TLS_DIR="$STATE_DIR/prometheus-tls"
tls_current() {
  [ -s "$TLS_DIR/tls.key" ] && [ -s "$TLS_DIR/tls.crt" ] && [ -s "$TLS_DIR/ca.crt" ] \
    && openssl x509 -in "$TLS_DIR/tls.crt" -noout -checkend $((30 * 86400)) >/dev/null \
    && openssl x509 -in "$TLS_DIR/tls.crt" -noout -ext subjectAltName | grep -qF "IP Address:$PRIVATE_IP,"
}
make_prometheus_tls() {
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=SmartScale $CLUSTER_ID Prometheus CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$WORK/ca.key" -out "$WORK/ca.crt" \
    && openssl req -new "${ec[@]}" -subj "/CN=prometheus.monitoring.svc" -keyout "$WORK/tls.key" -out "$WORK/tls.csr" \
    && printf '%s\n' "subjectAltName=IP:$PRIVATE_IP,IP:127.0.0.1,DNS:localhost,DNS:prometheus.monitoring.svc,DNS:prometheus.monitoring.svc.cluster.local" \
      'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >"$WORK/tls.ext" \
    && openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -set_serial "0x$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" \
      -days 825 -extfile "$WORK/tls.ext" -out "$WORK/tls.crt"
}
if ! tls_current; then
  make_prometheus_tls >"$WORK/openssl.log" 2>&1 || { tail -5 "$WORK/openssl.log" >&2; die "could not make the Prometheus TLS certificate"; }
  rm -f "$WORK/ca.key"
  mkdir -p "$TLS_DIR"
  for f in ca.crt tls.crt tls.key; do install -m 0600 "$WORK/$f" "$TLS_DIR/$f"; done
  log "made a Prometheus CA and server certificate for $PRIVATE_IP"
fi

# --- in-cluster secrets for Prometheus (hashed basic auth, TLS) and Grafana ---
wait_for "the monitoring namespace" kubectl get namespace monitoring
kubectl -n monitoring create secret generic prometheus-tls --from-file=tls.crt="$TLS_DIR/tls.crt" \
  --from-file=tls.key="$TLS_DIR/tls.key" --from-file=ca.crt="$TLS_DIR/ca.crt" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
get_secret "$PROMETHEUS_AUTH_SECRET_ARN" "$WORK/prom.json"
jq -r .username "$WORK/prom.json" >"$WORK/prom-user"
jq -r .password "$WORK/prom.json" >"$WORK/prom-pass"
# The web config: TLS with the files the StatefulSet mounts from prometheus-tls, and basic auth
# (the layout of cdk/prometheus/web-config.yml.tmpl, which promtool checks).
{
  printf 'tls_server_config:\n  cert_file: /etc/prometheus/tls/tls.crt\n  key_file: /etc/prometheus/tls/tls.key\n'
  printf 'basic_auth_users:\n'
  printf '  %s: ' "$(cat "$WORK/prom-user")"
  htpasswd -niBC 10 "$(cat "$WORK/prom-user")" <"$WORK/prom-pass" | cut -d: -f2-
} >"$WORK/web.yml"
kubectl -n monitoring create secret generic prometheus-web-config \
  --from-file=web.yml="$WORK/web.yml" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# What the Lambdas need to trust this Prometheus: the CA certificate, next to the basic-auth pair.
jq --rawfile ca "$TLS_DIR/ca.crt" '. + {ca: $ca}' "$WORK/prom.json" >"$WORK/prom-published.json"
put_secret "$PROMETHEUS_AUTH_SECRET_ARN" "$WORK/prom-published.json"
kubectl -n monitoring create secret generic prometheus-basic-auth \
  --from-file=username="$WORK/prom-user" --from-file=password="$WORK/prom-pass" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
get_secret "$GRAFANA_ADMIN_SECRET_ARN" "$WORK/grafana.json"
jq -r .username "$WORK/grafana.json" >"$WORK/grafana-user"
jq -r .password "$WORK/grafana.json" >"$WORK/grafana-pass"
kubectl -n monitoring create secret generic grafana-admin \
  --from-file=admin-user="$WORK/grafana-user" --from-file=admin-password="$WORK/grafana-pass" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# --- API credentials of the smartscale service account, for the Lambdas ---
sa_token() { kubectl -n kube-system get secret smartscale-token -o jsonpath='{.data.token}' | grep -q .; }
wait_for "the smartscale service account token" sa_token
kubectl -n kube-system get secret smartscale-token -o jsonpath='{.data.token}' | base64 -d >"$WORK/sa-token"
jq -n --arg server "https://$PRIVATE_IP:6443" \
  --rawfile ca "$SERVER_DIR/tls/server-ca.crt" \
  --rawfile token "$WORK/sa-token" \
  '{server: $server, ca: $ca, token: $token}' >"$WORK/k8s.json"
put_secret "$K8S_CREDENTIALS_SECRET_ARN" "$WORK/k8s.json"

date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/bootstrapped"
log "K3s server ready; manifests placed; secrets stored"
