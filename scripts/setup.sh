#!/usr/bin/env bash
# Installs what the run and test commands need on a fresh Debian machine, skipping
# whatever is already present: the wasm32-wasip2 target, PostgreSQL, Redis, dnsmasq (the DNS
# server the custom-domain tests start on loopback), curl and python3; for the SSO tests, Node.js
# and npm (the OIDC IdP and the browser runner), Chromium (the browser), xmlsec1 and a Python venv
# at .tenantgate/venv with the SAML IdP's packages; then the npm packages of tests/idp/oidc and
# tests/browser from their lock files.
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
# SSO: node + npm run the OIDC IdP (oidc-provider) and Playwright; Debian's chromium is the browser
# (Playwright's own browser download is not used); xmlsec1 signs and checks for pysaml2.
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
command -v xmlsec1 >/dev/null 2>&1 || need_pkgs+=(xmlsec1)
# python3-venv: Debian's python3 cannot make a venv with pip without it.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3-venv)

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
# oidc-provider 9 needs Node.js 20.19 or later (22 LTS preferred; 20 runs with a warning).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || log "warning: node $(node --version 2>/dev/null) is older than 20; the OIDC IdP will not run"

# npm packages from the committed locks, when node_modules is missing or older than the lock.
for dir in tests/idp/oidc tests/browser; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$dir/node_modules"
  fi
done

# The SAML IdP's Python packages in a project venv (PEP 668: never into the system Python).
venv=.tenantgate/venv
req=tests/idp/saml/requirements.txt
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if [ ! -f "$venv/.requirements" ] || ! cmp -s "$req" "$venv/.requirements"; then
  log "pip install -r $req into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.requirements"
fi

log "ready: $(pg_bin)/postgres, $(command -v redis-server), $(command -v dnsmasq || echo /usr/sbin/dnsmasq), node $(node --version), /usr/bin/chromium, $venv"
