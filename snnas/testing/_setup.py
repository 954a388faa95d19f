"""`ConformanceSetup`: what the conformance suite runs a strategy on, and the hook to change it.

The defaults (a real 13-gene cell space, the toy evaluate function, a budget of 10) suit any strategy
that proposes architectures from a ``SearchSpace``. A strategy that needs something else (a space of
another family, an evaluate function that scores supernet-derived candidates, a budget counted in
epochs) declares it on its class, without importing this package (nor pytest)::

    @STRATEGIES.register("dhs", description="...")
    class DHSSearch(Strategy):
        conformance = {"budget": 4, "strategy_options": {"warmup": 1}}

The keys are the fields of :class:`ConformanceSetup`; a ``ConformanceSetup`` itself is accepted too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnas.search import STRATEGIES, EvaluateFn
from snnas.testing._toy import CONFORMANCE_SPACE, TINY_SPACE, toy_evaluate


@dataclass(frozen=True)
class ConformanceSetup:
    """The parts one strategy is checked with. Functions must be top-level (importable by name):
    Ray workers and the subprocess that is killed and resumed import them.

    ``space``/``tiny_space``: text of the space files (``tiny_space`` has fewer than ``budget +
    extra_budget`` architectures; None skips the past-the-end check); ``load_space``: how to load
    them (None: ``snnas.space.load_space``); ``evaluate`` and ``eval_config``: how candidates are
    scored; ``failures``: the candidate indices that ``evaluate`` + ``eval_config`` make fail, with
    the reason each must be recorded with (both None: the toy evaluate function raises at
    ``budget // 4`` and reports a failure at ``budget // 2``); ``budget``, ``extra_budget`` (added on
    resume), ``seed``, ``strategy_options``; ``slow``: eval-config entries that slow the run that is
    SIGKILLed, which is killed once ``kill_after`` candidates are recorded.
    """

    space: str = CONFORMANCE_SPACE
    tiny_space: str | None = TINY_SPACE
    load_space: Callable[[str | Path], Any] | None = None
    evaluate: EvaluateFn = toy_evaluate
    eval_config: Mapping[str, Any] | None = None
    failures: Mapping[int, str] | None = None
    budget: int = 8
    extra_budget: int = 3
    seed: int = 3
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    slow: Mapping[str, Any] = field(default_factory=lambda: {"sleep": 0.15})
    kill_after: int = 3

    def __post_init__(self) -> None:
        if self.budget < 3 or self.extra_budget < 1:
            raise ValueError("the suite needs budget >= 3 and extra_budget >= 1")
        if self.eval_config is None and self.failures is None:  # frozen: set the derived defaults once
            raising, failing = self.budget // 4, self.budget // 2
            object.__setattr__(self, "eval_config", {"raise_at": [raising], "fail_at": [failing]})
            object.__setattr__(self, "failures", {raising: f"RuntimeError: toy build error at candidate {raising}",
                                                  failing: f"non-finite loss at candidate {failing}"})
        if self.eval_config is None or not self.failures:
            raise ValueError("give eval_config and failures together: the failures that evaluate and "
                             "eval_config produce (at least one)")
        if not 1 <= self.kill_after < self.budget:
            raise ValueError(f"kill_after must be in [1, budget), got {self.kill_after}")
        if any(not 0 <= int(i) < self.budget - 1 for i in self.failures):
            raise ValueError("failures must be at indices below budget - 1, so the search is seen going on")


def conformance_setup(strategy: str) -> ConformanceSetup:
    """The setup of the strategy registered as ``strategy``: the defaults, updated by the strategy
    class's optional ``conformance`` attribute (a mapping of field overrides, or a ConformanceSetup)."""
    declared = getattr(STRATEGIES.get(strategy), "conformance", None)
    if declared is None:
        return ConformanceSetup()
    if isinstance(declared, ConformanceSetup):
        return declared
    if not isinstance(declared, Mapping):
        raise TypeError(f"strategy '{strategy}': conformance must be a mapping of ConformanceSetup fields "
                        f"or a ConformanceSetup, got {type(declared).__name__}")
    fields = {f.name for f in dataclasses.fields(ConformanceSetup)}
    unknown = sorted(set(declared) - fields)
    if unknown:
        raise TypeError(f"strategy '{strategy}': unknown conformance field(s) {', '.join(unknown)}; "
                        f"valid: {', '.join(sorted(fields))}")
    return ConformanceSetup(**dict(declared))
