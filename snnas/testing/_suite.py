"""`StrategyConformance`: the conformance cases as a pytest base class (Optuna's ``optuna/testing``
style), so a plug-in strategy is tested by exactly the cases every built-in one passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from snnas.testing._checks import (
    check_budget,
    check_failures_recorded,
    check_proposals_in_space,
    check_ray_equals_serial,
    check_serial_determinism,
    check_sigkill_resume,
)
from snnas.testing._setup import ConformanceSetup, conformance_setup


class StrategyConformance:
    """Subclass in a test module to run every conformance case on a registered strategy::

        import my_package.strategies  # registers "mine" in snnas.search.STRATEGIES
        from snnas.testing import StrategyConformance

        class TestMine(StrategyConformance):
            strategy = "mine"

    or over several at once, parametrising the ``strategy_name`` fixture (snnas's own suite does this
    over ``STRATEGIES.names()``, so a strategy is tested the moment it is registered)::

        @pytest.mark.parametrize("strategy_name", ["mine", "random"])
        class TestStrategies(StrategyConformance):
            pass

    The strategy class's ``conformance`` attribute adjusts the setup (see ``ConformanceSetup``); a
    test class can instead override :meth:`setup_for`. The Ray case uses the session fixture named
    by ``ray_fixture`` when the project defines one (Ray takes seconds to start), else lets the
    backend start and stop a local Ray. The SIGKILL case is marked ``slow`` (register the marker in
    your pytest config, ``markers = ["slow: ..."]``, to silence pytest's warning). A plug-in's module
    must be importable in a subprocess (it gets this process's ``sys.path``) and its evaluate function
    importable by name in Ray workers.
    """

    strategy: ClassVar[str | None] = None
    ray_fixture: ClassVar[str] = "ray_local"
    ray_workers: ClassVar[int] = 2

    @pytest.fixture
    def strategy_name(self) -> str:
        if not self.strategy:
            pytest.fail(f"{type(self).__name__}: set `strategy = <registered name>` or parametrise strategy_name")
        return self.strategy

    def setup_for(self, strategy_name: str) -> ConformanceSetup:
        """The setup ``strategy_name`` is checked with (default: its declared ``conformance``)."""
        return conformance_setup(strategy_name)

    @pytest.fixture
    def conformance(self, strategy_name: str) -> ConformanceSetup:
        return self.setup_for(strategy_name)

    @pytest.fixture
    def ray_session(self, request: pytest.FixtureRequest) -> Any:
        try:
            return request.getfixturevalue(self.ray_fixture)
        except pytest.FixtureLookupError:
            return None

    def test_same_seed_same_candidates_serially(self, strategy_name: str, conformance: ConformanceSetup,
                                                tmp_path: Path) -> None:
        check_serial_determinism(strategy_name, tmp_path, conformance)

    def test_ray_records_what_serial_records(self, strategy_name: str, conformance: ConformanceSetup,
                                             tmp_path: Path, ray_session: Any) -> None:
        check_ray_equals_serial(strategy_name, tmp_path, conformance, workers=self.ray_workers)

    @pytest.mark.slow
    def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(
            self, strategy_name: str, conformance: ConformanceSetup, tmp_path: Path) -> None:
        check_sigkill_resume(strategy_name, tmp_path, conformance)

    def test_failed_candidate_is_recorded_and_the_search_goes_on(
            self, strategy_name: str, conformance: ConformanceSetup, tmp_path: Path) -> None:
        check_failures_recorded(strategy_name, tmp_path, conformance)

    def test_every_proposal_is_inside_the_space(self, strategy_name: str, conformance: ConformanceSetup,
                                                tmp_path: Path) -> None:
        check_proposals_in_space(strategy_name, tmp_path, conformance)

    def test_budget_is_exact_and_a_raised_budget_extends_the_run(
            self, strategy_name: str, conformance: ConformanceSetup, tmp_path: Path) -> None:
        check_budget(strategy_name, tmp_path, conformance)
