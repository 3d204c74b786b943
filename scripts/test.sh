#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need (see install-test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
cargo test --workspace "$@"
