#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, store and integration tests.
# The web UI's logic has JavaScript unit tests (`node --test`), and its pages are tested in
# headless Debian chromium driven by playwright-core (scripts/browser-env.sh installs both,
# and node, when missing).
# Integration tests start the real `keel` binary on ephemeral loopback ports with their own
# temporary data directories and drive it with the official Temporal Rust SDK, and with the
# official Python SDK (`temporalio` from PyPI, in a venv under target/ made by
# scripts/python-env.sh).
# PostgreSQL tests start throwaway clusters (initdb + postgres from scripts/postgres-env.sh,
# which installs Debian's postgresql package if needed) on free loopback ports.
# Needs the Rust toolchain, Python 3 with pip and access to PyPI, and apt for PostgreSQL when
# it is not installed: protobuf definitions come from the temporalio-protos crate (no
# protoc), SQLite is compiled in.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== dependency rules"
./scripts/dependency-rules.sh
echo "== python env"
KEEL_TEST_PYTHON="$(./scripts/python-env.sh)"
export KEEL_TEST_PYTHON
echo "== browser env"
KEEL_TEST_CHROMIUM="$(./scripts/browser-env.sh)"
export KEEL_TEST_CHROMIUM
echo "== ui unit tests (node --test)"
(cd ui && node --test tests/)
echo "== postgres"
KEEL_PG_BIN="$(./scripts/postgres-env.sh)"
export KEEL_PG_BIN
echo "== cargo test"
cargo test --workspace --locked
