#!/usr/bin/env bash
# Make sure Redis is installed and answers on 127.0.0.1:6379. `make test` calls it: the
# scale-out tests start redis-server processes of their own (to stop and start them), so
# the binary must be there.
#
#   1. a server already answers  -> use it
#   2. redis-server installed    -> start it, loopback only, nothing kept on disk
#   3. not installed             -> apt-get install redis-server, then 2.
#
# stdout: only the URL; logs go to stderr.
# Exit 1 when no Redis answers in the end, with CI=true or without.
set -euo pipefail

REDIS_HOST=127.0.0.1
REDIS_PORT=6379
URL="redis://${REDIS_HOST}:${REDIS_PORT}/0"

log() { printf 'ensure-redis: %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    if [ "${CI:-}" = "true" ]; then
        log "CI=true: a missing Redis is a failure, never a silent skip."
    else
        log "The realtime tests need Redis on ${REDIS_HOST}:${REDIS_PORT}."
    fi
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@" || die "'sudo -n $*' failed (sudo needs a password?); run it by hand once."
    else
        die "need root for '$*', and sudo is not installed"
    fi
}

apt_updated=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* yourself"
    if [ -z "$apt_updated" ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >&2
}

answers() {
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

wait_ready() {
    local _
    for _ in $(seq 1 20); do
        answers && return 0
        sleep 0.5
    done
    return 1
}

main() {
    command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools

    if answers; then
        log "Redis answers on ${REDIS_HOST}:${REDIS_PORT}"
    else
        if ! command -v redis-server >/dev/null 2>&1; then
            log "redis-server not installed"
            apt_install redis-server
            # Debian may start its own service on install; give it a moment.
            wait_ready || true
        fi
        if ! answers; then
            log "starting redis-server on ${REDIS_HOST}:${REDIS_PORT}"
            redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" \
                --save "" --appendonly no >&2
        fi
        wait_ready || die "no Redis answers on ${REDIS_HOST}:${REDIS_PORT} after starting it"
        log "Redis answers on ${REDIS_HOST}:${REDIS_PORT}"
    fi

    log "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" info server | tr -d '\r' | grep '^redis_version:')"
    printf '%s\n' "$URL"
}

main "$@"
