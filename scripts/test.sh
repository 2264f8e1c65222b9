#!/usr/bin/env bash
# The README's test command: every test of every crate, plus the README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
# the optional Parquet writer of `mgiv trial` (feature `parquet`, off by default)
cargo test -p mgiv-cli --features parquet --test trial_parquet
# the README's first command must run and show a real curve
cargo run -q -p mgiv-cli -- simulate --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["model"]["id"] and len(d["points"])>10; print("README example OK:", d["model"]["id"], len(d["points"]), "points")'
