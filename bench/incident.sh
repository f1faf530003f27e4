#!/usr/bin/env bash
# Incident benchmarks, in one run on this machine (loopback only, bounded):
#   (a) a release failing 100 % (and one failing 10 %) of its requests under wrk load, with
#       [apps.shop.analysis]: time from its first answer (a failure, as a probe client saw it) to the
#       probe's first answer from the previous revision again, and the requests that failed in
#       between (the proxy's own count for the bad revision); ROUNDS rounds each, medians.
#   (c) `backstop incident shop --execute` wall time (CLI start to exit) for each rung taken:
#       kill-switch, traffic-swap, redeploy.
# Usage: bench/incident.sh [ROUNDS]   (default 5). BACKSTOP_BIN=… measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
CONNS=${CONNS:-16}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need curl; then
  apt-get update -qq && apt-get install -y -qq wrk curl >/dev/null
fi
if [ -n "${BACKSTOP_BIN:-}" ]; then
  BIN=$BACKSTOP_BIN
else
  cargo build --release -q -p backstop-cli
  BIN=$PWD/target/release/backstop
fi

WORK=$(mktemp -d /tmp/backstop-incident-XXXX)
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME EXTRA_APP_TOML: a fresh control plane with one app `shop`.
start_server() {
  local dir="$WORK/$1"; mkdir -p "$dir"
  API=$(free_port); APP=$(free_port)
  cat > "$dir/backstop.toml" <<TOML
[server]
listen = "127.0.0.1:$API"
state = "$dir/state"
[apps.shop]
listen = "127.0.0.1:$APP"
health = "/healthz"
health_interval = "100ms"
env = { BACKSTOP_FLAGS_URL = "http://127.0.0.1:$API", BACKSTOP_FLAGS_TOKEN_FILE = "$dir/state/eval.token" }
$2
TOML
  BACKSTOP_LOG=warn "$BIN" server --config "$dir/backstop.toml" 2>"$dir/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$API/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  export BACKSTOP_URL="http://127.0.0.1:$API" BACKSTOP_TOKEN=$(cat "$dir/state/admin.token")
  DIR=$dir
}

artifact() { # version flags... -> dir
  local v=$1; shift
  local d="$WORK/art/$v-$RANDOM"; mkdir -p "$d"
  printf '#!/bin/sh\nexec %s demo-app --app-version %s %s\n' "$BIN" "$v" "$*" > "$d/run"; chmod +x "$d/run"; echo "$d"
}

wait_status() { # revision status
  for _ in $(seq 600); do
    s=$("$BIN" history shop -o json | python3 -c "import json,sys; print(next((r['status'] for r in json.load(sys.stdin) if r['revision']==$1), ''))")
    [ "$s" = "$2" ] && return 0; sleep 0.1
  done
  echo "revision $1 never became $2" >&2; return 1
}

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.1f}")' "$@"; }

# The probe: one keep-alive client that timestamps every answer until told to stop.
cat > "$WORK/probe.py" <<'PY'
import http.client, sys, time, os
port, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
rows = []
while not os.path.exists(stop):
    t = time.monotonic()
    try:
        conn.request("GET", "/")
        r = conn.getresponse(); body = r.read().decode(errors="replace").strip()
        rows.append((t, r.status, body))
    except Exception as e:
        rows.append((t, 0, str(e))); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
with open(out, "w") as f:
    for t, s, b in rows: f.write(f"{t:.6f}\t{s}\t{b}\n")
PY

