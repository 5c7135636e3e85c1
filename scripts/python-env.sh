#!/usr/bin/env bash
# The Python environment for the Python SDK integration test (crates/keel/tests/it/python.rs):
# a venv at target/python-venv with the pinned `temporalio` from PyPI. Idempotent: installs
# only when the venv lacks that exact version. Everything it says goes to stderr; its only
# stdout line is the venv's python, for KEEL_TEST_PYTHON:
#
#   export KEEL_TEST_PYTHON="$(scripts/python-env.sh)"
#
# Needs Python 3.9+ with the venv module (override with PYTHON=...) and access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORALIO_VERSION=1.35.0
VENV="$PWD/target/python-venv"
VENV_PYTHON="$VENV/bin/python"

installed_version() {
    "$VENV_PYTHON" -c 'import importlib.metadata as m; print(m.version("temporalio"))' 2>/dev/null || true
}

if ! "$VENV_PYTHON" -c 'import sys' >/dev/null 2>&1; then
    echo "== creating $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "${PYTHON:-python3}" -m venv "$VENV" >&2
fi

if [ "$(installed_version)" != "$TEMPORALIO_VERSION" ]; then
    echo "== installing temporalio==$TEMPORALIO_VERSION into $VENV" >&2
    "$VENV_PYTHON" -m pip install --disable-pip-version-check --quiet \
        "temporalio==$TEMPORALIO_VERSION" >&2
    if [ "$(installed_version)" != "$TEMPORALIO_VERSION" ]; then
        echo "temporalio==$TEMPORALIO_VERSION did not install into $VENV" >&2
        exit 1
    fi
else
    echo "== temporalio==$TEMPORALIO_VERSION already in $VENV" >&2
fi

echo "$VENV_PYTHON"
