#!/usr/bin/env bash
# Kill-switch propagation: a control plane (`backstop server`, release build)
# in one process, SUBSCRIBERS stream subscribers (default 1000) in another
# (examples/propagation); RUNS runs (default 5) of FLIPS flips (default 5).
# Per run: p50/p99/max of the time from the flip's API call returning to each
# subscriber reading the change; then the median of the runs. Loopback only.
# Usage: bench/flags.sh [SUBSCRIBERS] [FLIPS] [RUNS]   (BACKSTOP_BIN=… measures another build of the server)
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${1:-1000}
FLIPS=${2:-5}
RUNS=${3:-5}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q -p backstop-cli --bin backstop
cargo build --release -q -p backstop-flags-client --example propagation

WORK=$(mktemp -d /tmp/backstop-flags-bench-XXXX)
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[server]\nlisten = "127.0.0.1:%s"\nstate = "%s/state"\n' "$PORT" "$WORK" > "$WORK/backstop.toml"
BACKSTOP_LOG=warn ${SERVER_CPU:+taskset -c "$SERVER_CPU"} "${BACKSTOP_BIN:-$TARGET/release/backstop}" server --config "$WORK/backstop.toml" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
export BACKSTOP_URL="http://127.0.0.1:$PORT"
BACKSTOP_TOKEN=$(cat "$WORK/state/admin.token")
BACKSTOP_EVAL_TOKEN=$(cat "$WORK/state/eval.token")
export BACKSTOP_TOKEN BACKSTOP_EVAL_TOKEN

: > "$WORK/results"
for run in $(seq "$RUNS"); do
  echo "run $run/$RUNS:"
  ${SUBSCRIBER_CPU:+taskset -c "$SUBSCRIBER_CPU"} "$TARGET/release/examples/propagation" "$SUBS" "$FLIPS" | tee -a "$WORK/out" | grep -v '^RESULT' | sed 's/^/  /'
  grep '^RESULT' "$WORK/out" | tail -1 >> "$WORK/results"
done
python3 - "$WORK/results" "$SUBS" "$FLIPS" <<'PY'
import statistics, sys
rows = [list(map(float, l.split()[1:])) for l in open(sys.argv[1])]
med = [statistics.median(col) for col in zip(*rows)]
print(f"median of {len(rows)} runs ({sys.argv[2]} subscribers, {sys.argv[3]} flips each):")
print(f"  call returned -> seen: p50 {med[0]:.2f} ms, p99 {med[1]:.2f} ms, max {med[2]:.2f} ms")
print(f"  call started  -> seen: p50 {med[3]:.2f} ms, p99 {med[4]:.2f} ms, max {med[5]:.2f} ms")
PY
