"""mgiv: intravenous magnesium from the bag to the brain.

The Python face of the mgiv Rust libraries. Every function calls the same library code as the
``mgiv`` command line (no logic of its own here: this module only shapes the results into pandas
DataFrames and dicts). Units are in the names: ``weight_kg``, ``creatinine_mg_dl``,
``baseline_mmol_l``, ``time_h``, ``serum_mg_mmol_l``; "g" in a regimen means grams of
MgSO4·7H2O unless another salt is named.

Errors are :class:`MgivError` (a ``ValueError``) with the library's message, which names the
field, the value and what is allowed.

>>> import mgiv
>>> df = mgiv.simulate("4 g over 20 min, then 1 g/h for 24 h", weight_kg=70,
...                    creatinine_mg_dl=0.8, pre_eclampsia=True)
>>> df.attrs["model"]["id"]
'du-2019'
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from . import _native
from ._native import MgivError
from . import neuro  # noqa: F401  (mgiv.neuro.decision, mgiv.neuro.plasticity)

__version__ = _native.__version__
__all__ = [
    "MgivError",
    "simulate",
    "plan",
    "adjust",
    "brain",
    "trial",
    "trial_spec",
    "neuro",
    "distributed",
]

# subjects per native call in `trial`: the GIL is released inside each call and Ctrl-C is
# honoured between calls; the shards merge exactly, so the chunk size never changes the result
_TRIAL_CHUNK = 262_144


def simulate(
    regimen: str,
    *,
    weight_kg: Optional[float] = None,
    creatinine_mg_dl: Optional[float] = None,
    pregnant: bool = False,
    pre_eclampsia: bool = False,
    baseline_mmol_l: Optional[float] = None,
    model: Optional[str] = None,
    times_h: Optional[Sequence[float]] = None,
    indication: Optional[str] = None,
    age_y: Optional[float] = None,
    sex: Optional[str] = None,
    crcl_ml_min: Optional[float] = None,
) -> pd.DataFrame:
    """Predict total serum Mg for one patient (``mgiv simulate``).

    Returns a DataFrame with columns ``time_h`` and ``serum_mg_mmol_l``; ``df.attrs`` holds the
    model (id, citation, evidence, why it was chosen), the clinical context, the peak and every
    warning (each a dict with ``code``, ``message`` and ``source``).
    """
    t, c, meta = _native.simulate(
        regimen,
        weight_kg=weight_kg,
        creatinine_mg_dl=creatinine_mg_dl,
        pregnant=pregnant,
        pre_eclampsia=pre_eclampsia,
        baseline_mmol_l=baseline_mmol_l,
        model=model,
        times_h=None if times_h is None else [float(x) for x in times_h],
        indication=indication,
        age_y=age_y,
        sex=sex,
        crcl_ml_min=crcl_ml_min,
    )
    df = pd.DataFrame({"time_h": t, "serum_mg_mmol_l": c})
    m = json.loads(meta)
    df.attrs.update(m)
    df.attrs["citation"] = m["model"]["citation"]
    df.attrs["evidence"] = m["model"]["evidence"]
    return df


def plan(
    *,
    regimen: Optional[str] = None,
    protocol: Optional[str] = None,
    indication: Optional[str] = None,
    weight_kg: Optional[float] = None,
    creatinine_mg_dl: Optional[float] = None,
    pregnant: bool = False,
    pre_eclampsia: bool = False,
    baseline_mmol_l: Optional[float] = None,
    model: Optional[str] = None,
    age_y: Optional[float] = None,
    sex: Optional[str] = None,
    crcl_ml_min: Optional[float] = None,
    conditions: Optional[str] = None,
    medications: Optional[str] = None,
    bag: Optional[str] = None,
    hours: Optional[float] = None,
) -> dict:
    """A bedside plan (``mgiv plan``): pump settings (``phases``), totals, predicted levels,
    ``alerts`` (severity, code, title, message, source), monitoring and what to do for toxicity.

    ``result["stop"]`` is True when any alert is a STOP (the CLI exits 3 then).
    """
    return json.loads(
        _native.plan(
            regimen=regimen,
            protocol=protocol,
            indication=indication,
            weight_kg=weight_kg,
            creatinine_mg_dl=creatinine_mg_dl,
            pregnant=pregnant,
            pre_eclampsia=pre_eclampsia,
            baseline_mmol_l=baseline_mmol_l,
            model=model,
            age_y=age_y,
            sex=sex,
            crcl_ml_min=crcl_ml_min,
            conditions=conditions,
            medications=medications,
            bag=bag,
            hours=hours,
        )
    )


def adjust(
    regimen: str,
    levels: str,
    *,
    indication: Optional[str] = None,
    protocol: Optional[str] = None,
    weight_kg: Optional[float] = None,
    creatinine_mg_dl: Optional[float] = None,
    pregnant: bool = False,
    pre_eclampsia: bool = False,
    baseline_mmol_l: Optional[float] = None,
    model: Optional[str] = None,
    age_y: Optional[float] = None,
    sex: Optional[str] = None,
    crcl_ml_min: Optional[float] = None,
    now_h: Optional[float] = None,
    hours: Optional[float] = None,
    max_p_toxic: Optional[float] = None,
    allow_maintenance: bool = False,
    bag: Optional[str] = None,
    conditions: Optional[str] = None,
) -> dict:
    """Bayesian dose adjustment behind the safety engine (``mgiv adjust``).

    ``levels`` carry their unit: ``"1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h"``. A toxic measured
    level gives ``result["recommendation"]["action"] == "hold"`` and ``result["stop"]``.
    ``hours`` (the horizon after the decision) and ``max_p_toxic`` (the largest acceptable
    probability of a toxic level in it) default to mgiv's decision defaults, 24 h and 0.05, the
    same constants as ``mgiv adjust`` and the web service.
    """
    return json.loads(
        _native.adjust(
            regimen,
            levels,
            indication=indication,
            protocol=protocol,
            weight_kg=weight_kg,
            creatinine_mg_dl=creatinine_mg_dl,
            pregnant=pregnant,
            pre_eclampsia=pre_eclampsia,
            baseline_mmol_l=baseline_mmol_l,
            model=model,
            age_y=age_y,
            sex=sex,
            crcl_ml_min=crcl_ml_min,
            now_h=now_h,
            hours=hours,
            max_p_toxic=max_p_toxic,
            allow_maintenance=allow_maintenance,
            bag=bag,
            conditions=conditions,
        )
    )


def brain(
    regimen: str,
    *,
    weight_kg: Optional[float] = None,
    creatinine_mg_dl: Optional[float] = None,
    pregnant: bool = False,
    pre_eclampsia: bool = False,
    baseline_mmol_l: Optional[float] = None,
    model: Optional[str] = None,
    times_h: Optional[Sequence[float]] = None,
    indication: Optional[str] = None,
    age_y: Optional[float] = None,
    sex: Optional[str] = None,
    samples: int = 400,
    seed: int = 1,
) -> dict:
    """Serum → CSF Mg and the four claimed brain effects with evidence grades (``mgiv brain``)."""
    return json.loads(
        _native.brain(
            regimen,
            weight_kg=weight_kg,
            creatinine_mg_dl=creatinine_mg_dl,
            pregnant=pregnant,
            pre_eclampsia=pre_eclampsia,
            baseline_mmol_l=baseline_mmol_l,
            model=model,
            times_h=None if times_h is None else [float(x) for x in times_h],
            indication=indication,
            age_y=age_y,
            sex=sex,
            samples=samples,
            seed=seed,
        )
    )


def trial_spec(
    regimens: Sequence[str] | str,
    *,
    n: int,
    seed: int,
    population: Optional[str] = None,
    indication: Optional[str] = None,
    model: Optional[str] = None,
    times_h: Optional[Sequence[float]] = None,
    hours: Optional[float] = None,
    target_mmol_l: Optional[tuple] = None,
    max_subjects: Optional[int] = None,
) -> str:
    """The trial set up on the clinical context, as JSON (what a distributed worker receives)."""
    if isinstance(regimens, str):
        regimens = [regimens]
    return _native.trial_prepare(
        list(regimens),
        n=int(n),
        seed=int(seed),
        population=population,
        indication=indication,
        model=model,
        times_h=None if times_h is None else [float(x) for x in times_h],
        hours=hours,
        target_mmol_l=None if target_mmol_l is None else (float(target_mmol_l[0]), float(target_mmol_l[1])),
        max_subjects=max_subjects,
    )


def _ranges(n: int, k: int):
    k = max(1, min(k, max(n, 1)))
    return [(n * i // k, n * (i + 1) // k) for i in range(k)]


def trial_frames(result: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long percentile table and the per-regimen peak summary of a trial result."""
    th = result["thresholds_mmol_l"]
    rows = []
    for g in result["regimens"]:
        for p in g["points"]:
            row = {
                "regimen": g["label"],
                "time_h": p["time_h"],
                "p05": p["p05_mmol_l"],
                "p25": p["p25_mmol_l"],
                "p50": p["p50_mmol_l"],
                "p75": p["p75_mmol_l"],
                "p95": p["p95_mmol_l"],
                "p_in_target": p["p_in_target"],
            }
            for t, pa in zip(th, p["p_above"]):
                row[f"p_above_{t:.1f}".replace(".", "_")] = pa
            rows.append(row)
    long = pd.DataFrame(rows)
    peaks = []
    for g in result["regimens"]:
        pk = g["peak_percentiles_mmol_l"]
        row = {
            "regimen": g["label"],
            "canonical": g["canonical"],
            "cmax_p05": pk[0],
            "cmax_p25": pk[1],
            "cmax_p50": pk[2],
            "cmax_p75": pk[3],
            "cmax_p95": pk[4],
            "p_reach_target": g["p_reach_target"],
        }
        for t, pa in zip(th, g["p_cmax_above"]):
            row[f"p_cmax_above_{t:.1f}".replace(".", "_")] = pa
        peaks.append(row)
    peak = pd.DataFrame(peaks)
    for df in (long, peak):
        df.attrs.update({k: v for k, v in result.items() if k != "regimens"})
    return long, peak


