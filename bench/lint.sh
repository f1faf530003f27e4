#!/usr/bin/env bash
# Migration linter benchmark, in one run on this machine: backstop lint vs squawk on the same corpus.
#   (a) files/s: both lint every file of a generated corpus of PostgreSQL migrations, ROUNDS times,
#       interleaved, JSON output; each whole run is timed with a monotonic clock; medians and ratio
#   (b) verdicts per file and statement: destructive statements squawk flags that backstop leaves
#       unflagged (must be 0; exit 1 otherwise), and per mapped rule what only one of them raises
#   (c) files/s and verdicts on the committed real-world-shaped corpus
#       (crates/backstop-migrate/tests/corpus/realworld, written by its gen_realworld.py)
# Usage: bench/lint.sh [ROUNDS] [FILES] [SEED]     (defaults: 5 rounds, 1500 files, seed 1)
#        ONLY_REALWORLD=1 bench/lint.sh [ROUNDS]   runs (c) alone
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
FILES=${2:-1500}
SEED=${3:-1}

if ! command -v squawk >/dev/null 2>&1; then
  python3 -m pip install -q squawk-cli
  hash -r
fi
SQUAWK=$(command -v squawk)
cargo build --release -q -p backstop-cli --bins
BIN=$PWD/target/release/backstop
echo "backstop: $("$BIN" --version 2>/dev/null || echo '?')   squawk: $("$SQUAWK" --version)"

WORK=$(mktemp -d /tmp/backstop-lint-bench-XXXX)
trap 'rm -rf "$WORK"' EXIT

realworld() {
  local rw=$WORK/realworld
  mkdir -p "$rw"
  ls "$PWD"/crates/backstop-migrate/tests/corpus/realworld/*.sql > "$rw/list"
  echo "== (c) real-world-shaped corpus: $(wc -l < "$rw/list") files ($(cat $(cat "$rw/list") | wc -l) lines), $ROUNDS rounds, JSON output (interleaved)"
  python3 bench/lint_compare.py time "$ROUNDS" "$rw" "$rw/list" "$BIN" "$SQUAWK"
  echo "   squawk syntax errors on that corpus: $(python3 -c 'import json,sys; print(sum(1 for f in json.load(open(sys.argv[1])) if f["rule_name"] == "syntax-error"))' "$rw/squawk.json")"
  python3 bench/lint_compare.py compare "$rw/list" "$rw/backstop.json" "$rw/squawk.json" || true
}
if [ -n "${ONLY_REALWORLD:-}" ]; then
  realworld
  exit 0
fi
python3 bench/lint_compare.py gen "$WORK/corpus" "$FILES" "$SEED" crates/backstop-migrate/tests/corpus
find "$WORK/corpus" -name '*.sql' | sort > "$WORK/generated"

# Keep only what both can parse: backstop stops the whole run at a file it cannot parse (exit 2),
# so each file is checked on its own first; squawk reports a syntax-error finding instead.
: > "$WORK/ok"; : > "$WORK/backstop-skipped"
while read -r f; do
  if "$BIN" lint --output json "$f" >/dev/null 2>"$WORK/one.err" || [ $? -eq 1 ]; then
    echo "$f" >> "$WORK/ok"
  else
    echo "$f: $(grep -o 'cannot parse sql: .*' "$WORK/one.err" | head -1)" >> "$WORK/backstop-skipped"
  fi
done < "$WORK/generated"
(cd "$WORK" && xargs -a ok "$SQUAWK" --reporter json > squawk-check.json || true)
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
bad = sorted({f["file"] for f in json.load(open(f"{w}/squawk-check.json")) if f["rule_name"] == "syntax-error"})
open(f"{w}/squawk-skipped", "w").write("".join(f + "\n" for f in bad))
ok = [l for l in open(f"{w}/ok").read().split("\n") if l and l not in set(bad)]
open(f"{w}/list", "w").write("".join(f + "\n" for f in ok))
PY
N=$(wc -l < "$WORK/list")
echo "corpus: $(wc -l < "$WORK/generated") files generated, $(wc -l < "$WORK/backstop-skipped") skipped (backstop cannot parse), $(wc -l < "$WORK/squawk-skipped") skipped (squawk syntax-error), $N linted ($(cat $(cat "$WORK/list") | wc -l) lines)"
sed 's/^/  skipped: /' "$WORK/backstop-skipped" | sort -t: -k3 | awk -F': ' '{print}' | head -20
sed 's/^/  skipped (squawk): /' "$WORK/squawk-skipped" | head -20

echo "== (a) whole-corpus runs, $ROUNDS rounds, JSON output (interleaved)"
python3 bench/lint_compare.py time "$ROUNDS" "$WORK" "$WORK/list" "$BIN" "$SQUAWK"

echo "== (b) verdicts"
status=0
python3 bench/lint_compare.py compare "$WORK/list" "$WORK/backstop.json" "$WORK/squawk.json" || status=$?

realworld
exit "$status"
