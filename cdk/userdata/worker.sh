#!/bin/bash
# SmartScale K3s worker bootstrap, run by cloud-init as EC2 user data on every worker that the
# launch-nodes Lambda starts from the worker launch template.
#
# The CDK stack prepends the settings below as shell assignments (no secret value is ever part of
# user data: only the ARN of the join-token secret). The script is idempotent: run a second time it
# installs nothing, rewrites nothing that is unchanged, and only checks that k3s-agent is active.
#
# Required settings: CLUSTER_ID, AWS_REGION, K3S_VERSION, K3S_BINARY_URL, K3S_SHA256,
#   K3S_TOKEN_SECRET_ARN. Optional: ECR_CREDENTIAL_PROVIDER_VERSION; when it is set,
#   ECR_CREDENTIAL_PROVIDER_URL and ECR_CREDENTIAL_PROVIDER_SHA256 are required and the provider is
#   installed only with that sum (unset: not installed, see cdk/lib/supply-chain.ts).
# Test-only settings: SMARTSCALE_ROOT (prefix for every file path), SMARTSCALE_IMDS_URL,
#   SMARTSCALE_RETRY_SLEEP (seconds between retries).
set -euo pipefail
umask 077

: "${CLUSTER_ID:?CLUSTER_ID is required}"
: "${AWS_REGION:?AWS_REGION is required}"
: "${K3S_VERSION:?K3S_VERSION is required}"
: "${K3S_BINARY_URL:?K3S_BINARY_URL is required}"
: "${K3S_SHA256:?K3S_SHA256 is required}"
: "${K3S_TOKEN_SECRET_ARN:?K3S_TOKEN_SECRET_ARN is required}"
ECR_CREDENTIAL_PROVIDER_VERSION="${ECR_CREDENTIAL_PROVIDER_VERSION:-}"
if [ -n "$ECR_CREDENTIAL_PROVIDER_VERSION" ]; then
  : "${ECR_CREDENTIAL_PROVIDER_URL:?ECR_CREDENTIAL_PROVIDER_URL is required with ECR_CREDENTIAL_PROVIDER_VERSION}"
  : "${ECR_CREDENTIAL_PROVIDER_SHA256:?ECR_CREDENTIAL_PROVIDER_SHA256 is required with ECR_CREDENTIAL_PROVIDER_VERSION: the provider is installed only when pinned by sha256}"
fi

ROOT="${SMARTSCALE_ROOT:-}"
IMDS="${SMARTSCALE_IMDS_URL:-http://169.254.169.254}"
RETRY_SLEEP="${SMARTSCALE_RETRY_SLEEP:-5}"
K3S_BIN="$ROOT/usr/local/bin/k3s"
CONF_DIR="$ROOT/etc/rancher/k3s"
STATE_DIR="$ROOT/var/lib/smartscale"
CRED_DIR="$ROOT/var/lib/rancher/credentialprovider"
CHANGED=0

