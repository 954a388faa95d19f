"""Every registered strategy passes the conformance suite of snnas.testing: the parametrisation is
read from the registry, so a strategy is tested the moment it is registered."""

import pytest

from snnas.search import STRATEGIES
from snnas.testing import StrategyConformance


@pytest.mark.parametrize("strategy_name", STRATEGIES.names())
class TestRegisteredStrategy(StrategyConformance):
    """The cases of :class:`snnas.testing.StrategyConformance`, once per registered strategy."""
