#!/usr/bin/env bash
# Brian2 vs mgiv on the same machine, in one run (issue 5; results go to BENCHMARKS.md, "Spiking networks").
#
#   bash bench/neuro/run_all.sh            # everything (about 15 min on a 2-core VM)
#   QUICK=1 bash bench/neuro/run_all.sh    # one seed, no 100k network
#   ONLY=sparse bash bench/neuro/run_all.sh        # only the 1000-neuron sparse network (sat + lin)
#   ONLY=sparse-sat bash bench/neuro/run_all.sh    # only its saturating-NMDA variant
#   ONLY=wang bash bench/neuro/run_all.sh          # only the Wang (2002) decision network
#   ONLY=big bash bench/neuro/run_all.sh           # only the 100k-neuron network (mgiv, 1 and N threads)
#   MGIV_BIN=dir ...                                # use prebuilt mgiv examples from dir (no cargo build)
#   MGIV_BIN_BASE=dir ...                           # also run the Wang network with the examples in dir
#                                                   # (e.g. a build of an earlier commit: scenario "wang2002-base")
#   NO_MT=1 ...                                     # skip the multi-thread runs
#   OUT=target-bench/neuro/run-3 ...                # results directory (default target-bench/neuro)
#
# For the saturating sparse network mgiv is also run with the per-step direct NMDA gather
# (MGIV_NMDA_SUM=direct; scenario "sparse-sat-direct", same results, the pre-blocking cost).
#
# Times are simulation-loop times only: Brian2's device._last_run_time (cpp_standalone, after code
# generation and compilation) and mgiv's wall_s (after building the network). Both engines run the
# same model, dt 0.1 ms, forward Euler.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ENV="${BENCH_ENV:-$ROOT/bench-env}"
OUT="${OUT:-$ROOT/target-bench/neuro}"
ONLY="${ONLY:-}"
mkdir -p "$OUT"
RES="$OUT/results.jsonl"
: > "$RES"
[ -x "$ENV/bin/python" ] || bash bench/neuro/setup_env.sh
PY="$ENV/bin/python"
NPROC="$(nproc)"
SEEDS="${SEEDS:-1 2 3}"
[ -n "${QUICK:-}" ] && SEEDS="1"

if [ -n "${MGIV_BIN:-}" ]; then
  BIN="$MGIV_BIN"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target-neuro}"
  cargo build --release -p mgiv-neuro --examples >&2
  BIN="$CARGO_TARGET_DIR/release/examples"
fi

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $NPROC CPU(s); load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"

mgiv_decision() { # threads seed [bin dir]
  "${3:-$BIN}/decision" 1.0 4 1 "$1" "$2" | tail -1 | awk -v t="$1" '{printf "{\"engine\":\"mgiv\",\"scenario\":\"wang2002\",\"threads\":%s,\"seed\":%s,\"rate_e_hz\":%s,\"rate_i_hz\":%s,\"pop_spikes\":[%s,%s],\"winner\":\"%s\",\"run_s\":%s}\n",t,$3,$5,$6,$7,$8,$11,$12}'
}
mgiv_sparse() { # ne ni p seconds threads nmda seed
  "$BIN/sparse" "$1" "$2" "$3" "$4" "$5" "$6" 1.0 "$7" | sed -E -e 's/nmda=Saturating/nmda=sat/' -e 's/nmda=Linear/nmda=lin/' | sed -E 's/.*n=([0-9]+) synapses=([0-9]+) nmda=([A-Za-z]+) threads=([0-9]+) seed=([0-9]+) build_s=([0-9.]+) run_s=([0-9.]+) rate_e_hz=([0-9.]+) rate_i_hz=([0-9.]+).*/{"engine":"mgiv","scenario":"sparse-\3","n_neurons":\1,"n_synapses":\2,"threads":\4,"seed":\5,"build_s":\6,"run_s":\7,"rate_e_hz":\8,"rate_i_hz":\9}/'
}

