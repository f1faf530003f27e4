#!/usr/bin/env bash
# What the rollback-safety check costs an undo, in one run on this machine (loopback only, bounded):
# the time from starting `backstop undo` to the first request served by the warm previous version,
# for the same app without a database, with a PostgreSQL database (a throwaway cluster) and with a
# SQLite database. The app's schema is 20 tables of 12 columns with indexes and foreign keys; every
# undo reads the schema from the catalog and compares it with the target's recorded one.
# Usage: bench/undo_check.sh [ROUNDS]     (default 20 undos per mode; MODES="postgres" for one mode)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
cargo build --release -q -p backstop-cli --bins --examples
BIN=$PWD/target/release/backstop

WORK=$(mktemp -d /tmp/backstop-undo-check-XXXX)
PGDIR=$(mktemp -d /tmp/backstop-undo-pg-XXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK" "$PGDIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
PGPORT=$(free_port)
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w start \
  -o "-k $PGDIR -p $PGPORT -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null
"$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "CREATE DATABASE shop" >/dev/null

mkdir -p "$WORK/migrations"
python3 - "$WORK/migrations/0001_schema.sql" <<'PY'
import sys
out = []
for t in range(20):
    cols = ", ".join(f"c{c} text" for c in range(9))
    ref = f", parent_id bigint REFERENCES t{t-1} (id)" if t else ""
    out.append(f"CREATE TABLE t{t} (id bigint PRIMARY KEY, name text NOT NULL, {cols}{ref});")
    out.append(f"CREATE INDEX t{t}_name ON t{t} (name);")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY

run_mode() { # mode: none | postgres | sqlite
  local mode=$1 api app
  api=$(free_port); app=$(free_port)
  local dir="$WORK/$mode"; mkdir -p "$dir"
  cat > "$dir/backstop.toml" <<TOML
[server]
listen = "127.0.0.1:$api"
state = "$dir/state"
[apps.shop]
listen = "127.0.0.1:$app"
health = "/healthz"
soak = "50ms"
keep_warm = "10m"
health_interval = "20ms"
TOML
  local ship=()
  case $mode in
    postgres) printf '[apps.shop.database]\nurl = "postgres://postgres@127.0.0.1:%s/shop"\n' "$PGPORT" >> "$dir/backstop.toml"; ship=(--migrations "$WORK/migrations") ;;
    sqlite) printf '[apps.shop.database]\nurl = "sqlite://%s/shop.db"\n' "$dir" >> "$dir/backstop.toml"; ship=(--migrations "$WORK/migrations") ;;
  esac
  BACKSTOP_LOG=${BACKSTOP_LOG:-warn} "$BIN" server --config "$dir/backstop.toml" 2>"$dir/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  export BACKSTOP_URL="http://127.0.0.1:$api" BACKSTOP_TOKEN=$(cat "$dir/state/admin.token")
  mkdir -p "$dir/art/v1"
  printf '#!/bin/sh\nexec %s demo-app --app-version v1\n' "$BIN" > "$dir/art/v1/run"; chmod +x "$dir/art/v1/run"
  # The sqlite dialect lints the same file (its indexes are on new tables: no finding).
  "$BIN" release shop --artifact "$dir/art/v1" --version v1 "${ship[@]}" >/dev/null
  sleep 0.3
  echo "-- $mode"
  "$PWD/target/release/examples/undo_latency" "$BIN" "$app" "$dir" "$ROUNDS"
  if [ "$mode" != none ]; then
    "$BIN" check-rollback shop 1 | head -1
  fi
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

echo "== undo to a warm revision, CLI start -> first request served by it ($ROUNDS undos per mode)"
for mode in ${MODES:-none postgres sqlite}; do run_mode "$mode"; done
