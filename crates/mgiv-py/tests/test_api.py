"""Every function of the Python package against the CLI's JSON for the same inputs, and its
errors. The numbers must be equal, not close: both call the same library code."""

import math

import numpy as np
import pandas as pd
import pytest

import mgiv

PE = dict(weight_kg=70.0, creatinine_mg_dl=0.8, pre_eclampsia=True)
PE_CLI = ["--weight", "70", "--creatinine", "0.8", "--pre-eclampsia"]
ZUSPAN = "4 g over 20 min, then 1 g/h for 24 h"


def test_simulate_equals_the_cli(cli):
    df = mgiv.simulate(ZUSPAN, **PE)
    assert list(df.columns) == ["time_h", "serum_mg_mmol_l"]
    v = cli("simulate", "--regimen", ZUSPAN, *PE_CLI, "--format", "json")
    assert df["time_h"].tolist() == [p["time_h"] for p in v["points"]]
    assert df["serum_mg_mmol_l"].tolist() == [p["serum_mg_mmol_l"] for p in v["points"]]
    assert df.attrs["model"]["id"] == v["model"]["id"] == "du-2019"
    assert df.attrs["citation"] == v["model"]["citation"]
    assert df.attrs["evidence"] == v["model"]["evidence"]
    assert df.attrs["context"]["indication"]["id"] == "pre-eclampsia"
    assert df.attrs["warnings"], "warnings travel with the data"
    # typed warnings: the simulation's codes as the CLI's (the CLI adds the context's CTX-* notes,
    # which Python keeps in attrs["context"]), each with a message and a source
    cli_codes = [w["code"] for w in v["warnings"] if not w["code"].startswith("CTX-")]
    assert [w["code"] for w in df.attrs["warnings"]] == cli_codes == ["BASELINE-NOT-MEASURED"]
    for w in df.attrs["warnings"]:
        assert set(w) == {"code", "message", "source"} and w["code"] and w["message"] and w["source"]
    # explicit times
    df2 = mgiv.simulate(ZUSPAN, **PE, times_h=[0, 0.5, 6])
    v2 = cli("simulate", "--regimen", ZUSPAN, *PE_CLI, "--at", "0,0.5,6", "--format", "json")
    assert df2["serum_mg_mmol_l"].tolist() == [p["serum_mg_mmol_l"] for p in v2["points"]]


def test_plan_equals_the_cli(cli):
    p = mgiv.plan(protocol="zuspan", age_y=30.0, **PE)
    v = cli("plan", "--protocol", "zuspan", "--age", "30", *PE_CLI, "--format", "json")
    assert [a["code"] for a in p["alerts"]] == [a["code"] for a in v["alerts"]]
    assert [a["severity"] for a in p["alerts"]] == [a["severity"] for a in v["alerts"]]
    assert [ph["pump_ml_per_h"] for ph in p["phases"]] == [ph["pump_ml_per_h"] for ph in v["phases"]]
    assert p["phases"][1]["pump_ml_per_h"] == 12.5
    assert p["summary"] == v["summary"]
    assert p["totals"] == v["totals"]
    assert p["context"] == v["context"]
    assert p["stop"] is False and p["exit_status"] == 0


def test_a_dangerous_plan_stops_in_python_as_in_the_cli(cli):
    regimen = "12 g over 20 min, then 1 g/h for 24 h"
    p = mgiv.plan(regimen=regimen, pregnant=True, **PE)
    v = cli("plan", "--regimen", regimen, "--pregnant", *PE_CLI, "--format", "json", ok=(3,))
    assert p["stop"] is True and p["exit_status"] == 3 == v["exit_status"]
    assert {"LOAD-EXCESS", "LEVEL-3.5"} <= {a["code"] for a in p["alerts"]}
    assert [a["code"] for a in p["alerts"]] == [a["code"] for a in v["alerts"]]


def test_adjust_equals_the_cli(cli):
    args = dict(regimen="4 g over 20 min, then 1 g/h", levels="1.4 mmol/L at 6 h; 1.9 mmol/L at 12 h")
    a = mgiv.adjust(args["regimen"], args["levels"], **PE)
    v = cli("adjust", "--regimen", args["regimen"], "--levels", args["levels"], *PE_CLI, "--format", "json")
    assert a["recommendation"] == v["recommendation"]
    assert a["fit"]["decision"] == v["fit"]["decision"]
    assert a["fit"]["parameters"] == v["fit"]["parameters"]
    assert [x["code"] for x in a["alerts"]] == [x["code"] for x in v["alerts"]]
    assert a["context"] == v["context"]


def test_a_toxic_level_holds(cli):
    a = mgiv.adjust("4 g over 20 min, then 1 g/h", "4.5 mmol/L at 6 h", **PE)
    assert a["stop"] is True
    assert a["recommendation"]["action"] == "hold"
    assert "LEVEL-MEASURED-TOXIC" in {x["code"] for x in a["alerts"]}


def test_brain_equals_the_cli(cli):
    b = mgiv.brain(ZUSPAN, samples=50, seed=3, **PE)
    v = cli("brain", "--regimen", ZUSPAN, *PE_CLI, "--samples", "50", "--seed", "3", "--format", "json")
    assert b["points"] == v["points"]
    assert b["claims"] == v["claims"]
    assert b["summary"] == v["summary"]
    assert b["context"] == v["context"]


