#!/usr/bin/env bash
# The web UI's benchmark (figures, not a test): a Keel server of its own filled with 10,000
# executions (1,000 running) and a 10,000-event history through the Python SDK, measured in
# headless chromium. See ui/bench/ui.bench.mjs for what is measured and how.
#
#   scripts/ui-bench.sh            # builds and measures the release binary
#   KEEL_BIN=target/debug/keel scripts/ui-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="$(scripts/browser-env.sh)"
python="$(scripts/python-env.sh)"
if [ -z "${KEEL_BIN:-}" ]; then
    cargo build --release --locked -p keel --bin keel >&2
    KEEL_BIN="$PWD/target/release/keel"
fi
KEEL_BIN="$(realpath "$KEEL_BIN")" KEEL_TEST_PYTHON="$python" KEEL_TEST_CHROMIUM="$chromium" \
    node ui/bench/ui.bench.mjs
