#!/usr/bin/env bash
# mgiv's 1 M-patient trial (1 and 2 threads) against the same job in vectorised numpy
# (bench/python/trial_numpy.py), interleaved in one run, with wall and CPU times, the load
# average before each run, and the ratios of medians. Issue 15.
#
#   bash bench/python/trial_vs_numpy.sh [REPEATS] [N]
#
# Needs a release build (cargo build --release -p mgiv-cli) and numpy
# (pip install -r bench/python/requirements-trial.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-3}
N=${2:-1000000}
MGIV=${MGIV:-target/release/mgiv}
PY=${PYTHON:-python3}
OUT=$(mktemp -d)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "numpy: $($PY -c 'import numpy; print(numpy.__version__)'), mgiv: $($MGIV --version 2>/dev/null || echo '?')"
echo "job: $N virtual patients x 48 hourly outputs (zuspan, du-2019, pre-eclampsia) + percentiles, P(in target), P(> 2.0/3.5/5.0), peak, time to target"
printf '%-10s %-5s %9s %9s %s\n' engine run wall_s cpu_s "loadavg before"
for r in $(seq 1 "$REPEATS"); do
  for eng in mgiv1 mgiv2 numpy; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    case $eng in
      mgiv1 | mgiv2)
        th=${eng#mgiv}
        /usr/bin/time -f '%e %U %S' -o "$OUT/t" "$MGIV" trial --regimen zuspan --n "$N" --seed 1 \
          --hours 47 --threads "$th" --format json --out "$OUT/$eng.json" >/dev/null 2>&1
        read -r wall u s <"$OUT/t"
        cpu=$(echo "$u + $s" | bc)
        ;;
      numpy)
        /usr/bin/time -f '%e %U %S' -o "$OUT/t" $PY bench/python/trial_numpy.py "$N" 25000 >"$OUT/numpy.json"
        read -r wall u s <"$OUT/t"
        cpu=$(echo "$u + $s" | bc)
        ;;
    esac
    printf '%-10s %-5s %9s %9s %s\n' "$eng" "$r" "$wall" "$cpu" "$load"
    echo "$eng $wall $cpu" >>"$OUT/all"
  done
done
$PY - "$OUT/all" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for eng in ("mgiv1", "mgiv2", "numpy"):
    w = [float(r[1]) for r in rows if r[0] == eng]
    c = [float(r[2]) for r in rows if r[0] == eng]
    med[eng] = (statistics.median(w), min(w), statistics.median(c), min(c))
    print(f"{eng:6s} wall median {med[eng][0]:.3f} s (min {med[eng][1]:.3f}), CPU median {med[eng][2]:.3f} s (min {med[eng][3]:.3f})")
n, m1, m2 = med["numpy"], med["mgiv1"], med["mgiv2"]
print(f"numpy / mgiv 1 thread: wall {n[0]/m1[0]:.2f}x (medians), {n[1]/m1[1]:.2f}x (minima); CPU {n[2]/m1[2]:.2f}x (medians), {n[3]/m1[3]:.2f}x (minima)")
print(f"numpy / mgiv 2 threads: wall {n[0]/m2[0]:.2f}x (medians), {n[1]/m2[1]:.2f}x (minima)")
EOF
echo "process start-up and JSON output are included in both (whole commands); the summaries agree to sampling error:"
$PY - "$OUT/mgiv1.json" "$OUT/numpy.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["regimens"][0]
p = json.load(open(sys.argv[2]))["result"]
for j in (1, 24, 47):
    a = m["points"][j]
    b = p["points"][j]
    print(f"  t={j:2d} h  median mgiv {a['p50']:.3f} numpy {b['pct'][2]:.3f} mmol/L; P(in target) mgiv {a['p_in_target']:.4f} numpy {b['p_in_target']:.4f}")
EOF
rm -rf "$OUT"
