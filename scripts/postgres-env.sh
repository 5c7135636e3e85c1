#!/usr/bin/env bash
# PostgreSQL for the tests that run Keel on it (the store conformance suite, the SDK tests on
# a PostgreSQL-backed server, the multi-node tests). The tests start throwaway clusters
# themselves with initdb and postgres; this script only makes sure those programs exist:
# it installs Debian's `postgresql` package when no server binaries are found, and, when
# run as root, the `postgres` user the clusters run as (PostgreSQL refuses to run as root).
# Idempotent. Everything it says goes to stderr; its only stdout line is the directory of
# the binaries, for KEEL_PG_BIN:
#
#   export KEEL_PG_BIN="$(scripts/postgres-env.sh)"
#
# Fails (non-zero) when PostgreSQL cannot be made available: the tests are never skipped.
set -euo pipefail

find_bin() {
    if [ -n "${KEEL_PG_BIN:-}" ] && [ -x "$KEEL_PG_BIN/initdb" ]; then
        echo "$KEEL_PG_BIN"
        return
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return
        fi
    done
}

bin="$(find_bin)"
if [ -z "$bin" ]; then
    echo "== installing PostgreSQL (Debian package postgresql)" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
    bin="$(find_bin)"
fi
if [ -z "$bin" ]; then
    echo "PostgreSQL's initdb and postgres are still missing after installing postgresql" >&2
    exit 1
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "== creating the postgres user" >&2
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

echo "$bin"
