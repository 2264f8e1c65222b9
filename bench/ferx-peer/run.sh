#!/usr/bin/env bash
# Side-by-side FOCE-I: mgiv-fit vs ferx-core (MIT) on the same simulated data set, one run.
# Not part of CI. Usage: ./run.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")"
# the build goes to ../../target-ferx (ignored by git); ~77 min on the loaded 2-core machine
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../../target-ferx}" cargo run --release -q -- "$@"
