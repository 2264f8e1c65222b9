#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser and file reader (cargo fuzz / libFuzzer).
#   scripts/fuzz.sh [RUNS]     default 1 000 000 executions per target
# Needs `cargo install cargo-fuzz`; libFuzzer's flags are nightly-only, so the stable toolchain is
# told to accept them with RUSTC_BOOTSTRAP=1. Seeds are in fuzz/seeds/<target>; the growing corpus
# goes to fuzz/corpus (not committed); a crash is saved in fuzz/artifacts and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-1000000}"
export RUSTC_BOOTSTRAP=1
for t in regimen_text regimen_json_toml clinical_text model_toml nonmem_dataset; do
  mkdir -p "fuzz/corpus/$t"
  cp -n fuzz/seeds/$t/* "fuzz/corpus/$t/" 2>/dev/null || true
  echo "== $t ($RUNS runs)"
  start=$(date +%s)
  cargo fuzz run -O "$t" "fuzz/corpus/$t" -- -runs="$RUNS" -max_len=4096 -timeout=10 2>&1 | grep -E "^Done|SUMMARY|panicked" 
  echo "   $(( $(date +%s) - start )) s"
done
