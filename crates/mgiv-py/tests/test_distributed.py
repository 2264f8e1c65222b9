"""`mgiv.distributed.trial` on a local Ray cluster equals `mgiv.trial` bit for bit for any number
of shards; per-subject Parquet shards; a regimen × population sweep in one call."""

import glob

import pandas as pd
import pytest

import mgiv

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    yield
    ray.shutdown()


REGIMENS = ["zuspan", "pritchard", "6 g over 20 min, then 2 g/h for 24 h"]


@pytest.mark.parametrize("shards", [1, 3, 8])
def test_distributed_equals_single_process(shards):
    local_long, local_peaks = mgiv.trial(REGIMENS, n=4001, seed=42)
    long, peaks = mgiv.distributed.trial(REGIMENS, n=4001, seed=42, shards=shards)
    pd.testing.assert_frame_equal(long, local_long, check_exact=True)
    pd.testing.assert_frame_equal(peaks, local_peaks, check_exact=True)


def test_per_subject_parquet_shards(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    long, peaks = mgiv.distributed.trial(
        ["zuspan"], n=1000, seed=3, shards=3, per_subject_parquet=str(tmp_path / "subjects")
    )
    files = sorted(glob.glob(str(tmp_path / "subjects" / "*.parquet")))
    assert len(files) == 3
    table = pq.read_table(files)  # a list of files reads as one table
    df = table.to_pandas()
    assert sorted(df["subject"].tolist()) == list(range(1000))
    share = float((df["cmax_mmol_l"] > 2.0).mean())
    assert abs(share - peaks["p_cmax_above_2_0"].iloc[0]) < 1e-12


def test_sweep_is_one_call_over_regimens_and_populations():
    long, peaks = mgiv.distributed.sweep(
        ["zuspan", "sibai"], populations=["pre-eclampsia", "pregnant"], n=500, seed=9, shards=2,
        indication="pre-eclampsia",
    )
    assert set(long["population"]) == {"pre-eclampsia", "pregnant"}
    assert len(peaks) == 4
    one, _ = mgiv.trial(["zuspan", "sibai"], n=500, seed=9, population="pregnant", indication="pre-eclampsia")
    got = long[long["population"] == "pregnant"].drop(columns="population").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, one, check_exact=True, check_like=False)
