# shellcheck shell=bash
# Shared helpers for SmartScale's scripts. Source it; it sets no options of its own.
#
# SMARTSCALE_CACHE: a directory outside the clone reused between runs when it exists (pip and npm
# caches, the cargo target directory). Everything still works when it starts empty.

SMARTSCALE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SMARTSCALE_ROOT
export SMARTSCALE_CACHE="${SMARTSCALE_CACHE:-$HOME/.cache/smartscale}"
mkdir -p "$SMARTSCALE_CACHE"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SMARTSCALE_CACHE/target}"
export PIP_CACHE_DIR="$SMARTSCALE_CACHE/pip"
export npm_config_cache="$SMARTSCALE_CACHE/npm"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\n==> %s\n' "$*" >&2; }

# need_apt PKG...: installs the Debian packages that are missing (as root, or with sudo).
need_apt() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_venv: creates .venv and installs requirements-dev.txt into it when that file changed.
need_venv() {
  local venv="$SMARTSCALE_ROOT/.venv" req="$SMARTSCALE_ROOT/requirements-dev.txt"
  if [ ! -x "$venv/bin/python" ]; then
    # Debian's own python3 needs python3-venv for this; pyenv and upstream builds have it built in.
    python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; need_apt python3-venv; python3 -m venv "$venv"; }
  fi
  local stamp="$venv/.requirements.sha256"
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "pip install -r requirements-dev.txt"
    "$venv/bin/pip" install -q -r "$req"
    echo "$want" >"$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

# need_kubectl: sets KUBECTL to Debian's kubectl (package kubernetes-client). Where /usr/bin/kubectl
# already belongs to another package (google-cloud-sdk's dispatcher on some images), the package
# cannot be installed next to it, so it is unpacked into the cache instead and used from there.
need_kubectl() {
  local owner deb_dir
  owner="$(dpkg -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1 || true)"
  if dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q 'ok installed'; then
    KUBECTL=/usr/bin/kubectl
  elif [ -z "$owner" ]; then
    need_apt kubernetes-client
    KUBECTL=/usr/bin/kubectl
  else
    KUBECTL="$SMARTSCALE_CACHE/kubernetes-client/usr/bin/kubectl"
    if [ ! -x "$KUBECTL" ]; then
      log "unpacking Debian's kubernetes-client into $SMARTSCALE_CACHE"
      deb_dir="$(mktemp -d)"
      (cd "$deb_dir" && apt-get download -qq kubernetes-client)
      dpkg-deb -x "$deb_dir"/kubernetes-client_*.deb "$SMARTSCALE_CACHE/kubernetes-client"
      rm -rf "$deb_dir"
    fi
  fi
  export KUBECTL
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS]: waits until URL answers any HTTP status, or fails after SECONDS (default 30).
wait_http() {
  local url="$1" limit="${2:-30}" i
  for ((i = 0; i < limit * 5; i++)); do
    curl -s -o /dev/null "$url" && return 0
    sleep 0.2
  done
  echo "timed out after ${limit}s waiting for $url" >&2
  return 1
}

# moto_up: starts moto server on a free 127.0.0.1 port in the background, waits until it answers
# and exports AWS_ENDPOINT_URL and throwaway credentials for it. Stop it with moto_down (for
# example `trap moto_down EXIT`). Needs need_venv first.
# moto_server's own entry point serves requests on many threads, and moto's conditional writes
# are check-then-set without a lock: two concurrent conditional UpdateItems can both pass, which
# real DynamoDB (serialisable per item) never allows. So moto's WSGI app is run the way
# moto_server runs it, but on one thread: each request is atomic, as each DynamoDB item write is.
moto_up() {
  local port
  port="$(free_port)"
  MOTO_LOG="$(mktemp -t moto.XXXXXX.log)"
  log "moto server (single-threaded) on 127.0.0.1:$port"
  "$SMARTSCALE_ROOT/.venv/bin/python" -c '
import os, sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
port = int(sys.argv[1])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple("127.0.0.1", port, DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
' "$port" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  if ! wait_http "http://127.0.0.1:$port/" 60; then
    cat "$MOTO_LOG" >&2
    return 1
  fi
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
}

# moto_down: stops the moto server moto_up started (if any) and removes its log.
moto_down() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  rm -f "${MOTO_LOG:-}"
}
