"""`CandidateRecord`: one evaluated candidate as read back from the run store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from snnas.space._architecture import Architecture

COMPLETE = "complete"
FAILED = "failed"


@dataclass(frozen=True)
class CandidateRecord:
    """An evaluated candidate: its index in the run, architecture, genome, metrics and state.

    ``index`` (not the Optuna trial number) orders candidates: parallel workers finish out of order,
    and a resumed run must line up with an uninterrupted one index by index.
    """

    index: int
    arch: Architecture
    genome: tuple[Any, ...] | None
    state: str
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    seed: int | None = None
    trial_number: int | None = None
    violations: tuple[float, ...] = ()

    @property
    def feasible(self) -> bool:
        """Completed and within every constraint of the run (violations <= 0)."""
        return not self.failed and all(v <= 0 for v in self.violations)

    @property
    def id(self) -> str:
        return self.arch.id

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    def value(self, metric: str) -> float | None:
        """The metric as a finite float, or None when missing, non-numeric or not finite."""
        v = self.metrics.get(metric)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        v = float(v)
        return v if math.isfinite(v) else None

    def key(self) -> tuple:
        """What must agree between two runs that produced 'the same candidate list'."""
        return (self.index, self.id, self.state, self.reason,
                tuple(sorted((k, repr(v)) for k, v in self.metrics.items() if k != "wall_time_s")))
