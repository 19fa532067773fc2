#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, on 127.0.0.1 only.
#
#   eval "$(scripts/test-postgres.sh start)"   # starts it (or finds it running); exports the URL
#   scripts/test-postgres.sh stop              # stops it and removes its files
#
# `start` prints `export NETDOCTOR_TEST_DATABASE_URL=...` on stdout (everything else goes to
# stderr). It uses Debian's packaged binaries (/usr/lib/postgresql/<newest>/bin, after
# `apt-get install postgresql`) and never touches the packaged cluster. As root, the server runs
# as the `postgres` OS user, because PostgreSQL refuses to run as root.
# Settings: NETDOCTOR_PG_PORT (55432), NETDOCTOR_PG_DIR (/tmp/netdoctor-test-postgres-<port>),
# NETDOCTOR_PG_BIN (a bin directory holding initdb, pg_ctl and pg_isready).
set -euo pipefail

PORT="${NETDOCTOR_PG_PORT:-55432}"
DIR="${NETDOCTOR_PG_DIR:-/tmp/netdoctor-test-postgres-$PORT}"
DATA="$DIR/data"
LOG="$DIR/server.log"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

say() { echo "test-postgres: $*" >&2; }
die() {
  say "$*"
  exit 1
}

find_bin() {
  if [ -n "${NETDOCTOR_PG_BIN:-}" ]; then
    echo "$NETDOCTOR_PG_BIN"
    return
  fi
  local newest
  newest="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then
    echo "$newest"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  else
    die "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH): install them with 'apt-get install postgresql', or set NETDOCTOR_PG_BIN"
  fi
}

# Runs a command as the cluster's OS user: `postgres` when we are root, ourselves otherwise.
as_owner() {
  if [ "$(id -u)" -ne 0 ]; then
    (cd / && "$@")
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- "$@")
  else
    local quoted
    quoted="$(printf '%q ' "$@")"
    (cd / && su postgres -s /bin/sh -c "$quoted")
  fi
}

ready() {
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -t 2
}

running_here() {
  [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# Waits until the server answers (true) or is no longer running (false), for up to 30 s.
settle() {
  local tries=0
  while [ "$tries" -lt 60 ]; do
    ready && return 0
    running_here || return 1
    tries=$((tries + 1))
    sleep 0.5
  done
  die "the cluster in $DIR is running but not answering on 127.0.0.1:$PORT; see $LOG"
}

start() {
  # A server still starting (or one that just died) settles first either way.
  if running_here && settle; then
    say "already running on 127.0.0.1:$PORT ($DIR)"
  else
    if ready; then
      die "something else is listening on 127.0.0.1:$PORT; set NETDOCTOR_PG_PORT to a free port"
    fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      die "running as root, but there is no 'postgres' OS user to run the server as (Debian's postgresql package creates it)"
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
      # A half-made directory from an interrupted start is of no use: begin again.
      rm -rf "$DIR"
      mkdir -p "$DIR"
      chmod 700 "$DIR"
      if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi
      say "creating a cluster in $DIR"
      as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 ||
        die "initdb failed: $(cat "$DIR/initdb.log")"
    fi
    # Loopback only, its own socket directory, and no durability: the data is thrown away.
    local opts="-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    say "starting on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -o "$opts" -w -t 60 start >/dev/null ||
      die "the server did not start: $(tail -n 20 "$LOG" 2>/dev/null)"
    local tries=0
    until ready; do
      tries=$((tries + 1))
      [ "$tries" -lt 60 ] || die "the server started but is not ready after 30 s; see $LOG"
      sleep 0.5
    done
  fi
  echo "export NETDOCTOR_TEST_DATABASE_URL=$URL"
  say "NETDOCTOR_TEST_DATABASE_URL=$URL"
}

stop() {
  if running_here; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    say "stopped the cluster on 127.0.0.1:$PORT"
  else
    say "not running"
  fi
  rm -rf "$DIR"
}

BIN="$(find_bin)"
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