if [ -z "$ONLY" ] || [ "$ONLY" = wang ]; then
echo "== Wang 2002 decision network, 1.0 mM, 4 s ==" >&2
for s in $SEEDS; do
  echo "$(date +%T) wang seed $s load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"
  "$PY" bench/neuro/wang2002_brian2.py --mg 1.0 --seconds 4 --seed "$s" --threads 1 --dir "$OUT/b2_wang_1" 2>/dev/null | grep '^{' >> "$RES"
  mgiv_decision 1 "$s" >> "$RES"
  if [ -n "${MGIV_BIN_BASE:-}" ]; then
    mgiv_decision 1 "$s" "$MGIV_BIN_BASE" | sed 's/"wang2002"/"wang2002-base"/' >> "$RES"
  fi
done
# mgiv with AMPA/GABA delivered synapse by synapse (4.0 M stored all-to-all synapses, as Brian2 does)
for s in $SEEDS; do
  MGIV_PER_SYNAPSE=1 mgiv_decision 1 "$s" | sed 's/"wang2002"/"wang2002-per-synapse"/' >> "$RES"
done
if [ "$NPROC" -gt 1 ] && [ -z "${NO_MT:-}" ]; then
  "$PY" bench/neuro/wang2002_brian2.py --mg 1.0 --seconds 4 --seed 1 --threads "$NPROC" --dir "$OUT/b2_wang_n" 2>/dev/null | grep '^{' >> "$RES"
  mgiv_decision "$NPROC" 1 >> "$RES"
fi
fi # ONLY

echo "== sparse 800 E + 200 I, p 0.1, 1 s ==" >&2
NMS="sat lin"
[ "$ONLY" = "sparse-sat" ] && NMS="sat"
{ [ "$ONLY" = wang ] || [ "$ONLY" = big ]; } && NMS=""
for nm in $NMS; do
  for s in $SEEDS; do
    echo "$(date +%T) sparse-$nm seed $s load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"
    "$PY" bench/neuro/sparse_brian2.py --nmda "$nm" --seed "$s" --threads 1 --dir "$OUT/b2_sparse_${nm}_1" 2>/dev/null | grep '^{' >> "$RES"
    mgiv_sparse 800 200 0.1 1 1 "$nm" "$s" >> "$RES"
    if [ "$nm" = sat ]; then
      MGIV_NMDA_SUM=direct mgiv_sparse 800 200 0.1 1 1 sat "$s" | sed 's/"sparse-sat"/"sparse-sat-direct"/' >> "$RES"
    fi
  done
  if [ "$NPROC" -gt 1 ] && [ -z "${NO_MT:-}" ]; then
    "$PY" bench/neuro/sparse_brian2.py --nmda "$nm" --seed 1 --threads "$NPROC" --dir "$OUT/b2_sparse_${nm}_n" 2>/dev/null | grep '^{' >> "$RES"
    mgiv_sparse 800 200 0.1 1 "$NPROC" "$nm" 1 >> "$RES"
  fi
done

if { [ -z "${QUICK:-}" ] && [ -z "$ONLY" ]; } || [ "$ONLY" = big ]; then
  echo "== sparse 80,000 E + 20,000 I, p 0.001 (in-degree ~100 per projection), linear NMDA, 1 s ==" >&2
  for s in ${BIG_SEEDS:-1}; do
    echo "$(date +%T) big seed $s load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"
    mgiv_sparse 80000 20000 0.001 1 1 lin "$s" >> "$RES"
    echo "$(date +%T) big seed $s (N threads) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/load.txt"
    [ "$NPROC" -gt 1 ] && mgiv_sparse 80000 20000 0.001 1 "$NPROC" lin "$s" >> "$RES"
  done
  if [ -n "${BIG_BRIAN2:-}" ]; then
    "$PY" bench/neuro/sparse_brian2.py --ne 80000 --ni 20000 --p 0.001 --nmda lin --threads 1 --dir "$OUT/b2_big" 2>/dev/null | grep '^{' >> "$RES"
  fi
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
"$PY" bench/neuro/summarize.py "$RES" | tee "$OUT/summary.md"
