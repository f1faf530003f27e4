#!/usr/bin/env bash
# Single-flag remote evaluation, side by side on loopback: backstop's OFREP
# route (POST /ofrep/v1/evaluate/flags/KEY) and Unleash Edge in offline mode
# (GET /api/frontend/features/KEY, its per-flag evaluation), the same two
# flags in both, wrk against each in turn, ROUNDS times; medians and the ratio.
# Usage: bench/ofrep.sh [SECONDS] [ROUNDS]      (defaults: 10 s, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}

need() { command -v "$1" >/dev/null 2>&1; }
need wrk || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
EDGE=${EDGE_BIN:-$(command -v unleash-edge || true)}
if [ -z "$EDGE" ]; then
  # Offline mode needs none of the optional features (cloud persistence, TLS).
  cargo install unleash-edge --no-default-features --locked
  EDGE=$(command -v unleash-edge)
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p backstop-cli --bin backstop

WORK=$(mktemp -d /tmp/backstop-ofrep-bench-XXXX)
cleanup() {
  for pid in ${SERVER_PID:-} ${EDGE_PID:-}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API=$(free_port); EDGE_PORT=$(free_port)

# backstop: no rate limit, so the limit is not what is measured.
printf '[server]\nlisten = "127.0.0.1:%s"\nstate = "%s/state"\nofrep_rate_limit = 0\n' "$API" "$WORK" > "$WORK/backstop.toml"
BACKSTOP_LOG=warn "$TARGET/release/backstop" server --config "$WORK/backstop.toml" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$API/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
export BACKSTOP_URL="http://127.0.0.1:$API" BACKSTOP_TOKEN=$(cat "$WORK/state/admin.token")
EVAL=$(cat "$WORK/state/eval.token")
# The flags: a plain kill switch, and new-checkout: 25 % of users in NL/BE/LU, nobody else.
"$TARGET/release/backstop" flag create kill --on >/dev/null
cat > "$WORK/new-checkout.json" <<'JSON'
{"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "off", "off_variant": "off",
 "rules": [{"conditions": [{"attribute": "country", "op": "in", "values": ["NL", "BE", "LU"]}],
            "serve": {"rollout": [{"variant": "on", "weight": 25}, {"variant": "off", "weight": 75}]}}]}
JSON
"$TARGET/release/backstop" flag create new-checkout --file "$WORK/new-checkout.json" >/dev/null

# Unleash Edge: the same two flags as a bootstrap file (Unleash's client features format).
cat > "$WORK/features.json" <<'JSON'
{"version": 2, "features": [
  {"name": "kill", "type": "kill-switch", "enabled": true, "project": "default",
   "strategies": [{"name": "default", "parameters": {}}]},
  {"name": "new-checkout", "type": "release", "enabled": true, "project": "default",
   "strategies": [{"name": "flexibleRollout",
                   "parameters": {"rollout": "25", "stickiness": "userId", "groupId": "new-checkout"},
                   "constraints": [{"contextName": "country", "operator": "IN", "values": ["NL", "BE", "LU"]}]}]}
]}
JSON
EDGE_TOKEN='*:development.backstopbench'
"$EDGE" --port "$EDGE_PORT" --interface 127.0.0.1 --workers "$(nproc)" offline --bootstrap-file "$WORK/features.json" \
  --client-tokens '*:development.backstopclient' --frontend-tokens "$EDGE_TOKEN" >"$WORK/edge.log" 2>&1 &
EDGE_PID=$!
EDGE_PATH="/api/frontend/features/new-checkout?userId=user-42&properties%5Bcountry%5D=NL"
for _ in $(seq 100); do
  curl -fs -H "Authorization: $EDGE_TOKEN" "http://127.0.0.1:$EDGE_PORT$EDGE_PATH" >/dev/null 2>&1 && break; sleep 0.1
done

echo "one evaluation each (user-42 in NL):"
echo "  backstop: $(curl -s -X POST -H "X-API-Key: $EVAL" -H 'content-type: application/json' \
  -d '{"context":{"targetingKey":"user-42","country":"NL"}}' "http://127.0.0.1:$API/ofrep/v1/evaluate/flags/new-checkout")"
echo "  edge:     $(curl -s -H "Authorization: $EDGE_TOKEN" "http://127.0.0.1:$EDGE_PORT$EDGE_PATH")"

cat > "$WORK/backstop.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"context":{"targetingKey":"user-42","country":"NL"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$EVAL"
LUA
cat > "$WORK/edge.lua" <<LUA
wrk.headers["Authorization"] = "$EDGE_TOKEN"
LUA

run() { # name url script
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$3" "$2" > "$WORK/$1.out"
  python3 - "$1" "$WORK/$1.out" >> "$WORK/results" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
def ms(v):
    n, unit = float(re.match(r"[\d.]+", v).group()), re.search(r"[a-z]+", v).group()
    return n * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
lat = {p: ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
print(name, rps, lat["50"], lat["90"], lat["99"], non2xx.group(1) if non2xx else 0, "errors" if errors else "-")
PY
  tail -1 "$WORK/results" | awk '{printf "  %-8s %10.0f req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %s\n", $1, $2, $3, $5, $6}'
}
: > "$WORK/results"
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS (wrk -t$THREADS -c$CONNS -d${SECS}s):"
  run backstop "http://127.0.0.1:$API/ofrep/v1/evaluate/flags/new-checkout" "$WORK/backstop.lua"
  run edge "http://127.0.0.1:$EDGE_PORT$EDGE_PATH" "$WORK/edge.lua"
done
echo "peer: $(cargo install --list 2>/dev/null | grep -m1 "^unleash-edge" || echo "$EDGE")"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *vals = line.split()
    rows.setdefault(name, []).append([float(v) for v in vals[:4]])
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in rows.items()}
for n, (rps, p50, p90, p99) in med.items():
    print(f"median {n:8} {rps:10.0f} req/s  p50 {p50:.3f} ms  p90 {p90:.3f} ms  p99 {p99:.3f} ms")
print(f"backstop / edge throughput: {med['backstop'][0] / med['edge'][0]:.2f}")
PY