def _per_subject_table(spec: str, start: int, end: int, labels: Sequence[str]):
    import pyarrow as pa

    cols = _native.trial_per_subject(spec, start, end)
    # numpy → Arrow without copying (primitive columns, no nulls; NaN = target not reached)
    arrays = {k: pa.array(v) for k, v in cols.items()}
    arrays["regimen"] = pa.DictionaryArray.from_arrays(
        pa.array(cols["regimen"].astype(np.int32)), pa.array(list(labels))
    )
    return pa.table(arrays)


def trial(
    regimens: Sequence[str] | str,
    *,
    population: Optional[str] = None,
    n: int,
    seed: int,
    times_h: Optional[Sequence[float]] = None,
    indication: Optional[str] = None,
    model: Optional[str] = None,
    hours: Optional[float] = None,
    target_mmol_l: Optional[tuple] = None,
    per_subject: bool = False,
):
    """A virtual-population trial (``mgiv trial``) in this process.

    Returns ``(long, peaks)``: a long DataFrame (``regimen``, ``time_h``, ``p05``…``p95``,
    ``p_in_target``, ``p_above_2_0``, ``p_above_3_5``, ``p_above_5_0``) and the per-regimen peak
    summary; with ``per_subject=True`` also a pyarrow Table with one row per subject and regimen.
    The same seed gives the same result on any number of threads, chunks or shards
    (see :func:`mgiv.distributed.trial`).
    """
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
    )
    shards = [
        _native.trial_shard(spec, a, b)
        for a, b in _ranges(int(n), max(1, -(-int(n) // _TRIAL_CHUNK)))
    ]
    result = json.loads(_native.trial_summarise(spec, shards))
    long, peaks = trial_frames(result)
    if per_subject:
        labels = [g["label"] for g in result["regimens"]]
        return long, peaks, _per_subject_table(spec, 0, int(n), labels)
    return long, peaks


from . import distributed  # noqa: E402,F401
