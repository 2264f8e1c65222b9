"""Distributed virtual trials on Ray.

The virtual population is split by subject index into ``shards`` contiguous ranges; each shard
runs as a Ray task (``mgiv._native.trial_shard``) and returns its streaming summary (integer
histograms and counters, exact); the driver merges them. Because the merge is exact and every
subject's random draws depend only on (seed, subject index), the result equals
:func:`mgiv.trial` for the same seed, bit for bit, whatever the number of shards or workers.

Works on a local Ray (``ray.init()``) or any Ray cluster (``ray.init(address=...)`` before the
call). Per-subject rows can be written as one Parquet file per shard.
"""

from __future__ import annotations

import json
import os
from typing import Optional, Sequence

import pandas as pd

from . import _native

# one shard is one native run; keep it within the single-run limit
_MAX_SHARD = 20_000_000


def _ray():
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("mgiv.distributed needs Ray: pip install 'mgiv[ray]'") from e
    if not ray.is_initialized():
        ray.init()
    return ray


def _shard(spec: str, start: int, end: int, parquet_dir: Optional[str], labels: Sequence[str], k: int):
    from mgiv import _native as native  # imported in the worker

    acc = native.trial_shard(spec, start, end)
    if parquet_dir is not None:
        import pyarrow.parquet as pq

        from mgiv import _per_subject_table

        table = _per_subject_table(spec, start, end, labels)
        pq.write_table(table, os.path.join(parquet_dir, f"part-{k:05d}.parquet"))
    return acc


def _submit(ray, spec: str, n: int, shards: int, parquet_dir: Optional[str], num_cpus: float):
    from mgiv import _ranges

    labels = [r["label"] for r in json.loads(spec)["regimens"]]
    task = ray.remote(num_cpus=num_cpus)(_shard)
    ranges = _ranges(n, shards)
    if any(b - a > _MAX_SHARD for a, b in ranges):
        raise _native.MgivError(
            f"invalid shards: {shards} (allowed: enough shards that each has at most {_MAX_SHARD} subjects)"
        )
    if parquet_dir is not None:
        os.makedirs(parquet_dir, exist_ok=True)
    spec_ref = ray.put(spec)
    return [task.remote(spec_ref, a, b, parquet_dir, labels, k) for k, (a, b) in enumerate(ranges)]


def trial(
    regimens: Sequence[str] | str,
    *,
    n: int,
    seed: int,
    shards: int,
    population: Optional[str] = None,
    indication: Optional[str] = None,
    model: Optional[str] = None,
    times_h: Optional[Sequence[float]] = None,
    hours: Optional[float] = None,
    target_mmol_l: Optional[tuple] = None,
    per_subject_parquet: Optional[str] = None,
    num_cpus_per_task: float = 1,
):
    """:func:`mgiv.trial` sharded over Ray tasks; returns the same ``(long, peaks)`` frames.

    ``per_subject_parquet``: a folder for one Parquet file of per-subject rows per shard.
    """
    from mgiv import trial_frames, trial_spec

    ray = _ray()
    spec = trial_spec(
        regimens,
        n=n,
        seed=seed,
        population=population,
        indication=indication,
        model=model,
        times_h=times_h,
        hours=hours,
        target_mmol_l=target_mmol_l,
        max_subjects=max(int(n), 1),
    )
    refs = _submit(ray, spec, int(n), int(shards), per_subject_parquet, num_cpus_per_task)
    result = json.loads(_native.trial_summarise(spec, ray.get(refs)))
    return trial_frames(result)


def sweep(
    regimens: Sequence[str],
    *,
    populations: Sequence[str],
    n: int,
    seed: int,
    shards: int,
    indication: Optional[str] = None,
    times_h: Optional[Sequence[float]] = None,
    hours: Optional[float] = None,
    num_cpus_per_task: float = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Many regimens × populations in one call: every shard of every population is submitted at
    once; returns the long and peak frames with a ``population`` column."""
    from mgiv import trial_frames, trial_spec

    ray = _ray()
    jobs = []
    for pop in populations:
        spec = trial_spec(
            regimens,
            n=n,
            seed=seed,
            population=pop,
            indication=indication,
            times_h=times_h,
            hours=hours,
            max_subjects=max(int(n), 1),
        )
        jobs.append((pop, spec, _submit(ray, spec, int(n), int(shards), None, num_cpus_per_task)))
    longs, peaks = [], []
    for pop, spec, refs in jobs:
        long, peak = trial_frames(json.loads(_native.trial_summarise(spec, ray.get(refs))))
        long.insert(0, "population", pop)
        peak.insert(0, "population", pop)
        longs.append(long)
        peaks.append(peak)
    return pd.concat(longs, ignore_index=True), pd.concat(peaks, ignore_index=True)
