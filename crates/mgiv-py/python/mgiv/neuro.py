"""Spiking networks and plasticity driven by magnesium (``mgiv neuro``)."""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from . import _native


def decision(mg_mm: float, seconds: float, seed: int, *, threads: int = 1) -> dict:
    """Wang 2002 decision network at extracellular Mg ``mg_mm`` (mM) for ``seconds``.

    Returns ``rates_hz`` (4 × bins: selective 1, selective 2, non-selective E, inhibitory),
    ``rate_bin_ms``, ``spike_t_ms`` and ``spike_neuron`` (selective populations) as numpy arrays,
    and the summary (mean E and I rates, winner) with the model's provenance.
    """
    rates, bin_ms, t, i, meta = _native.neuro_decision(float(mg_mm), float(seconds), int(seed), int(threads))
    out = json.loads(meta)
    out.update({"rates_hz": rates, "rate_bin_ms": bin_ms, "spike_t_ms": t, "spike_neuron": i})
    return out


def plasticity(
    mg_mm: float | Sequence[float],
    *,
    rule: str = "gb-dp",
    protocol: str = "pairing",
    dt_ms: float = 10.0,
    pairs: int = 60,
    hz: float | None = None,
) -> dict:
    """Graupner–Brunel synaptic change (analytic readout) at each Mg (mM)."""
    mg = np.atleast_1d(np.asarray(mg_mm, dtype=float))
    change, meta = _native.neuro_plasticity(
        [float(x) for x in mg], rule=rule, protocol=protocol, dt_ms=float(dt_ms), pairs=int(pairs), hz=hz
    )
    out = json.loads(meta)
    out.update({"mg_mm": mg, "synaptic_change": change})
    return out
