#!/usr/bin/env bash
# A short fuzzing run of every target from the committed corpora (FUZZ_SECONDS
# each, 12 by default; about a minute in all). New inputs go to a scratch
# folder, so the committed corpora stay as they are. Exits non-zero on a crash,
# leaving the input under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-12}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The bundled SQLite defines two static arrays of one name, which ASan reports as an
# ODR violation; it is not one.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

cargo +nightly fuzz build
for target in $(cargo +nightly fuzz list); do
  case "$target" in
    # Long enough to reach the nesting bound of the analysis.
    migrate) max_len=${FUZZ_MIGRATE_MAX_LEN:-262144} ;;
    *) max_len=65536 ;;
  esac
  mkdir -p "$scratch/$target"
  echo "fuzz: $target for ${seconds}s (max_len $max_len)"
  log="$scratch/$target.log"
  status=0
  cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz: $target crashed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
