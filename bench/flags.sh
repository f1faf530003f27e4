#!/usr/bin/env bash
# Kill-switch propagation: N stream subscribers (default 1000), FLIPS flag flips (default 5);
# for each subscriber, the time from the flip's API call to reading the change. Loopback only.
# Usage: bench/flags.sh [SUBSCRIBERS] [FLIPS]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p backstop-flags-client --examples
./target/release/examples/propagation "${1:-1000}" "${2:-5}"
