#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests and local use, run as a plain process (no systemd, no
# Debian cluster wrapper) from the Debian `postgresql` package's binaries.
#
#   pg.sh start DIR [PORT]   initdb under DIR (once), start on 127.0.0.1:PORT, create database
#                            capstone_test; prints the URL as an `export` line. Without PORT: the
#                            port DIR's server last ran on, else 54329, and when that is taken (a
#                            second checkout on the same machine) a free port the system picks.
#                            A server already running from DIR (provably this DIR's: pg_ctl status
#                            on its data directory) is reused on the port it runs on.
#   pg.sh stop DIR           stop the server whose data lives under DIR
#   pg.sh status DIR         exit 0 when running
#
# Trust authentication on 127.0.0.1 only: for tests, never for production. Idempotent and safe to
# call from several processes at once (flock on DIR/.lock). PostgreSQL refuses to run as root, so
# as root the server runs as the `postgres` system user and DIR is handed to it.
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR | status DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
port_arg=${3:-}
port=$port_arg
database=capstone_test

pgbin=""
for candidate in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
  if [ -x "$candidate/postgres" ]; then pgbin=$candidate; break; fi
done
[ -n "$pgbin" ] || { echo "pg.sh: no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 1; }

data=$dir/data
run=$dir/run
log=$dir/postgres.log

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

prepare_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    if ! getent passwd postgres >/dev/null; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    chown postgres: "$dir"
    [ -d "$data" ] && chown -R postgres: "$data"
    # The server must be able to reach DIR: give the postgres user search permission on the way.
    local parent
    parent=$(dirname "$dir")
    while [ "$parent" != "/" ]; do
      if ! runuser -u postgres -- test -x "$parent"; then chmod o+x "$parent"; fi
      parent=$(dirname "$parent")
    done
  fi
}

running() { [ -f "$data/PG_VERSION" ] && as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

running_port() { sed -n 4p "$data/postmaster.pid" 2>/dev/null; }

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

choose_port() {
  # An explicit PORT is taken as given; otherwise the port remembered in DIR, else 54329, else free.
  [ -n "$port_arg" ] && return 0
  port=$(cat "$dir/port" 2>/dev/null || true)
  [[ $port =~ ^[0-9]+$ ]] || port=54329
  if port_taken "$port"; then
    port=$(free_port)
  fi
}

start() {
  prepare_owner
  mkdir -p "$run"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$run"
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    as_owner mkdir -p "$data"
    as_owner "$pgbin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$data/postgresql.conf" <<CONF
# pg.sh: test server settings (durability traded for speed: the data is throw-away)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 64MB
CONF
  fi
  if running; then
    local current
    current=$(running_port)
    if [ -n "$port_arg" ] && [ "$current" != "$port_arg" ]; then
      echo "pg.sh: a server for $data already runs on port $current (asked for $port_arg)" >&2
      exit 1
    fi
    port=$current
  else
    choose_port
    if port_taken "$port"; then
      echo "pg.sh: port $port on 127.0.0.1 is taken by another program; choose another PORT" >&2
      exit 1
    fi
    if as_owner "$pgbin/pg_isready" -h 127.0.0.1 -p "$port" >/dev/null 2>&1; then
      echo "pg.sh: port $port on 127.0.0.1 is taken by another server; choose another PORT" >&2
      exit 1
    fi
    as_owner "$pgbin/pg_ctl" -D "$data" -l "$log" -o "-p $port -k $run" -w -t 60 start >/dev/null 9>&- \
      || { tail -n 30 "$log" >&2; exit 1; }
    echo "$port" >"$dir/port"
  fi
  psql=("$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$(as_owner "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != "1" ]; then
    as_owner "${psql[@]}" -c "CREATE DATABASE $database" >/dev/null
  fi
  echo "export CAPSTONE_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$port/$database"
}

stop() {
  if running; then
    as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    echo "stopped PostgreSQL in $data"
  else
    echo "no PostgreSQL running in $data"
  fi
}

exec 9>"$dir/.lock"
flock 9
case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  *) usage ;;
esac
