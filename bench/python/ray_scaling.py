"""Ray overhead and sharded scaling of mgiv's virtual trials (BENCHMARKS.md, "Python and Ray").

    python3 bench/python/ray_scaling.py [N]          # default N = 10_000_000 patients x 3 regimens

Prints: Ray start-up; the cost of one more shard (tiny trials, K = 1 vs 32 shards); and the
N-patient, 3-regimen trial in one process (mgiv.trial, all cores) against the same trial sharded
over Ray tasks (K = 4 and 16), with the check that the results are identical.
"""

import os
import sys
import time

import pandas as pd
import ray

import mgiv

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
REG = ["zuspan", "pritchard", "6 g over 20 min, then 2 g/h for 24 h"]


def timed(f, repeat=1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
t, _ = timed(lambda: ray.init(include_dashboard=False, log_to_driver=False))
print(f"ray.init (local cluster start-up): {t:.2f} s")
mgiv.distributed.trial(REG, n=1000, seed=1, shards=2)  # warm the workers
t1, _ = timed(lambda: mgiv.distributed.trial(REG, n=1000, seed=1, shards=1), 3)
t32, _ = timed(lambda: mgiv.distributed.trial(REG, n=1000, seed=1, shards=32), 3)
print(f"tiny trial (1000 x 3): 1 shard {t1 * 1e3:.0f} ms, 32 shards {t32 * 1e3:.0f} ms -> {(t32 - t1) / 31 * 1e3:.1f} ms per extra shard")
ts, (ls, ps) = timed(lambda: mgiv.trial(REG, n=N, seed=7))
print(f"{N:,} x 3 single process (mgiv.trial, {os.cpu_count()} threads): {ts:.1f} s")
for k in (4, 16):
    tk, (lk, pk) = timed(lambda: mgiv.distributed.trial(REG, n=N, seed=7, shards=k))
    pd.testing.assert_frame_equal(lk, ls, check_exact=True)
    pd.testing.assert_frame_equal(pk, ps, check_exact=True)
    print(f"{N:,} x 3 on Ray, {k} shards: {tk:.1f} s (ratio to single process {tk / ts:.2f}); identical result")
print(f"load average after: {os.getloadavg()}")
ray.shutdown()
