#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests of the web app
# (tests/web/app). Playwright's own browser download does not work here and is never used.
#
#   1. /usr/bin/chromium exists -> done
#   2. otherwise                -> apt-get install chromium (as root, or with sudo -n)
#
# Exit 1 when chromium is still missing; the tests then fail under CI=true (never a skip).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

[ -x "$CHROMIUM" ] && exit 0

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        log "need root for '$*', and sudo is not installed"
        return 1
    fi
}

if command -v apt-get >/dev/null 2>&1; then
    log "apt-get install chromium"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >&2 || true
fi

if [ ! -x "$CHROMIUM" ]; then
    log "ERROR: $CHROMIUM is missing; install the Debian package chromium."
    exit 1
fi
