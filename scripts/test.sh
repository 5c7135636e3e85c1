#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, store and integration tests.
# Integration tests start the real `keel` binary on ephemeral loopback ports with their own
# temporary data directories and drive it with the official Temporal Rust SDK.
# Needs only the Rust toolchain: protobuf definitions come from the temporalio-protos crate
# (no protoc), SQLite is compiled in.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
