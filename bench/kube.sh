#!/usr/bin/env bash
# Kubernetes benchmark, on a real API server and controller manager on loopback (the test
# control plane of backstop-kube's `testbed`, built once by scripts/kube-testbed.sh):
#   backstop release time, backstop undo to a warm revision (CLI start to the Service's endpoints
#   holding only the old pods), and `kubectl rollout undo` of a plain Deployment with the same
#   template (CLI start to its new ReplicaSet available), medians of ROUNDS.
# Usage: bench/kube.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
scripts/kube-testbed.sh >/dev/null
cargo build --release -q -p backstop-cli
cargo run --release -q -p backstop-cli --example kube_undo_bench -- "$PWD/target/release/backstop" "$ROUNDS"
