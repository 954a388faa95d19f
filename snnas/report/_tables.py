"""Candidate tables (pandas) for candidates.csv and pareto.csv."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from snnas.report._pareto import feasible
from snnas.runs import CandidateRecord, Constraint, Objective

METRIC_COLUMNS = ("accuracy", "energy_mj", "macs", "acs", "mean_firing_rate", "params", "time_steps",
                  "wall_time_s")
INTEGER_COLUMNS = ("index", "params", "time_steps")
CANDIDATE_COLUMNS = ("index", "id", "state", "reason", "feasible", *METRIC_COLUMNS, "architecture", "genome")
PARETO_COLUMNS = ("index", "id", *METRIC_COLUMNS, "architecture", "genome")


def _metric_columns(objectives: Sequence[Objective]) -> list[str]:
    extra = [o.metric for o in objectives if o.metric not in METRIC_COLUMNS]
    return [*METRIC_COLUMNS, *extra]


def _row(r: CandidateRecord, metrics: Sequence[str], constraints: Sequence[Constraint] = ()) -> dict:
    row: dict = {"index": r.index, "id": r.id, "state": r.state, "reason": r.reason or "",
                 "feasible": feasible(r, constraints)}
    for m in metrics:
        v = r.value(m)
        row[m] = np.nan if v is None else v
    if row.get("time_steps") is None or np.isnan(row["time_steps"]):
        row["time_steps"] = r.arch.time_steps  # known even when training failed
    row["architecture"] = r.arch.summary()
    row["genome"] = "" if r.genome is None else json.dumps(list(r.genome), separators=(",", ":"))
    return row


def candidates_frame(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
                     constraints: Sequence[Constraint] = ()) -> pd.DataFrame:
    """Every candidate by index; failed ones carry their reason and empty metrics; ``feasible`` is
    False for failed candidates and those breaking a constraint."""
    metrics = _metric_columns(objectives)
    cols = ["index", "id", "state", "reason", "feasible", *metrics, "architecture", "genome"]
    return _typed(pd.DataFrame([_row(r, metrics, constraints) for r in records], columns=cols))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Integer columns stay integers (nullable) even where failed candidates leave them empty."""
    for c in INTEGER_COLUMNS:
        vals = pd.to_numeric(df[c], errors="coerce")
        if ((vals.dropna() % 1) == 0).all():
            df[c] = vals.round().astype("Int64")
    return df


def pareto_frame(front: Sequence[CandidateRecord], objectives: Sequence[Objective]) -> pd.DataFrame:
    """The front, best first by the first objective (ties by index)."""
    metrics = _metric_columns(objectives)
    cols = ["index", "id", *metrics, "architecture", "genome"]
    first = objectives[0]
    ordered = sorted(front, key=lambda r: ((-1 if first.maximize else 1) * (r.value(first.metric) or 0.0),
                                           r.index))
    return _typed(pd.DataFrame([_row(r, metrics) for r in ordered], columns=cols))
