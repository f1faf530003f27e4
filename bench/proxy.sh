#!/usr/bin/env bash
# Proxy benchmarks, in one run on this machine (loopback only, bounded):
#   (a) requests/s: upstream direct vs nginx reverse proxy vs backstop's proxy (wrk), and the
#       CPU time the two proxies' own threads spend per request
#   (b) failed requests during 100 blue-green swaps (50 release + 50 undo) under wrk load
#   (c) time from `backstop undo` (CLI start) to the first request served by the warm previous version
#   (d) with COST=1: instructions per proxied request under callgrind (independent of machine load)
#   (e) failed requests while the control plane is restarted 5 times (hand-overs) under wrk load
# Usage: bench/proxy.sh [ROUNDS] [SECONDS]     (defaults: 5 rounds of 10 s each)
# BACKSTOP_BIN=… measures another build of backstop (e.g. main's, for a before/after);
# BEFORE_BIN=… also measures that build's proxy in the same rounds, interleaved ("before"): a second
# control plane of that build, whose instance runs the same demo app as the first one's;
# BACKSTOP_PROXY_WORKERS=N sets the proxy's worker threads; SKIP_A / SKIP_BC / SKIP_E skip parts.
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
if [ -n "${BACKSTOP_BIN:-}" ]; then
  BIN=$BACKSTOP_BIN
else
  cargo build --release -q -p backstop-cli --bins --examples
  BIN=$PWD/target/release/backstop
fi

WORK=$(mktemp -d /tmp/backstop-bench-XXXX)
cleanup() {
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "${BEFORE_PID:-}" ] && kill "$BEFORE_PID" 2>/dev/null && wait "$BEFORE_PID" 2>/dev/null || true
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
# --stop-apps-on-exit: the instances go with the control plane at the end of the run.
BACKSTOP_LOG=warn "$BIN" server --config "$WORK/backstop.toml" --stop-apps-on-exit 2>"$WORK/server.log" &
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

if [ -n "${BEFORE_BIN:-}" ]; then
  BAPI=$(free_port); BAPP=$(free_port)
  mkdir -p "$WORK/prev"
  sed -e "s/127.0.0.1:$API/127.0.0.1:$BAPI/" -e "s/127.0.0.1:$APP/127.0.0.1:$BAPP/" -e "s#$WORK/state#$WORK/prev/state#" \
    "$WORK/backstop.toml" > "$WORK/prev/backstop.toml"
  BACKSTOP_LOG=warn "$BEFORE_BIN" server --config "$WORK/prev/backstop.toml" 2>"$WORK/prev/server.log" &
  BEFORE_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$BAPI/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  BACKSTOP_URL="http://127.0.0.1:$BAPI" BACKSTOP_TOKEN=$(cat "$WORK/prev/state/admin.token") \
    "$BEFORE_BIN" release shop --artifact "$(artifact v1)" --version v1 --change-cause bench >/dev/null
  sleep 0.3
