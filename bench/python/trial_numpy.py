#!/usr/bin/env python3
"""The 1 M-patient trial job of `mgiv trial --regimen zuspan --n 1000000 --hours 47`, written
as competently vectorised numpy: the peer that mgiv's population kernel is measured against
(issue 15). Not part of mgiv; no mgiv code is used.

Same job, same summaries:
- 1,000,000 virtual pre-eclampsia patients (data/populations/pre-eclampsia.toml): weight
  log-normal 90.3 ± 20.2 kg in [57, 157], SCr log-normal 0.82 ± 0.29 mg/dL in [0.4, 2.1],
  baseline normal 0.75 ± 0.13 mmol/L in [0.45, 1.2] (truncation by redrawing);
- Du 2019 two-compartment model (data/models/du-2019.toml): CL 3.72·(SCr/0.8)^-0.731·(WT/85)^0.75,
  Vc 15.4·WT/85, Q 3.66·(WT/85)^0.75, Vp 17.0·WT/85; log-normal IIV on CL (27.9 % CV, plus the
  23.9 % IOV of one course) and Vc (30 %);
- Zuspan: 4 g MgSO4·7H2O over 20 min, then 1 g/h for 24 h (MW 246.47);
- 48 hourly outputs (0-47 h), exact two-exponential solution stepped on the merged grid of output
  times and rate changes (per-subject step factors computed once per distinct step length: the
  fastest numpy formulation we found; a closed form with expm1 per breakpoint is slower);
- per output time: a 0.001 mmol/L histogram on [0, 12) mmol/L (np.bincount), percentiles
  5/25/50/75/95 by the same interpolation as mgiv's `hist_quantile`, P(1.25 ≤ C ≤ 2.5),
  P(C > 2.0 / 3.5 / 5.0);
- the peak over the grid (outputs and rate changes; mgiv also finds interior maxima exactly)
  with its histogram and P(peak > threshold), and the time to 1.25 mmol/L by linear
  interpolation on the grid (mgiv: exact root), with its histogram.

numpy's generator is PCG64 with a ziggurat normal; the draws differ from mgiv's, so summaries
agree to sampling error, not bit for bit. numpy runs on one thread (element-wise ufuncs).

Usage: python3 trial_numpy.py [N] [CHUNK]  -> prints JSON with timings and the summary.
"""
import json
import os
import resource
import sys
import time

import numpy as np

MW = 246.47
BIN = 0.001
NBINS = 12000
TTT_BINS = 4096
PCT = [0.05, 0.25, 0.50, 0.75, 0.95]


def trunc(rng, n, draw, lo, hi):
    x = draw(n)
    for _ in range(64):
        bad = (x < lo) | (x > hi)
        k = int(bad.sum())
        if k == 0:
            break
        x[bad] = draw(k)
    return np.clip(x, lo, hi)


def lognormal(rng, mean, sd):
    s2 = np.log1p((sd / mean) ** 2)
    mu, sig = np.log(mean) - 0.5 * s2, np.sqrt(s2)
    return lambda n: np.exp(mu + sig * rng.standard_normal(n))


