from typing import Optional, Sequence, Tuple, Union

import pandas as pd

from . import distributed as distributed
from . import neuro as neuro

__version__: str

class MgivError(ValueError): ...

def simulate(
    regimen: str,
    *,
    weight_kg: Optional[float] = ...,
    creatinine_mg_dl: Optional[float] = ...,
    pregnant: bool = ...,
    pre_eclampsia: bool = ...,
    baseline_mmol_l: Optional[float] = ...,
    model: Optional[str] = ...,
    times_h: Optional[Sequence[float]] = ...,
    indication: Optional[str] = ...,
    age_y: Optional[float] = ...,
    sex: Optional[str] = ...,
    crcl_ml_min: Optional[float] = ...,
) -> pd.DataFrame: ...
def plan(
    *,
    regimen: Optional[str] = ...,
    protocol: Optional[str] = ...,
    indication: Optional[str] = ...,
    weight_kg: Optional[float] = ...,
    creatinine_mg_dl: Optional[float] = ...,
    pregnant: bool = ...,
    pre_eclampsia: bool = ...,
    baseline_mmol_l: Optional[float] = ...,
    model: Optional[str] = ...,
    age_y: Optional[float] = ...,
    sex: Optional[str] = ...,
    crcl_ml_min: Optional[float] = ...,
    conditions: Optional[str] = ...,
    medications: Optional[str] = ...,
    bag: Optional[str] = ...,
    hours: Optional[float] = ...,
) -> dict: ...
def adjust(
    regimen: str,
    levels: str,
    *,
    indication: Optional[str] = ...,
    protocol: Optional[str] = ...,
    weight_kg: Optional[float] = ...,
    creatinine_mg_dl: Optional[float] = ...,
    pregnant: bool = ...,
    pre_eclampsia: bool = ...,
    baseline_mmol_l: Optional[float] = ...,
    model: Optional[str] = ...,
    age_y: Optional[float] = ...,
    sex: Optional[str] = ...,
    crcl_ml_min: Optional[float] = ...,
    now_h: Optional[float] = ...,
    hours: Optional[float] = ...,
    max_p_toxic: Optional[float] = ...,
    allow_maintenance: bool = ...,
    bag: Optional[str] = ...,
    conditions: Optional[str] = ...,
) -> dict: ...
def brain(
    regimen: str,
    *,
    weight_kg: Optional[float] = ...,
    creatinine_mg_dl: Optional[float] = ...,
    pregnant: bool = ...,
    pre_eclampsia: bool = ...,
    baseline_mmol_l: Optional[float] = ...,
    model: Optional[str] = ...,
    times_h: Optional[Sequence[float]] = ...,
    indication: Optional[str] = ...,
    age_y: Optional[float] = ...,
    sex: Optional[str] = ...,
    samples: int = ...,
    seed: int = ...,
) -> dict: ...
def trial_spec(
    regimens: Union[Sequence[str], str],
    *,
    n: int,
    seed: int,
    population: Optional[str] = ...,
    indication: Optional[str] = ...,
    model: Optional[str] = ...,
    times_h: Optional[Sequence[float]] = ...,
    hours: Optional[float] = ...,
    target_mmol_l: Optional[Tuple[float, float]] = ...,
    max_subjects: Optional[int] = ...,
) -> str: ...
def trial_frames(result: dict) -> Tuple[pd.DataFrame, pd.DataFrame]: ...
def trial(
    regimens: Union[Sequence[str], str],
    *,
    population: Optional[str] = ...,
    n: int,
    seed: int,
    times_h: Optional[Sequence[float]] = ...,
    indication: Optional[str] = ...,
    model: Optional[str] = ...,
    hours: Optional[float] = ...,
    target_mmol_l: Optional[Tuple[float, float]] = ...,
    per_subject: bool = ...,
) -> tuple: ...
