"""What one candidate evaluation is, as data a Ray worker can receive.

A strategy never trains anything itself: it turns candidates into :class:`CandidateTask` s and hands
an :class:`EvalJob` (a picklable callable wrapping the user's top-level evaluate function) to a
backend. The evaluate function has the signature
``evaluate(space_ref, arch_json, eval_config) -> dict`` and returns ``Metrics.to_dict()``, or
``{"failed": reason}``; anything it raises becomes a failed candidate with the exception as reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snnas.search._backend import TaskFailure

EvaluateFn = Callable[[Any, str, dict], dict]


def candidate_seed(seed: int, index: int) -> int:
    """The training seed of candidate ``index`` in a run seeded ``seed``: a pure function of both,
    independent of the stream that samples architectures, so resumed and parallel runs agree."""
    return int(np.random.SeedSequence([seed, index, 0x5EED]).generate_state(1)[0] % (2**31 - 1))


@dataclass(frozen=True)
class CandidateTask:
    """One candidate to evaluate: its index in the run, its Architecture JSON, its training seed."""

    index: int
    arch_json: str
    seed: int


@dataclass(frozen=True)
class EvalJob:
    """``evaluate`` bound to the space and the run's evaluation config; call it with a task."""

    evaluate: EvaluateFn
    space_ref: Any
    config: dict = field(default_factory=dict)

    def __call__(self, task: CandidateTask) -> dict:
        cfg = dict(self.config, seed=task.seed, index=task.index)
        try:
            out = self.evaluate(self.space_ref, task.arch_json, cfg)
        except Exception as e:  # a build error or crash is a failed candidate, the search goes on
            return {"failed": TaskFailure.of(e).reason}
        if hasattr(out, "to_dict"):
            out = out.to_dict()
        if not isinstance(out, dict):
            return {"failed": f"evaluate returned {type(out).__name__}, not a metrics dict"}
        return out
