#!/usr/bin/env bash
# The 20 adjust cases of the A/B checks (BENCHMARKS.md): bench/ab/adjust_cases.sh BIN OUTDIR;
# compare two output directories with bench/ab/json_diff.py DIR_A DIR_B
BIN=$1; OUT=$2; mkdir -p "$OUT"
P="--weight 70 --creatinine 0.8"
i=0
run() { i=$((i+1)); "$BIN" adjust "$@" > "$OUT/c$i.out" 2> "$OUT/c$i.err"; echo $? > "$OUT/c$i.rc"; }
R="4 g over 20 min, then 1 g/h"
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia --format json
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia --target 2.0-3.0 --format json
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia --protocol zuspan --format json
run --regimen "4 g over 20 min, then 2 g/h" --levels "3.6 mmol/L at 6 h" $P --pre-eclampsia --format json
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia --baseline "0.8 mmol/L" --format json
run --regimen "$R" --levels "2.4 mmol/L at 6 h; 3.0 mmol/L at 12 h" --weight 70 --creatinine 3.5 --pre-eclampsia --format json
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 9.0 mmol/L at 12 h" $P --pre-eclampsia --format json
run --regimen "$R" --levels "7.0 mmol/L at 6 h; 8.0 mmol/L at 12 h" $P --pre-eclampsia --format json
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia --now 14 --hours 12 --format json
run --regimen "$R" --levels "1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h" $P --pre-eclampsia --max-p-toxic 0.01 --format json
run --regimen "4 g IV over 20 min + 10 g IM, then 5 g IM every 4 h for 24 h" --levels "1.5 mmol/L at 6 h; 1.8 mmol/L at 12 h" $P --pre-eclampsia --protocol pritchard --format json
run --regimen "$R" --levels "3.4 mg/dL at 6 h; 4.6 mg/dL at 12 h" $P --pre-eclampsia --format json
run --regimen "2 g over 1 h" --levels "0.55 mmol/L at 2 h" $P --age 60 --sex m --indication hypomag-icu --format json
run --regimen "2 g over 1 h" --levels "0.55 mmol/L at 2 h" $P --age 60 --sex m --indication hypomag-ward --format json
run --regimen "4 g over 30 min, then 1 g/h" --levels "1.3 mmol/L at 6 h; 1.5 mmol/L at 24 h" $P --age 55 --sex f --indication sah --format json
run --regimen "2 g over 20 min" --levels "1.2 mmol/L at 1 h" $P --age 30 --sex f --indication asthma --format json
run --regimen "4 g over 30 min, then 1 g/h" --levels "1.2 mmol/L at 6 h; 1.4 mmol/L at 12 h" $P --age 40 --sex m --indication tbi --format json
run --regimen "4 g over 30 min, then 1 g/h" --levels "1.6 mmol/L at 6 h" $P --pregnant --indication fetal-neuroprotection --format json
run --regimen "4 g over 30 min, then 1 g/h" --levels "1.2 mmol/L at 6 h; 1.4 mmol/L at 12 h" $P --age 40 --sex m --indication tbi
