#!/usr/bin/env bash
# Installs what micro's tests use beyond the Rust toolchain, from Debian/Ubuntu packages:
# - curl: the interop tests call servers with real curl;
# - etcd-server: the etcd registry tests start real etcd members on loopback;
# - nats-server: the NATS broker tests start real nats-server processes on loopback (and kill and
#   restart them);
# - iproute2 and util-linux (ip, unshare): mDNS tests run in a private network namespace, so no
#   multicast leaves the machine.
# Idempotent: installs only what is missing.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)

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
