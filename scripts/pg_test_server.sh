#!/usr/bin/env bash
# Starts a private, throw-away PostgreSQL server for the service's tests and prints its
# SQLAlchemy URL: `scripts/pg_test_server.sh start DIR` / `scripts/pg_test_server.sh stop DIR`.
# It never touches a system cluster: its own data directory, a Unix socket in DIR, no TCP.
set -euo pipefail
action=$1; dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg_test_server: no PostgreSQL server binaries" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$action" = stop ]; then
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    exit 0
fi
mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-c listen_addresses='' -k $dir -p 5439 -c fsync=off" start >/dev/null
echo "postgresql+psycopg://postgres@/postgres?host=$dir&port=5439"
