#!/usr/bin/env bash
# What the web UI's tests need: Node.js with npm (for `node --test` and playwright-core),
# Debian's chromium (the browser Playwright drives; no browser download), and the UI's
# pinned dev dependencies (playwright-core, axe-core) in ui/node_modules from
# ui/package-lock.json. Idempotent: installs only what is missing. Everything it says goes
# to stderr; its only stdout line is the chromium binary, for KEEL_TEST_CHROMIUM:
#
#   export KEEL_TEST_CHROMIUM="$(scripts/browser-env.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "browser-env: $* missing; install it (apt-get install $*) or run as root" >&2
        exit 1
    fi
    echo "== apt-get install $*" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium
fi

# npm ci only when the lock file changed since the last install (a copy marks it).
if ! cmp -s ui/package-lock.json ui/node_modules/.installed-lock.json 2>/dev/null; then
    echo "== npm ci (ui/)" >&2
    (cd ui && npm ci --no-audit --no-fund --loglevel=error) >&2
    cp ui/package-lock.json ui/node_modules/.installed-lock.json
fi

command -v chromium