def hist_quantile(h, n, p, w, overflow):
    rank = p * (n - 1)
    cum = np.cumsum(h)
    b = int(np.searchsorted(cum, rank, side="right"))
    if b >= len(h) - 1:
        return float(overflow)
    before = cum[b] - h[b]
    return float((b + (rank - before + 0.5) / h[b]) * w)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    seed = 1
    times = np.arange(48, dtype=float)
    lo, hi = 1.25, 2.5
    ths = [2.0, 3.5, 5.0]
    # rate changes: 12 g/h for 1/3 h, then 1 g/h to 24⅓ h
    load = 4.0 * 1000 / MW / (1 / 3)
    maint = 1.0 * 1000 / MW
    grid = np.unique(np.concatenate([times, [1 / 3, 24 + 1 / 3]]))
    grid = grid[grid <= times[-1]]
    rate = np.where(grid[:-1] < 1 / 3 - 1e-12, load, np.where(grid[:-1] < 24 + 1 / 3 - 1e-12, maint, 0.0))
    steps = np.diff(grid)
    hs, hidx = np.unique(np.round(steps, 12), return_inverse=True)
    out_at = np.searchsorted(grid, times)

    t0 = time.perf_counter()
    c0 = time.process_time()
    rng = np.random.Generator(np.random.PCG64(seed))
    hist = np.zeros(len(times) * NBINS, dtype=np.int64)
    counts = np.zeros((len(times), 1 + len(ths)), dtype=np.int64)
    vmax = np.full(len(times), -np.inf)
    peak_hist = np.zeros(NBINS, dtype=np.int64)
    peak_counts = np.zeros(len(ths), dtype=np.int64)
    peak_max = -np.inf
    ttt_hist = np.zeros(TTT_BINS, dtype=np.int64)
    reached = 0
    w_ttt = times[-1] / TTT_BINS
    offs = (np.arange(len(times)) * NBINS)[:, None]
    om_cl = np.log1p(0.279**2) + np.log1p(0.239**2)
    om_v = np.log1p(0.30**2)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        wt = trunc(rng, m, lognormal(rng, 90.3, 20.2), 57.0, 157.0)
        scr = trunc(rng, m, lognormal(rng, 0.82, 0.29), 0.4, 2.1)
        bl = trunc(rng, m, lambda k: 0.75 + 0.13 * rng.standard_normal(k), 0.45, 1.2)
        eta = rng.standard_normal((2, m))
        f = wt / 85.0
        f75 = f**0.75
        cl = 3.72 * (scr / 0.8) ** -0.731 * f75 * np.exp(np.sqrt(om_cl) * eta[0])
        v1 = 15.4 * f * np.exp(np.sqrt(om_v) * eta[1])
        q = 3.66 * f75
        v2 = 17.0 * f
        k10, k12, k21 = cl / v1, q / v1, q / v2
        s = k10 + k12 + k21
        disc = np.sqrt(np.maximum(s * s - 4 * k10 * k21, 0.0))
        al = 0.5 * (s + disc)
        be = k10 * k21 / al
        ca = (al - k21) / (al - be) / v1
        cb = (k21 - be) / (al - be) / v1
        # step factors once per distinct step length
        ea = np.exp(-np.outer(hs, al))
        eb = np.exp(-np.outer(hs, be))
        ga = -np.expm1(-np.outer(hs, al)) * (ca / al)
        gb = -np.expm1(-np.outer(hs, be)) * (cb / be)
        ma = np.zeros(m)
        mb = np.zeros(m)
        conc = np.empty((len(grid), m))
        conc[0] = bl
        for j in range(len(steps)):
            k = hidx[j]
            r = rate[j]
            ma = ma * ea[k] + r * ga[k]
            mb = mb * eb[k] + r * gb[k]
            conc[j + 1] = bl + ma + mb
        out = conc[out_at]
        # histograms and counts per output time
        b = np.clip(out * (1 / BIN), 0, NBINS - 1).astype(np.int64)
        hist += np.bincount((b + offs).ravel(), minlength=len(times) * NBINS)
        counts[:, 0] += ((out >= lo) & (out <= hi)).sum(axis=1)
        for i, t in enumerate(ths):
            counts[:, 1 + i] += (out > t).sum(axis=1)
        vmax = np.maximum(vmax, out.max(axis=1))
        # peak over the grid, time to target by interpolation on the grid
        pk = conc.max(axis=0)
        peak_hist += np.bincount(np.clip(pk * (1 / BIN), 0, NBINS - 1).astype(np.int64), minlength=NBINS)
        for i, t in enumerate(ths):
            peak_counts[i] += int((pk > t).sum())
        peak_max = max(peak_max, float(pk.max()))
        above = conc >= lo
        hit = above.any(axis=0)
        first = above.argmax(axis=0)
        j1 = first[hit]
        cs = np.arange(m)[hit]
        j0 = np.maximum(j1 - 1, 0)
        ca0, ca1 = conc[j0, cs], conc[j1, cs]
        frac = np.where(j1 > 0, (lo - ca0) / np.where(ca1 > ca0, ca1 - ca0, 1.0), 0.0)
        ttt = grid[j0] + frac * (grid[j1] - grid[j0])
        ttt_hist += np.bincount(np.clip(ttt / w_ttt, 0, TTT_BINS - 1).astype(np.int64), minlength=TTT_BINS)
        reached += int(hit.sum())
    points = []
    for j, t in enumerate(times):
        h = hist[j * NBINS:(j + 1) * NBINS]
        points.append(
            {
                "time_h": float(t),
                "pct": [hist_quantile(h, n, p, BIN, vmax[j]) for p in PCT],
                "p_in_target": counts[j, 0] / n,
                "p_above": (counts[j, 1:] / n).tolist(),
            }
        )
    result = {
        "points": points,
        "peak_pct": [hist_quantile(peak_hist, n, p, BIN, peak_max) for p in PCT],
        "p_cmax_above": (peak_counts / n).tolist(),
        "p_reach_target": reached / n,
        "ttt_pct": [hist_quantile(ttt_hist, reached, p, w_ttt, times[-1]) for p in PCT],
    }
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(
        json.dumps(
            {
                "engine": f"numpy {np.__version__}",
                "n": n,
                "chunk": chunk,
                "wall_s": wall,
                "cpu_s": cpu,
                "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "loadavg": os.getloadavg(),
                "result": result,
            }
        )
    )


if __name__ == "__main__":
    main()
