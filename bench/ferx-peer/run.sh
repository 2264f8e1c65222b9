#!/usr/bin/env bash
# Side-by-side FOCE-I: mgiv-fit vs ferx-core (MIT) on the same simulated data set, one run.
# Not part of CI. Usage: ./run.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")"
cargo run --release -q -- "$@"
