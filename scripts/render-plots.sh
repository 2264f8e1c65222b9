#!/usr/bin/env bash
# Regenerate the reference plots shown in the docs (docs/img/*.png), one per plot type, from the
# documented example commands. Usage: scripts/render-plots.sh [OUT_DIR] (default docs/img).
# MGIV=path/to/mgiv uses that binary (default: the debug build, built here).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/img}"
mkdir -p "$out"
if [ -z "${MGIV:-}" ]; then
  cargo build -q -p mgiv-cli
  MGIV=target/debug/mgiv
fi
q=(--quiet)
# serum curve (simulate; the same chart is inlined in `plan --format html`)
"$MGIV" "${q[@]}" simulate --regimen "4 g over 20 min, then 1 g/h for 24 h" --weight 70 --creatinine 0.8 \
  --pre-eclampsia --hours 36 --plot "$out/simulate.png" >/dev/null
# virtual-population bands (trial)
"$MGIV" "${q[@]}" trial --regimen zuspan --regimen sibai --population pre-eclampsia \
  --n 500 --seed 1 --threads 1 --plot "$out/trial.png" >/dev/null
# Bayesian forecast from measured levels (adjust; exit 3 would mean a STOP alert)
"$MGIV" "${q[@]}" adjust --regimen "4 g over 20 min, then 1 g/h" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" \
  --weight 70 --creatinine 0.8 --pre-eclampsia --target 2.0-3.5 --plot "$out/adjust.png" >/dev/null
# serum -> CSF and the brain effects (brain)
"$MGIV" "${q[@]}" brain --regimen "4 g over 20 min, then 1 g/h for 24 h" --weight 70 --creatinine 0.8 \
  --pre-eclampsia --hours 30 --samples 40 --plot "$out/brain.png" >/dev/null
# plasticity against Mg (neuro sweep)
"$MGIV" "${q[@]}" neuro sweep plasticity --mg 0.6:2.0:0.2 --plot "$out/neuro-sweep.png" >/dev/null
# the serum curve on clock time (global --start)
"$MGIV" "${q[@]}" --start 08:30 simulate --regimen "4 g over 20 min, then 1 g/h for 24 h" --weight 70 \
  --creatinine 0.8 --pre-eclampsia --hours 36 --plot "$out/simulate-clock.png" >/dev/null
# the decision network's spikes and rates (neuro decision --raster)
"$MGIV" "${q[@]}" neuro decision --mg 1.0 --seconds 1 --seed 1 --raster "$out/neuro-raster.png" >/dev/null
# prediction-corrected VPC of the example dataset under the estimation template's own values (vpc)
"$MGIV" "${q[@]}" vpc --data data/examples/fit/mg-sim-50.csv --model data/examples/fit/mg-2cmt-baseline.toml \
  --plot "$out/vpc.png" >/dev/null
echo "plots written to $out: $(cd "$out" && ls *.png | tr '\n' ' ')"