fi

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

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
TCK=$(getconf CLK_TCK)
# The /proc stat files of the proxy's own threads: backstop's proxy workers, nginx's worker processes.
proxy_stats() {
  if [ "$1" = backstop ] || [ "$1" = before ]; then
    local pid=$SERVER_PID; [ "$1" = before ] && pid=$BEFORE_PID
    for t in /proc/"$pid"/task/*; do grep -q '^proxy:' "$t/comm" 2>/dev/null && echo "$t/stat"; done
  else
    for p in $(pgrep -P "$(cat "$WORK/nginx.pid")"); do echo "/proc/$p/stat"; done
  fi
}
ticks() { cat $(proxy_stats "$1") 2>/dev/null | awk '{sub(/.*\) /, ""); s += $12 + $13} END {print s + 0}'; }
# measure NAME PORT: one wrk run; appends requests/s to $WORK/NAME and, for a proxy, the CPU time
# its threads spent per request (user + system, microseconds) to $WORK/NAME.cpu.
measure() {
  local before=0 out n
  [ "$1" = direct ] || before=$(ticks "$1")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$2/")
  echo "$out" | awk '/Requests\/sec/ {print $2}' >> "$WORK/$1"
  if [ "$1" != direct ]; then
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    python3 -c "print(f'{($(ticks "$1") - $before) / $TCK * 1e6 / $n:.1f}')" >> "$WORK/$1.cpu"
  fi
}

if [ -z "${SKIP_A:-}" ]; then
echo "== (a) requests/s, $ROUNDS rounds x ${SECS}s, wrk -t$THREADS -c$CONNS (interleaved); proxy CPU µs per request"
: > "$WORK/direct"; : > "$WORK/nginx"; : > "$WORK/backstop"; : > "$WORK/nginx.cpu"; : > "$WORK/backstop.cpu"
: > "$WORK/before"; : > "$WORK/before.cpu"
for r in $(seq "$ROUNDS"); do
  measure direct "$UP"; measure nginx "$NGX"; measure backstop "$APP"
  [ -n "${BEFORE_BIN:-}" ] && measure before "$BAPP"
  echo "round $r: direct $(tail -1 "$WORK/direct")  nginx $(tail -1 "$WORK/nginx") ($(tail -1 "$WORK/nginx.cpu") µs)  backstop $(tail -1 "$WORK/backstop") ($(tail -1 "$WORK/backstop.cpu") µs)${BEFORE_BIN:+  before $(tail -1 "$WORK/before") ($(tail -1 "$WORK/before.cpu") µs)}"
done
D=$(median < "$WORK/direct"); N=$(median < "$WORK/nginx"); B=$(median < "$WORK/backstop")
NC=$(median < "$WORK/nginx.cpu"); BC=$(median < "$WORK/backstop.cpu")
echo "median: direct $D  nginx $N  backstop $B;  proxy CPU per request: nginx $NC µs, backstop $BC µs"
python3 -c "print(f'backstop/nginx = {$B/$N:.2f}   backstop/direct = {$B/$D:.2f}   nginx/direct = {$N/$D:.2f}   CPU per request backstop/nginx = {$BC/$NC:.2f}')"
if [ -n "${BEFORE_BIN:-}" ]; then
  BB=$(median < "$WORK/before"); BBC=$(median < "$WORK/before.cpu")
  python3 -c "print(f'before: {$BB} req/s, {$BBC} µs per request; before/nginx = {$BB/$N:.2f}   backstop/before = {$B/$BB:.2f}')"
fi
fi

if [ -z "${SKIP_BC:-}" ]; then
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
fi

if [ -z "${SKIP_E:-}" ]; then
echo "== (e) control-plane restarts under wrk load: a new server takes over from the running one, 5 times"
HO_SECS=${HO_SECS:-12}
wrk -t"$THREADS" -c32 -d"${HO_SECS}s" "http://127.0.0.1:$APP/" > "$WORK/ho-wrk.txt" &
WRK_PID=$!
sleep 1
START=$(date +%s.%N)
for _ in $(seq 5); do
  OLD=$SERVER_PID
  BACKSTOP_LOG=warn "$BIN" server --config "$WORK/backstop.toml" --stop-apps-on-exit 2>>"$WORK/server.log" &
  SERVER_PID=$!
  wait "$OLD" 2>/dev/null || true   # the old one exits once it handed over and drained
  sleep 1
done
END=$(date +%s.%N)
wait "$WRK_PID"
grep -E "requests in|Non-2xx|Socket errors" "$WORK/ho-wrk.txt"
NON2XX=$(awk '/Non-2xx/ {print $5}' "$WORK/ho-wrk.txt"); NON2XX=${NON2XX:-0}
SOCK=$(awk '/Socket errors/ {gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s}' "$WORK/ho-wrk.txt"); SOCK=${SOCK:-0}
python3 -c "print(f'restarts: 5 in {$END - $START:.1f} s under load, failed requests: non-2xx $NON2XX, socket errors $SOCK')"
fi

if [ -n "${COST:-}" ]; then
  echo "== (d) instructions per request under callgrind (proxy_cost example, 1 worker)"
  need valgrind || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
  cargo build --release -q -p backstop-proxy --example proxy_cost
  N=${COST_REQUESTS:-20000}
  ir() { # mode -> total instructions
    BACKSTOP_PROXY_WORKERS=1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" \
      "$PWD/target/release/examples/proxy_cost" "$N" 8 "$1" >/dev/null 2>"$WORK/cg.$1.log"
    awk '/^summary:|^totals:/ {print $2; exit}' "$WORK/cg.$1"
  }
  P=$(ir proxied); D=$(ir direct)
  python3 -c "print(f'proxied {$P:,} Ir, direct {$D:,} Ir, for $N requests: the proxy costs {($P-$D)/$N:,.0f} instructions per request')"
fi
