#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 for user "postgres" without a
# password, and that psql, pg_isready and pg_dump are installed (a test runs pg_dump).
#
#   1. a server already answers          -> use it
#   2. installed (pg_lsclusters) but down -> pg_ctlcluster --skip-systemctl-redirect VER main start
#   3. not installed                     -> apt-get install postgresql, then 2.
# If user postgres cannot log in over TCP without a password, one line is put at
# the top of pg_hba.conf: "host all all 127.0.0.1/32 trust" (loopback only).
#
# stdout: only the SQLAlchemy URL for the tests (ZUNFT_TEST_PG_URL); logs go to stderr.
# If ZUNFT_TEST_PG_URL is already set, that database is only checked, not started.
# Exit 1 when no database answers in the end, with CI=true or without: the suite needs it.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
URL="postgresql+psycopg://postgres@${PG_HOST}:${PG_PORT}/postgres"
HBA_MARK="# added by zunft scripts/ensure-postgres.sh: passwordless TCP on loopback only"
HBA_LINE="host all all 127.0.0.1/32 trust"

log() { printf 'ensure-postgres: %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    if [ "${CI:-}" = "true" ]; then
        log "CI=true: a missing database is a failure, never a silent skip."
    else
        log "The test suite needs PostgreSQL on ${PG_HOST}:${PG_PORT} (or set ZUNFT_TEST_PG_URL)."
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

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -n -u postgres "$@"
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

# pg_dump is a pg_wrapper link on Debian even without a client version behind it: run it.
client_ok() {
    psql --version >/dev/null 2>&1 && pg_isready --version >/dev/null 2>&1 \
        && pg_dump --version >/dev/null 2>&1
}

answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3; }

can_login() { # $1: libpq URL
    PGCONNECT_TIMEOUT=5 psql "$1" -w -X -A -t -q -c 'select 1' >/dev/null 2>&1
}

wait_ready() {
    local _
    for _ in $(seq 1 30); do
        answers && return 0
        sleep 1
    done
    return 1
}

server_installed() {
    command -v pg_lsclusters >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1 \
        && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# "VERSION NAME STATUS" of the cluster on our port, "main" first; nothing if none.
pick_cluster() {
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '
        $3 == port && $2 == "main" { print $1, $2, $4; found = 1; exit }
        $3 == port && !any { any = $1 " " $2 " " $4 }
        END { if (!found && any) print any }'
}

start_cluster() {
    local ver="" name="" status=""
    read -r ver name status < <(pick_cluster) || true
    if [ -z "$ver" ]; then
        ver=$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sed 's|.*/postgresql/\([^/]*\)/.*|\1|' | sort -n | tail -n 1)
        if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { f = 1 } END { exit !f }'; then
            die "cluster ${ver}/main exists but not on port ${PG_PORT} (see pg_lsclusters); move it there or set ZUNFT_TEST_PG_URL"
        fi
        log "no cluster on port ${PG_PORT}: creating ${ver}/main"
        as_root pg_createcluster --port "$PG_PORT" "$ver" main >&2
        name=main
        status=down
    fi
    case "$status" in
        online*) log "cluster ${ver}/${name} is online; waiting for it to accept connections" ;;
        *)
            log "starting cluster ${ver}/${name}"
            as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2 \
                || die "pg_ctlcluster could not start ${ver}/${name}; see /var/log/postgresql/postgresql-${ver}-${name}.log"
            ;;
    esac
}

allow_loopback_trust() {
    local hba tmp
    hba=$(as_postgres psql -p "$PG_PORT" -X -A -t -q -c 'show hba_file' 2>/dev/null) \
        || die "user postgres cannot log in on ${PG_HOST}:${PG_PORT} without a password, and the local socket is not reachable as OS user postgres to fix it"
    if as_root grep -qxF "$HBA_LINE" "$hba"; then
        log "${hba} already has '${HBA_LINE}'"
    else
        log "adding '${HBA_LINE}' at the top of ${hba}"
        tmp=$(mktemp)
        { printf '%s\n%s\n' "$HBA_MARK" "$HBA_LINE"; as_root cat "$hba"; } >"$tmp"
        as_root cp "$tmp" "$hba" # cp into the existing file keeps its owner and mode
        rm -f "$tmp"
    fi
    as_postgres psql -p "$PG_PORT" -X -A -t -q -c 'select pg_reload_conf()' >/dev/null
    sleep 1
}

main() {
    client_ok || apt_install postgresql-client
    client_ok || die "psql, pg_isready or pg_dump still missing after installing postgresql-client"

    if [ -n "${ZUNFT_TEST_PG_URL:-}" ]; then
        log "ZUNFT_TEST_PG_URL is set; checking that database only"
        can_login "${ZUNFT_TEST_PG_URL/+psycopg/}" \
            || die "cannot connect to ZUNFT_TEST_PG_URL without a password prompt"
        printf '%s\n' "$ZUNFT_TEST_PG_URL"
        return 0
    fi

    if answers; then
        log "a server answers on ${PG_HOST}:${PG_PORT}"
    else
        if ! server_installed; then
            log "no PostgreSQL server installed"
            apt_install postgresql
            server_installed || die "PostgreSQL server still missing after apt-get install postgresql"
        fi
        answers || start_cluster
        wait_ready || die "no PostgreSQL answers on ${PG_HOST}:${PG_PORT} after starting it (see /var/log/postgresql/)"
        log "a server answers on ${PG_HOST}:${PG_PORT}"
    fi

    local libpq_url="${URL/+psycopg/}"
    if ! can_login "$libpq_url"; then
        allow_loopback_trust
        can_login "$libpq_url" || die "user postgres still cannot log in to ${libpq_url} without a password"
    fi

    log "$(psql "$libpq_url" -w -X -A -t -q -c 'show server_version') server, $(pg_dump --version)"
    log "URL: ${URL}"
    printf '%s\n' "$URL"
}

main "$@"
