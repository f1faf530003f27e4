#!/usr/bin/env bash
# Proxy benchmarks, in one run on this machine (loopback only, bounded):
#   (a) requests/s: upstream direct vs nginx reverse proxy vs backstop's proxy (wrk)
#   (b) failed requests during 100 blue-green swaps (50 release + 50 undo) under wrk load
#   (c) time from `backstop undo` (CLI start) to the first request served by the warm previous version
# Usage: bench/proxy.sh [ROUNDS] [SECONDS]     (defaults: 5 rounds of 10 s each)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  apt-get update -qq && apt-get install -y -qq nginx wrk >/dev/null
fi
[ -n "${BACKSTOP_BIN:-}" ] || cargo build --release -q -p backstop-cli --bins --examples
BIN=${BACKSTOP_BIN:-$PWD/target/release/backstop}  # BACKSTOP_BIN=… measures another build

WORK=$(mktemp -d /tmp/backstop-bench-XXXX)
cleanup() {
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API=$(free_port); APP=$(free_port); NGX=$(free_port)

cat > "$WORK/backstop.toml" <<TOML
[server]
listen = "127.0.0.1:$API"
state = "$WORK/state"
[apps.shop]
listen = "127.0.0.1:$APP"
health = "/healthz"
soak = "50ms"
keep_warm = "10m"
health_interval = "20ms"
TOML
BACKSTOP_LOG=warn "$BIN" server --config "$WORK/backstop.toml" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$API/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
export BACKSTOP_URL="http://127.0.0.1:$API" BACKSTOP_TOKEN=$(cat "$WORK/state/admin.token")

artifact() { # version -> dir
  local d="$WORK/art/$1"; mkdir -p "$d"
  printf '#!/bin/sh\nexec %s demo-app --app-version %s\n' "$BIN" "$1" > "$d/run"; chmod +x "$d/run"; echo "$d"
}
"$BIN" release shop --artifact "$(artifact v1)" --version v1 --change-cause bench >/dev/null
sleep 0.3
UP=$("$BIN" status shop -o json | python3 -c 'import json,sys; s=json.load(sys.stdin); print([i for i in s["instances"] if i["role"]=="serving"][0]["port"])')

cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server 127.0.0.1:$UP; keepalive 128; }
  server {
    listen 127.0.0.1:$NGX;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.3

rps() { wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

if [ -z "${SKIP_A:-}" ]; then
echo "== (a) requests/s, $ROUNDS rounds x ${SECS}s, wrk -t$THREADS -c$CONNS (interleaved)"
: > "$WORK/direct"; : > "$WORK/nginx"; : > "$WORK/backstop"
for r in $(seq "$ROUNDS"); do
  rps "$UP" >> "$WORK/direct"; rps "$NGX" >> "$WORK/nginx"; rps "$APP" >> "$WORK/backstop"
  echo "round $r: direct $(tail -1 "$WORK/direct")  nginx $(tail -1 "$WORK/nginx")  backstop $(tail -1 "$WORK/backstop")"
done
D=$(median < "$WORK/direct"); N=$(median < "$WORK/nginx"); B=$(median < "$WORK/backstop")
echo "median: direct $D  nginx $N  backstop $B"
python3 -c "print(f'backstop/nginx = {$B/$N:.2f}   backstop/direct = {$B/$D:.2f}   nginx/direct = {$N/$D:.2f}')"
fi

echo "== (b) 100 swaps (50 release + 50 undo) under wrk load"
SWAP_SECS=${SWAP_SECS:-20}
wrk -t"$THREADS" -c32 -d"${SWAP_SECS}s" "http://127.0.0.1:$APP/" > "$WORK/swap-wrk.txt" &
WRK_PID=$!
sleep 1
START=$(date +%s)
for i in $(seq 2 51); do
  "$BIN" release shop --artifact "$(artifact "v$i")" --version "v$i" >/dev/null
  "$BIN" undo shop --to-revision 1 >/dev/null
done
END=$(date +%s)
wait "$WRK_PID"
if [ $((END - START + 1)) -ge "$SWAP_SECS" ]; then
  echo "warning: the swaps took $((END - START)) s, longer than the load ($SWAP_SECS s); raise SWAP_SECS"
fi
grep -E "requests in|Non-2xx|Socket errors" "$WORK/swap-wrk.txt"
NON2XX=$(awk '/Non-2xx/ {print $5}' "$WORK/swap-wrk.txt"); NON2XX=${NON2XX:-0}
SOCK=$(awk '/Socket errors/ {gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s}' "$WORK/swap-wrk.txt"); SOCK=${SOCK:-0}
echo "swaps: 100 in $((END - START)) s under load, failed requests: non-2xx $NON2XX, socket errors $SOCK"

echo "== (c) undo to a warm revision: CLI start -> first request served by it"
"$PWD/target/release/examples/undo_latency" "$BIN" "$APP" "$WORK" 20
