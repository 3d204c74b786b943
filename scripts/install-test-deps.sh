#!/usr/bin/env bash
# Installs what micro's tests use beyond the Rust toolchain, from Debian/Ubuntu packages:
# - curl: the interop tests call servers with real curl;
# - etcd-server: the etcd registry tests start real etcd members on loopback;
# - nats-server: the NATS broker tests start real nats-server processes on loopback (and kill and
#   restart them);
# - iproute2 and util-linux (ip, unshare): mDNS tests run in a private network namespace, so no
#   multicast leaves the machine;
# - python3 with venv: the gateway's tests validate its OpenAPI document with openapi-spec-validator
#   and fuzz it with schemathesis, installed from PyPI into target/test-python
#   (scripts/requirements-test.txt);
# - chromium and node with npm: the dashboard's browser tests drive headless Chromium with
#   playwright-core from npm, installed into target/test-node
#   (micro-cli/tests/browser/package.json).
# Idempotent: installs only what is missing.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# CI runs clippy and rustfmt; add them where rustup manages the toolchain and they are missing.
if command -v rustup >/dev/null 2>&1; then
  for component in clippy rustfmt; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
fi

# The Python tools, in a virtual environment of their own (never the system's site-packages).
venv="target/test-python"
requirements="scripts/requirements-test.txt"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "installing the Python test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi

# playwright-core, for the browser tests (it drives the system's chromium; it downloads nothing).
node_dir="target/test-node"
package="micro-cli/tests/browser/package.json"
if [ ! -d "$node_dir/node_modules/playwright-core" ] || ! cmp -s "$package" "$node_dir/package.json"; then
  echo "installing playwright-core into $node_dir"
  mkdir -p "$node_dir"
  cp "$package" "$node_dir/package.json"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error
fi
