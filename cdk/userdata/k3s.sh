#!/bin/bash
# The K3s installation shared by master.sh and worker.sh (renderUserData inlines this file where
# they source it). No install script is fetched or run: the release binary is downloaded from its
# pinned URL and refused unless its sha256 is the pinned one (cdk/lib/supply-chain.ts), and the
# systemd unit is written here.
#
# Needs, from the sourcing script: K3S_VERSION, K3S_BINARY_URL, K3S_SHA256, K3S_BIN, STATE_DIR,
# ROOT, and its log and die functions.

# verified_download URL SHA256 DEST: downloads URL into DEST (mode 0755) only when its sha256 is
# SHA256. Returns 1 (DEST untouched) when the download fails or the sum differs, saying which.
verified_download() {
  local url=$1 want=$2 dest=$3 tmp got
  tmp=$(mktemp "$STATE_DIR/download.XXXXXX")
  if ! curl -sSfL --retry 5 -o "$tmp" "$url"; then
    rm -f "$tmp"
    log "could not download $url"
    return 1
  fi
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    rm -f "$tmp"
    log "$url: sha256 $got is not the pinned $want; refused"
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$dest"
}

# install_k3s SERVICE COMMAND TYPE: installs the pinned K3s binary and the systemd unit SERVICE
# running `k3s COMMAND` (its flags are in /etc/rancher/k3s/config.yaml) with systemd Type TYPE,
# once per version. Returns 0 when it installed something, 1 when the pinned version and unit
# were already in place; dies when the binary cannot be fetched or fails its sum.
install_k3s() {
  local service=$1 command=$2 type=$3 unit
  unit="$ROOT/etc/systemd/system/$service.service"
  if [ -x "$K3S_BIN" ] && [ -f "$unit" ] && [ "$(cat "$STATE_DIR/k3s.version" 2>/dev/null || true)" = "$K3S_VERSION" ]; then
    return 1
  fi
  log "installing K3s $K3S_VERSION ($command), sha256 $K3S_SHA256"
  verified_download "$K3S_BINARY_URL" "$K3S_SHA256" "$K3S_BIN" || die "K3s $K3S_VERSION was not installed"
  mkdir -p "$(dirname "$unit")"
  cat >"$unit" <<EOF
[Unit]
Description=Lightweight Kubernetes ($command), installed by SmartScale
Documentation=https://docs.k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=$type
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s $command
EOF
  chmod 0644 "$unit"
  systemctl daemon-reload
  printf '%s\n' "$K3S_VERSION" >"$STATE_DIR/k3s.version"
}
