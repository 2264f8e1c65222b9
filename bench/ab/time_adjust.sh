#!/usr/bin/env bash
# Interleaved whole-process CPU time of the README's adjust command for two mgiv binaries:
#   bench/ab/time_adjust.sh BIN_A BIN_B [ROUNDS]     (perf stat -r 20 -e task-clock per set)
set -euo pipefail
A=$1; B=$2; ROUNDS=${3:-10}
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$A" "$B"; do
    t=$(perf stat -r 20 -e task-clock -x, "$bin" adjust --regimen "4 g over 20 min, then 1 g/h" \
      --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" --weight 70 --creatinine 0.8 --pre-eclampsia \
      --format json 2>&1 >/dev/null | grep task-clock | cut -d, -f1)
    echo "$r $bin $t ms"
  done
done