log() { printf '%s smartscale-worker: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=SCRIPTDIR/k3s.sh
source "$(dirname "$0")/k3s.sh" # inlined by renderUserData

# retry N CMD...: runs CMD until it succeeds, at most N times.
retry() {
  local max=$1 n=1
  shift
  until "$@"; do
    [ "$n" -ge "$max" ] && return 1
    n=$((n + 1))
    sleep "$RETRY_SLEEP"
  done
}

# install_if_changed SRC DEST: moves SRC over DEST when the contents differ; marks CHANGED.
install_if_changed() {
  local src=$1 dest=$2
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    rm -f "$src"
  else
    mv -f "$src" "$dest"
    chmod 0600 "$dest"
    CHANGED=1
    log "updated ${dest#"$ROOT"}"
  fi
}

# --- instance identity (IMDSv2 only: the launch template requires tokens) ---
IMDS_TOKEN=$(curl -sSf -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') \
  || die "cannot get an IMDSv2 token"
imds() { curl -sSf -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS/latest/meta-data/$1"; }
ZONE=$(imds placement/availability-zone) || die "cannot read the availability zone"
INSTANCE_ID=$(imds instance-id) || die "cannot read the instance id"
INSTANCE_TYPE=$(imds instance-type) || die "cannot read the instance type"
log "instance $INSTANCE_ID ($INSTANCE_TYPE) in $ZONE, cluster $CLUSTER_ID"

mkdir -p "$CONF_DIR" "$STATE_DIR" "$CRED_DIR/bin"

# --- the master, found by its tags ---
find_master() {
  MASTER_IP=$(aws ec2 describe-instances --region "$AWS_REGION" \
    --filters "Name=tag:Role,Values=k3s-master" "Name=tag:Cluster,Values=$CLUSTER_ID" \
    "Name=instance-state-name,Values=running" \
    --query 'Reservations[].Instances[].PrivateIpAddress' --output text) || return 1
  [[ "$MASTER_IP" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]
}
retry 60 find_master || die "no running instance tagged Role=k3s-master, Cluster=$CLUSTER_ID"
log "master at $MASTER_IP"

# --- the join token, written by the master; never printed ---
fetch_token() {
  aws secretsmanager get-secret-value --region "$AWS_REGION" --secret-id "$K3S_TOKEN_SECRET_ARN" \
    --query SecretString --output text >"$STATE_DIR/token.new" || return 1
  # K3s secure tokens start with K10; anything else is the placeholder set before the master stored it.
  grep -q '^K10' "$STATE_DIR/token.new"
}
retry 60 fetch_token || { rm -f "$STATE_DIR/token.new"; die "the join token secret holds no K3s token yet"; }
install_if_changed "$STATE_DIR/token.new" "$CONF_DIR/token"

# --- ECR pulls through the kubelet image credential provider (instance profile credentials) ---
# Only when pinned by sha256. Without it the node still joins; only pulls from private ECR fail.
CRED_OK=0
if [ -z "$ECR_CREDENTIAL_PROVIDER_VERSION" ]; then
  log "ecr-credential-provider not pinned (no version and sha256 in the stack): not installed; private ECR images will not pull on this node"
elif [ "$(cat "$STATE_DIR/ecr-credential-provider.version" 2>/dev/null || true)" = "$ECR_CREDENTIAL_PROVIDER_VERSION" ] \
  && [ -x "$CRED_DIR/bin/ecr-credential-provider" ]; then
  CRED_OK=1
else
  log "installing ecr-credential-provider $ECR_CREDENTIAL_PROVIDER_VERSION, sha256 $ECR_CREDENTIAL_PROVIDER_SHA256"
  if verified_download "$ECR_CREDENTIAL_PROVIDER_URL" "$ECR_CREDENTIAL_PROVIDER_SHA256" "$CRED_DIR/bin/ecr-credential-provider"; then
    printf '%s\n' "$ECR_CREDENTIAL_PROVIDER_VERSION" >"$STATE_DIR/ecr-credential-provider.version"
    CRED_OK=1
  else
    log "WARNING: could not install ecr-credential-provider; private ECR images will not pull on this node"
  fi
fi
if [ "$CRED_OK" -eq 1 ]; then
  cat >"$STATE_DIR/credentialprovider.yaml.new" <<EOF
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages:
      - "*.dkr.ecr.*.amazonaws.com"
    defaultCacheDuration: 12h
    apiVersion: credentialprovider.kubelet.k8s.io/v1
EOF
  install_if_changed "$STATE_DIR/credentialprovider.yaml.new" "$CRED_DIR/config.yaml"
fi

# --- K3s agent configuration (provider id and topology labels for SmartScale) ---
{
  printf 'server: https://%s:6443\n' "$MASTER_IP"
  printf 'token-file: /etc/rancher/k3s/token\n'
  printf 'kubelet-arg:\n'
  printf '  - provider-id=aws:///%s/%s\n' "$ZONE" "$INSTANCE_ID"
  if [ "$CRED_OK" -eq 1 ]; then
    printf '  - image-credential-provider-bin-dir=/var/lib/rancher/credentialprovider/bin\n'
    printf '  - image-credential-provider-config=/var/lib/rancher/credentialprovider/config.yaml\n'
  fi
  printf 'node-label:\n'
  printf '  - topology.kubernetes.io/zone=%s\n' "$ZONE"
  printf '  - node.kubernetes.io/instance-type=%s\n' "$INSTANCE_TYPE"
  printf '  - smartscale.io/managed=true\n'
} >"$STATE_DIR/config.yaml.new"
install_if_changed "$STATE_DIR/config.yaml.new" "$CONF_DIR/config.yaml"

# --- K3s agent binary (pinned by sha256) and service, installed once per version ---
if install_k3s k3s-agent agent exec; then CHANGED=1; fi

systemctl enable k3s-agent
if [ "$CHANGED" -eq 1 ] || ! systemctl is-active --quiet k3s-agent; then
  log "starting k3s-agent"
  systemctl restart k3s-agent
fi

agent_active() { systemctl is-active --quiet k3s-agent; }
retry 24 agent_active || die "k3s-agent is not active after start"
date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/bootstrapped"
log "k3s-agent active; node joins as provider id aws:///$ZONE/$INSTANCE_ID"
