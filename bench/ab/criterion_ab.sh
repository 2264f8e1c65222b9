#!/usr/bin/env bash
# Every criterion bench of mgiv-core (simulate), mgiv-pop (pop) and mgiv-neuro (neuro) for two
# builds, alternated. Build each commit's benches in its own target directory
# (`cargo bench -p mgiv-core --bench simulate --no-run`, ...) and copy the three binaries to
# DIR/simulate, DIR/pop, DIR/neuro; then
#   bench/ab/criterion_ab.sh DIR_A DIR_B [ROUNDS]
set -euo pipefail
A=$1; B=$2; ROUNDS=${3:-3}
for r in $(seq 1 "$ROUNDS"); do
  for d in "$A" "$B"; do
    for bin in simulate pop neuro; do
      "$d/$bin" --bench --warm-up-time 2 --measurement-time 5 2>&1 |
        awk -v r="$r" -v d="$d" '/^[a-zA-Z].*\/|^[a-z].*:|^adjust/{name=$0} /time:/{sub(/^ *time: */,""); print r, d, name, $0; fflush()}'
    done
  done
done