# (a) one round: release a revision failing PERCENT % under load; prints "ms failed".
revert_round() {
  local percent=$1
  start_server "revert-$percent-$2" "soak = \"3s\"
keep_warm = \"10m\"
[apps.shop.analysis]
max_error_ratio = 0.01
min_requests = 50
on_failure = \"revert\""
  "$BIN" release shop --artifact "$(artifact v1)" --version v1 >/dev/null
  # v1 must be known-good (the revert's target): traffic through its 3 s soak lets its analysis pass.
  wrk -t1 -c4 -d4s "http://127.0.0.1:$APP/" >/dev/null
  wait_status 1 known-good
  rm -f "$WORK/stop"
  python3 "$WORK/probe.py" "$APP" "$DIR/probe.tsv" "$WORK/stop" &
  local probe=$!
  wrk -t1 -c"$CONNS" -d8s "http://127.0.0.1:$APP/" >"$DIR/wrk.txt" &
  local load=$!
  sleep 1
  "$BIN" release shop --artifact "$(artifact v2 --fail-percent "$percent")" --version v2 >/dev/null
  wait_status 2 failed || true
  sleep 0.5
  touch "$WORK/stop"; wait "$probe"; wait "$load" || true
  local failed
  failed=$("$BIN" signals shop -o json | python3 -c "import json,sys; print(next(r['total']['failures'] for r in json.load(sys.stdin)['revisions'] if r['revision']==2))")
  python3 - "$DIR/probe.tsv" "$failed" <<'PY' || echo "nan $failed"
import sys
rows = [l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1])]
# The bad revision's first answer the probe saw: a failure, or (failing 10 %) any answer from v2,
# since its first failure comes within its first few requests and the probe may not see it.
first_fail = next(float(t) for t, s, b in rows if s.startswith("5") or b.startswith("shop v2"))
back = next(float(t) for t, s, b in rows if float(t) > first_fail and b == "shop v1")
print(f"{(back - first_fail) * 1000:.1f} {sys.argv[2]}")
PY
  stop_server
}

for percent in 100 10; do
  times=(); fails=()
  for r in $(seq "$ROUNDS"); do
    read -r ms failed < <(revert_round "$percent" "$r")
    times+=("$ms"); fails+=("$failed")
    echo "  failing $percent %, round $r: back on v1 ${ms} ms after the first failure, $failed requests failed" >&2
  done
  echo "(a) failing $percent %: first failure → traffic back, median $(median "${times[@]}") ms; failed requests, median $(median "${fails[@]}") (rounds: ${times[*]} ms; ${fails[*]})"
done

# (c) incident --execute, each rung.
timed_execute() { # -> ms
  python3 - "$BIN" <<'PY'
import subprocess, sys, time
t = time.monotonic()
subprocess.run([sys.argv[1], "incident", "shop", "--execute", "-o", "json"], check=True, stdout=subprocess.DEVNULL)
print(f"{(time.monotonic() - t) * 1000:.1f}")
PY
}
for rung in kill-switch traffic-swap redeploy; do
  ms_all=()
  for r in $(seq "$ROUNDS"); do
    case $rung in
      kill-switch) start_server "ks-$r" 'soak = "200ms"' ;;
      traffic-swap) start_server "ts-$r" 'soak = "200ms"' ;;
      redeploy) start_server "rd-$r" 'soak = "200ms"
keep_warm = "100ms"' ;;
    esac
    "$BIN" release shop --artifact "$(artifact v1)" --version v1 >/dev/null
    wait_status 1 known-good
    if [ "$rung" = kill-switch ]; then
      "$BIN" flag create new-checkout --on >/dev/null
      "$BIN" release shop --artifact "$(artifact v2 --broken --guard-flag new-checkout)" --version v2 --guarded-by new-checkout >/dev/null
    else
      "$BIN" release shop --artifact "$(artifact v2 --broken)" --version v2 >/dev/null
    fi
    if [ "$rung" = redeploy ]; then
      for _ in $(seq 100); do
        w=$("$BIN" status shop -o json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['warm_revisions']))")
        [ "$w" = 0 ] && break; sleep 0.1
      done
    fi
    got=$("$BIN" incident shop -o json | python3 -c "import json,sys; print(json.load(sys.stdin)['recommended'])")
    [ "$got" = "$rung" ] || { echo "expected $rung, the ladder recommends $got" >&2; exit 1; }
    ms_all+=("$(timed_execute)")
    stop_server
  done
  echo "(c) incident --execute taking $rung: median $(median "${ms_all[@]}") ms (rounds: ${ms_all[*]})"
done
