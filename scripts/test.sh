#!/usr/bin/env bash
# The README's test command: every test of every crate, the README's first command, and the
# Python package (built with maturin from crates/mgiv-py, tested with pytest on a local Ray).
# MGIV_SKIP_PYTHON=1 skips the Python part (for a quick local run; CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
# the optional Parquet writer of `mgiv trial` (feature `parquet`, off by default)
cargo test -p mgiv-cli --features parquet --test trial_parquet
# the README's first command must run and show a real curve
cargo run -q -p mgiv-cli -- simulate --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["model"]["id"] and len(d["points"])>10; print("README example OK:", d["model"]["id"], len(d["points"]), "points")'
# the web service on PostgreSQL, crash safety and the browser test (MGIV_SKIP_SERVER=1 skips)
if [ "${MGIV_SKIP_SERVER:-0}" != "1" ]; then
  ./scripts/server-checks.sh
fi
if [ "${MGIV_SKIP_PYTHON:-0}" != "1" ]; then
  echo "== Python package (pip install ./crates/mgiv-py, pytest, example on Ray)"
  python3 -m pip install -q --disable-pip-version-check -r crates/mgiv-py/requirements-test.txt
  python3 -m pip install -q --disable-pip-version-check ./crates/mgiv-py
  cargo build -q -p mgiv-cli
  MGIV_BIN="$PWD/target/debug/mgiv" python3 -m pytest -q crates/mgiv-py/tests
  MGIV_EXAMPLE_N=20000 MGIV_EXAMPLE_OUT="${TMPDIR:-/tmp}/mgiv-compare-regimens.png" \
    python3 examples/python/compare_regimens.py
fi
