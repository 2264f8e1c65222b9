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
    dt_ms: float | None = None,
    pairs: int | None = None,
    hz: float | None = None,
    pulses: int | None = None,
    bursts: int | None = None,
    spikes_per_burst: int | None = None,
    burst_hz: float | None = None,
) -> dict:
    """Graupner–Brunel synaptic change (analytic readout) at each Mg (mM).

    ``protocol`` is ``"pairing"`` (``dt_ms`` = t_post − t_pre, ``pairs``, ``hz``), ``"tetanus"``
    (``hz``, ``pulses``) or ``"theta-burst"`` (``bursts``, ``spikes_per_burst``, ``burst_hz``).
    A parameter left ``None`` is the published standard protocol's, as in ``mgiv neuro
    plasticity`` (data/neuro/stimulation-protocols.toml): pairing +10 ms, 60 pairs at 1 Hz
    (Bi & Poo 1998); tetanus 100 pulses at 100 Hz (Bliss & Collingridge 1993); theta burst
    10 bursts of 4 spikes at 100 Hz, bursts at 5 Hz (Larson, Wong & Lynch 1986). A parameter of
    another protocol is an error. The result holds the values used and the protocol's name
    (``stimulation``).
    """
    mg = np.atleast_1d(np.asarray(mg_mm, dtype=float))

    def opt(x, kind):
        return None if x is None else kind(x)

    change, meta = _native.neuro_plasticity(
        [float(x) for x in mg],
        rule=rule,
        protocol=protocol,
        dt_ms=opt(dt_ms, float),
        pairs=opt(pairs, int),
        hz=opt(hz, float),
        pulses=opt(pulses, int),
        bursts=opt(bursts, int),
        spikes_per_burst=opt(spikes_per_burst, int),
        burst_hz=opt(burst_hz, float),
    )
    out = json.loads(meta)
    out.update({"mg_mm": mg, "synaptic_change": change})
    return out
