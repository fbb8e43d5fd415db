#!/usr/bin/env bash
# Shared helpers for the test scripts (minimal version; the lead's scripts/lib.sh replaces it on merge).
need_apt() { local m=(); for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || m+=("$p"); done; [ ${#m[@]} -eq 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${m[@]}" >/dev/null; }; }
