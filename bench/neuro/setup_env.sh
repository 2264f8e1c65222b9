#!/usr/bin/env bash
# Create the Python environment for the Brian2 comparison (issue 5, BENCHMARKS.md, "Spiking networks").
# The venv lives in bench-env/ at the repository root (gitignored). Brian2 is used only as an
# external benchmark peer; nothing from it is linked into mgiv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ENV="${BENCH_ENV:-$ROOT/bench-env}"
if [ ! -x "$ENV/bin/python" ]; then
  python3 -m venv "$ENV"
fi
"$ENV/bin/python" -m pip install --quiet --upgrade pip
# Brian2 2.9.0 wraps ndarray.ptp at import, which NumPy 2.4 removed (brain.md §8.3).
# Every package pinned to the versions of the measured runs (pip freeze --all of the bench env).
"$ENV/bin/python" -m pip install --quiet -r "$ROOT/bench/neuro/requirements-brian2.txt"
"$ENV/bin/python" -c "import brian2, numpy; print('brian2', brian2.__version__, 'numpy', numpy.__version__)"
