#!/usr/bin/env bash
# Side-by-side benchmark of mgiv-pop and pharmsol on the same 1000-subject 2-compartment job,
# in one run (single thread each). Not part of CI. Needs network access the first time.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --release -q -- "$@"
