"""Pareto front and hypervolume of a run's candidates (pymoo does the numerics).

Objectives are put in minimisation form by negating maximised ones, as pymoo expects. The
hypervolume is computed in a normalised space so that it is a dimensionless number in [0, 1]:
each objective is mapped to ``f = (value - ideal) / (reference - ideal)``, where the *ideal* is the
best value the metric can take and the *reference* is a documented "bad" value:

* ``accuracy``: ideal 1 (100 %), reference 0 (0 %): ``f`` is the error rate.
* ``mean_firing_rate``: ideal 0, reference 1.
* any other minimised metric (energy_mj, macs, params...): ideal 0, reference 1.1 x the largest
  value observed among completed candidates.
* any other maximised metric: reference 0, ideal 1.1 x the largest value observed.

A caller may fix references (raw units) so runs can be compared on the same box; the summary
records which references were used. The hypervolume is then the fraction of the box between the
ideal and the reference point that the front dominates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from snnas.runs import CandidateRecord, Constraint, Objective

#: (ideal, reference) for metrics whose range is known.
BOUNDED: dict[str, tuple[float, float]] = {"accuracy": (1.0, 0.0), "mean_firing_rate": (0.0, 1.0)}
#: Margin beyond the worst observed value for metrics without a known range.
MARGIN = 1.1


def feasible(record: CandidateRecord, constraints: Sequence[Constraint] = ()) -> bool:
    """Completed and within every constraint (checked on the record's metrics)."""
    return not record.failed and all(c.violation(record.metrics) <= 0 for c in constraints)


def scored(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
           constraints: Sequence[Constraint] = ()) -> list[CandidateRecord]:
    """The feasible completed candidates that have every objective as a finite number."""
    return [r for r in records if feasible(r, constraints)
            and all(r.value(o.metric) is not None for o in objectives)]


def objective_matrix(records: Sequence[CandidateRecord], objectives: Sequence[Objective]) -> np.ndarray:
    """``[n, k]`` objective values in minimisation form (maximised metrics negated)."""
    F = np.array([[r.value(o.metric) for o in objectives] for r in records], dtype=float)
    F = F.reshape(len(records), len(objectives))
    return F * np.array([-1.0 if o.maximize else 1.0 for o in objectives])


def pareto_front(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
                 constraints: Sequence[Constraint] = ()) -> list[CandidateRecord]:
    """The non-dominated candidates among the feasible scored ones (pymoo's non-dominated
    sorting), by index. Candidates with identical objective values are all kept."""
    ok = scored(records, objectives, constraints)
    if not ok:
        return []
    idx = NonDominatedSorting().do(objective_matrix(ok, objectives), only_non_dominated_front=True)
    return sorted((ok[i] for i in np.atleast_1d(idx)), key=lambda r: r.index)


@dataclass(frozen=True)
class Hypervolume:
    """The hypervolume of a front and the box it was measured in (raw units per objective)."""

    value: float
    ideal: dict[str, float]
    reference: dict[str, float]
    given: frozenset[str]  # metrics whose reference the caller fixed


def reference_box(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
                  reference: Mapping[str, float] | None = None, constraints: Sequence[Constraint] = (),
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """(ideal, reference) per objective metric, following the rules in this module's docstring;
    observed values are those of the feasible candidates."""
    reference = dict(reference or {})
    ok = scored(records, objectives, constraints)
    ideal: dict[str, float] = {}
    ref: dict[str, float] = {}
    for o in objectives:
        observed = [r.value(o.metric) for r in ok]
        largest = max(observed, default=1.0)
        if o.metric in BOUNDED:
            z, r = BOUNDED[o.metric]
        elif o.maximize:
            z, r = MARGIN * max(largest, 0.0), min(0.0, min(observed, default=0.0))
        else:
            z, r = min(0.0, min(observed, default=0.0)), MARGIN * max(largest, 0.0)
        if o.metric in reference:
            r = float(reference[o.metric])
        if r == z:  # e.g. every candidate used zero energy: keep the box non-empty
            r = z - 1.0 if o.maximize else z + 1.0
        ideal[o.metric], ref[o.metric] = float(z), float(r)
    return ideal, ref


def hypervolume(records: Sequence[CandidateRecord], objectives: Sequence[Objective],
                reference: Mapping[str, float] | None = None,
                constraints: Sequence[Constraint] = ()) -> Hypervolume:
    """Hypervolume (pymoo ``HV``) of the (feasible) Pareto front in the normalised box; 0 when
    nothing scored."""
    ideal, ref = reference_box(records, objectives, reference, constraints)
    front = pareto_front(records, objectives, constraints)
    value = 0.0
    if front:
        raw = np.array([[r.value(o.metric) for o in objectives] for r in front], dtype=float)
        z = np.array([ideal[o.metric] for o in objectives])
        rp = np.array([ref[o.metric] for o in objectives])
        value = float(HV(ref_point=np.ones(len(objectives)))((raw - z) / (rp - z)))
    return Hypervolume(value, ideal, ref, frozenset(reference or ()))


def rank_by_first(records: Sequence[CandidateRecord], objectives: Sequence[Objective]) -> list[CandidateRecord]:
    """``records`` best first by the first objective (ties, and missing values last, by index): the
    order of pareto.csv and of the final stage's top-k."""
    first = objectives[0]
    sign = -1.0 if first.maximize else 1.0
    return sorted(records, key=lambda r: (r.value(first.metric) is None, sign * (r.value(first.metric) or 0.0),
                                          r.index))
