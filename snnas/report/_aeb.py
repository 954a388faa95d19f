"""An accuracy-energy balanced score for users who want one network rather than a front.

Auto-Spikformer's F_AEB balances accuracy against energy in one number; its paper gives the idea
and its code never computes it. snnas uses the MnasNet-style product

    aeb = accuracy_pct x (E / E_ref) ** (-lambda)

with E the candidate's energy per sample, E_ref the median energy of the run's scored feasible
candidates (so the score is in accuracy units: a candidate at the median energy scores its
accuracy) and lambda >= 0 the trade-off (default 0.07: halving the energy is worth about
2**0.07 - 1 = 5 % of relative accuracy; 0 picks the most accurate network). E_ref only scales the
scores, so the pick depends on lambda alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from snnas.errors import RunError
from snnas.runs import CandidateRecord, Constraint

AEB_LAMBDA = 0.07
"""Default trade-off exponent of the accuracy-energy balanced score."""


def _scorable(records: Sequence[CandidateRecord], constraints: Sequence[Constraint] = ()) -> list[CandidateRecord]:
    from snnas.report._pareto import feasible

    return [r for r in records if feasible(r, constraints) and r.value("accuracy") is not None
            and (r.value("energy_mj") or 0.0) > 0.0]


def aeb_scores(records: Sequence[CandidateRecord], lam: float = AEB_LAMBDA,
               constraints: Sequence[Constraint] = ()) -> tuple[dict[int, float], float | None]:
    """(candidate index -> aeb score, E_ref in mJ) over the feasible candidates that have an accuracy
    and a positive energy; others get no score."""
    if not (math.isfinite(lam) and lam >= 0):
        raise RunError(f"aeb lambda must be a finite number >= 0, got {lam!r}")
    ok = _scorable(records, constraints)
    if not ok:
        return {}, None
    e_ref = float(np.median([r.value("energy_mj") for r in ok]))
    return {r.index: 100.0 * r.value("accuracy") * (r.value("energy_mj") / e_ref) ** (-lam) for r in ok}, e_ref


def pick_aeb(records: Sequence[CandidateRecord], lam: float = AEB_LAMBDA,
             constraints: Sequence[Constraint] = ()) -> CandidateRecord | None:
    """The feasible candidate with the highest aeb score (ties: the lower index); None if none."""
    scores, _ = aeb_scores(records, lam, constraints)
    if not scores:
        return None
    best = max(scores, key=lambda i: (scores[i], -i))
    return next(r for r in records if r.index == best)