def test_trial_equals_the_cli(cli):
    long, peaks = mgiv.trial(["zuspan", "sibai"], n=3000, seed=11)
    v = cli("trial", "--regimen", "zuspan", "--regimen", "sibai", "--n", "3000", "--seed", "11", "--format", "json")
    assert list(long.columns[:8]) == ["regimen", "time_h", "p05", "p25", "p50", "p75", "p95", "p_in_target"]
    for col in ["p_above_2_0", "p_above_3_5", "p_above_5_0"]:
        assert col in long.columns
    for g in v["regimens"]:
        sub = long[long["regimen"] == g["label"]]
        assert sub["time_h"].tolist() == [p["time_h"] for p in g["points"]]
        for col in ["p05", "p50", "p95", "p_in_target", "p_above_3_5"]:
            assert sub[col].tolist() == [p[col] for p in g["points"]], col
        row = peaks[peaks["regimen"] == g["label"]].iloc[0]
        assert row["cmax_p50"] == g["cmax_mmol_l"]["p50"]
        assert row["p_cmax_above_3_5"] == g["p_cmax_above"]["3.5"]
    assert long.attrs["population_id"] == v["population"]["id"] == "pre-eclampsia"
    assert tuple(long.attrs["target_mmol_l"]) == tuple(v["target_mmol_l"])


def test_trial_is_independent_of_the_chunk_size(monkeypatch):
    a, pa = mgiv.trial("zuspan", n=2500, seed=5)
    monkeypatch.setattr(mgiv, "_TRIAL_CHUNK", 333)
    b, pb = mgiv.trial("zuspan", n=2500, seed=5)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)


def test_per_subject_rows_are_an_arrow_table_from_the_same_draws():
    pa = pytest.importorskip("pyarrow")
    long, peaks, table = mgiv.trial(["zuspan", "sibai"], n=500, seed=2, per_subject=True)
    assert isinstance(table, pa.Table)
    assert table.num_rows == 1000
    assert set(table.column_names) >= {"subject", "regimen", "weight_kg", "cmax_mmol_l", "time_to_target_h"}
    df = table.to_pandas()
    # the per-subject peaks reproduce the summary's probability exactly
    for label, g in df.groupby("regimen", observed=True):
        share = float((g["cmax_mmol_l"] > 3.5).mean())
        expect = peaks.loc[peaks["regimen"] == label, "p_cmax_above_3_5"].iloc[0]
        assert math.isclose(share, expect, abs_tol=1e-12), label


def test_neuro_equals_the_cli(cli):
    d = mgiv.neuro.decision(1.0, 0.3, 1)
    v = cli("neuro", "decision", "--mg", "1.0", "--seconds", "0.3", "--seed", "1", "--format", "json")
    assert d["rate_e_hz"] == v["rate_e_hz"]
    assert d["rate_i_hz"] == v["rate_i_hz"]
    assert isinstance(d["rates_hz"], np.ndarray) and d["rates_hz"].shape[0] == 4
    assert isinstance(d["spike_t_ms"], np.ndarray)
    p = mgiv.neuro.plasticity([0.5, 1.0, 1.5, 2.0])
    vp = cli("neuro", "plasticity", "--mg", "0.5:2.0:0.5", "--format", "json")
    assert p["synaptic_change"].tolist() == [r["synaptic_change"] for r in vp["runs"]]
    # more Mg, less NMDA calcium, less LTP (acute block)
    assert p["synaptic_change"][0] > p["synaptic_change"][3]


def test_neuro_plasticity_defaults_are_the_standard_protocols(cli):
    # None = the published standard protocol (data/neuro/stimulation-protocols.toml), as the CLI
    p = mgiv.neuro.plasticity(1.0)
    assert (p["dt_ms"], p["pairs"], p["hz"]) == (10.0, 60, 1.0)
    assert p["stimulation"] == "pairing dt=10 ms, 60 pairs at 1 Hz"
    for protocol, name in [
        ("tetanus", "tetanus 100 pulses at 100 Hz"),
        ("theta-burst", "theta burst 10 x 4 at 100 Hz, bursts at 5 Hz"),
    ]:
        r = mgiv.neuro.plasticity([0.8, 1.2], protocol=protocol)
        v = cli("neuro", "plasticity", "--protocol", protocol, "--mg", "0.8:1.2:0.4", "--format", "json")
        assert r["stimulation"] == name == v["protocol"]
        assert r["synaptic_change"].tolist() == [x["synaptic_change"] for x in v["runs"]]
    assert (r["bursts"], r["spikes_per_burst"], r["intra_hz"], r["burst_hz"]) == (10, 4, 100.0, 5.0)
    # an explicit value is used; a parameter of another protocol is an error
    t = mgiv.neuro.plasticity(1.0, protocol="tetanus", pulses=50)
    assert t["stimulation"] == "tetanus 50 pulses at 100 Hz"
    with pytest.raises(mgiv.MgivError, match="pairs"):
        mgiv.neuro.plasticity(1.0, protocol="tetanus", pairs=60)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: mgiv.simulate("4 q over 20 min", weight_kg=70), "accepted here"),
        (lambda: mgiv.simulate(ZUSPAN, weight_kg=-70), "weight"),
        (lambda: mgiv.plan(regimen=ZUSPAN, indication="gout", weight_kg=70), "unknown indication"),
        (lambda: mgiv.adjust("4 g over 20 min, then 1 g/h", "1.4 at 6 h", **PE), "no unit"),
        (lambda: mgiv.trial("zuspan", n=10**9, seed=1), "virtual patients"),
        (lambda: mgiv.neuro.decision(1.0, 3600, 1), "seconds"),
        (lambda: mgiv.plan(weight_kg=70), "regimen"),
    ],
)
def test_errors_are_mgiv_errors_with_the_library_message(call, needle):
    with pytest.raises(mgiv.MgivError) as e:
        call()
    assert needle in str(e.value)
    assert isinstance(e.value, ValueError)
