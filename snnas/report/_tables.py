"""Candidate tables (pandas) for candidates.csv and pareto.csv, with units in the column names
(``val_acc_pct``, ``energy_uj``; see ``_units``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from snnas.report._pareto import feasible, rank_by_first
from snnas.report._units import column, to_column
from snnas.runs import CandidateRecord, Constraint, Objective

METRIC_COLUMNS = ("accuracy", "energy_mj", "macs", "acs", "mean_firing_rate", "params", "time_steps",
                  "wall_time_s")
INTEGER_COLUMNS = ("index", "params", "time_steps")
_SHOWN = tuple(column(m) for m in METRIC_COLUMNS)
CANDIDATE_COLUMNS = ("index", "id", "state", "reason", "feasible", *_SHOWN, "aeb", "architecture", "genome")
PARETO_COLUMNS = ("index", "id", *_SHOWN, "aeb", "architecture", "genome")
"""Columns of the written CSVs; ``aeb`` (the accuracy-energy balanced score) is added by ``write_reports``."""

EXTRA_METRICS = {"bench_id": ("bench_id", 1.0), "test_accuracy": ("bench_test_acc_pct", 100.0)}
"""Metric keys an evaluate function may add beside ``Metrics``' own -> (column, factor): SpikeNAS-Bench's
id and test accuracy (``snnas.evaluate.evaluate_bench``). Their columns follow the metric columns when
some candidate has the key."""


def _metric_columns(objectives: Sequence[Objective]) -> list[str]:
    extra = [o.metric for o in objectives if o.metric not in METRIC_COLUMNS]
    return [*METRIC_COLUMNS, *extra]


def _extras(records: Sequence[CandidateRecord]) -> list[str]:
    return [m for m in EXTRA_METRICS if any(m in r.metrics for r in records)]


def _row(r: CandidateRecord, metrics: Sequence[str], constraints: Sequence[Constraint] = (),
         extras: Sequence[str] = ()) -> dict:
    row: dict = {"index": r.index, "id": r.id, "state": r.state, "reason": r.reason or "",
                 "feasible": feasible(r, constraints)}
    for m in metrics:
        v = to_column(m, r.value(m))
        row[column(m)] = np.nan if v is None else v
    for m in extras:
        v, (col, factor) = r.value(m), EXTRA_METRICS[m]
        row[col] = np.nan if v is None else v * factor
    if row.get("time_steps") is None or np.isnan(row["time_steps"]):
        row["time_steps"] = r.arch.time_steps  # known even when training failed
    row["architecture"] = r.arch.summary()
    row["genome"] = "" if r.genome is None else json.dumps(list(r.genome), separators=(",", ":"))
    return row


def candidates_frame(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
                     constraints: Sequence[Constraint] = ()) -> pd.DataFrame:
    """Every candidate by index; failed ones carry their reason and empty metrics; ``feasible`` is
    False for failed candidates and those breaking a constraint."""
    metrics, extras = _metric_columns(objectives), _extras(records)
    cols = ["index", "id", "state", "reason", "feasible", *map(column, metrics),
            *(EXTRA_METRICS[m][0] for m in extras), "architecture", "genome"]
    return _typed(pd.DataFrame([_row(r, metrics, constraints, extras) for r in records], columns=cols))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Integer columns stay integers (nullable) even where failed candidates leave them empty."""
    for c in (*INTEGER_COLUMNS, "bench_id"):
        if c not in df:
            continue
        vals = pd.to_numeric(df[c], errors="coerce")
        if ((vals.dropna() % 1) == 0).all():
            df[c] = vals.round().astype("Int64")
    return df


TEST_COLUMNS = ("test_acc_pct", "test_acc_std_pct", "test_seeds", "test_epochs")


def pareto_frame(front: Sequence[CandidateRecord], objectives: Sequence[Objective],
                 retrained: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """The front, best first by the first objective (ties by index); with ``retrained`` (id ->
    retraining summary) the test accuracy of retrained candidates sits beside the proxy's."""
    metrics, extras = _metric_columns(objectives), _extras(front)
    cols = ["index", "id", *map(column, metrics), *(EXTRA_METRICS[m][0] for m in extras), "architecture", "genome"]
    rows = [_row(r, metrics, extras=extras) for r in rank_by_first(front, objectives)]
    if retrained:
        at = cols.index(column(metrics[0])) + 1 if metrics else len(cols)
        cols[at:at] = TEST_COLUMNS
        for row in rows:
            res = retrained.get(row["id"])
            ok = [s for s in (res or {}).get("seeds", []) if not s.get("failed")]
            row.update(test_acc_pct=np.nan, test_acc_std_pct=np.nan, test_seeds=len(ok) if res else 0,
                       test_epochs=res.get("epochs") if res else np.nan)
            if res and res.get("test_accuracy_mean") is not None:
                row.update(test_acc_pct=100 * res["test_accuracy_mean"],
                           test_acc_std_pct=100 * (res.get("test_accuracy_std") or 0.0))
    df = _typed(pd.DataFrame(rows, columns=cols))
    if retrained:
        df["test_epochs"] = pd.to_numeric(df["test_epochs"], errors="coerce").astype("Int64")
    return df
