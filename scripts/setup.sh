#!/usr/bin/env bash
# Installs what the run and test commands need on a fresh Debian machine, skipping
# whatever is already present: the wasm32-wasip2 target, PostgreSQL, Redis, dnsmasq (the DNS
# server the custom-domain tests start on loopback), curl and python3.
# Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# The toolchain and wasm target pinned in rust-toolchain.toml.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  log "adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

need_pkgs=()
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need_pkgs+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
# curl and python3: scripts/spin-conformance.sh (which the test suite runs against the host).
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
# dnsmasq-base: the binary alone, without a system service that would start on port 53.
[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null 2>&1 || need_pkgs+=(dnsmasq-base)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # Debian starts packaged servers; the project runs its own on free ports instead.
  $SUDO service redis-server stop >/dev/null 2>&1 || true
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
log "ready: $(pg_bin)/postgres, $(command -v redis-server), $(command -v dnsmasq || echo /usr/sbin/dnsmasq)"
