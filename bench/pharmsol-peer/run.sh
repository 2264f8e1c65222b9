#!/usr/bin/env bash
# Side-by-side benchmark of mgiv-pop and pharmsol on the same 1000-subject 2-compartment job,
# in one run (single thread each). Not part of CI. Needs network access the first time.
# Cargo.lock pins every dependency (pharmsol 0.29.4 and its tree, locked 2026-12-01). The build
# goes to ../../target-pharmsol (ignored by git); its release build takes about 24 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../../target-pharmsol}" cargo run --release -q -- "$@"
