"""Conformance suites for plug-ins: the cases every registered search strategy passes.

A strategy's whole contract (``snnas/search/_strategy.py``) is what makes runs trustworthy: the same
seed gives the same candidates serially, on Ray and after a crash and ``--resume``; a failed
candidate is recorded with its reason and the search goes on; nothing outside the space is ever
proposed; the budget is exact and a raised one extends the run. The cases check exactly that, through
the public API only, with real parts (SQLite run stores, a local Ray, a SIGKILLed subprocess) and a
toy evaluate function that scores an architecture in microseconds.

Run them on your own strategy with pytest::

    import my_package.strategies  # registers "mine" in snnas.search.STRATEGIES
    from snnas.testing import StrategyConformance

    class TestMine(StrategyConformance):
        strategy = "mine"

(``pytest -m "not slow"`` skips the SIGKILL case.) Without pytest, call the ``check_*`` functions
with the strategy's name and an empty directory. A strategy that needs another space, evaluate
function or budget declares it as ``conformance = {...}`` on its class (see
:class:`ConformanceSetup`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from snnas.testing._checks import (
    assert_in_space,
    assert_same_candidates,
    check_budget,
    check_failures_recorded,
    check_proposals_in_space,
    check_ray_equals_serial,
    check_serial_determinism,
    check_sigkill_resume,
)
from snnas.testing._setup import ConformanceSetup, conformance_setup
from snnas.testing._toy import CONFORMANCE_SPACE, TINY_SPACE, toy_evaluate, write_space

if TYPE_CHECKING:
    from snnas.testing._suite import StrategyConformance

__all__ = ["CONFORMANCE_SPACE", "TINY_SPACE", "ConformanceSetup", "StrategyConformance", "assert_in_space",
           "assert_same_candidates", "check_budget", "check_failures_recorded", "check_proposals_in_space",
           "check_ray_equals_serial", "check_serial_determinism", "check_sigkill_resume", "conformance_setup",
           "toy_evaluate", "write_space"]


def __getattr__(name: str) -> Any:
    if name == "StrategyConformance":  # imports pytest, which the check functions do not need
        from snnas.testing._suite import StrategyConformance

        return StrategyConformance
    raise AttributeError(f"module 'snnas.testing' has no attribute {name!r}")
