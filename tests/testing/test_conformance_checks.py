"""The conformance checks are not vacuous: a strategy that breaks one rule fails that check, and the
``conformance`` hook a strategy declares reaches the setup.

The broken strategies are registered only while their test runs (the registry has no public way to
unregister, so the test restores its tables), so the parametrised suite never sees them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from snnas.runs import CandidateRecord
from snnas.search import STRATEGIES, Proposal, RandomSearch, Strategy, genome_of
from snnas.testing import (
    ConformanceSetup,
    check_budget,
    check_proposals_in_space,
    check_serial_determinism,
    conformance_setup,
)


class Unseeded(Strategy):
    """Draws from an unseeded generator: no two runs agree."""

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        rng = np.random.default_rng()
        for _ in range(count):
            arch = space.sample(rng)
            yield Proposal(arch, genome_of(space, arch))


class OffByOneTimeStep(RandomSearch):
    """Proposes architectures with a time-step count the space does not offer."""

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        for p in super()._propose(space, start, count, seed, history):
            yield Proposal(dataclasses.replace(p.arch, time_steps=p.arch.time_steps + 1), p.genome)


class GenomeOutOfBounds(RandomSearch):
    """Records a genome whose first gene is past its upper bound."""

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        for p in super()._propose(space, start, count, seed, history):
            yield Proposal(p.arch, (99, *p.genome[1:]))


class OneShort(RandomSearch):
    """Stops one candidate before the budget."""

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        yield from list(super()._propose(space, start, count, seed, history))[:-1]


class Declares(RandomSearch):
    conformance = {"budget": 4, "kill_after": 2, "strategy_options": {"x": 1}}


SMALL = ConformanceSetup(budget=4, tiny_space=None)
"""Enough to see each rule broken, at half the default budget."""


@pytest.fixture
def register(monkeypatch):
    def add(name: str, cls: type[Strategy]) -> str:
        monkeypatch.setitem(STRATEGIES._items, name, cls)
        monkeypatch.setitem(STRATEGIES._meta, name, {"description": cls.__doc__ or ""})
        return name

    return add


def test_a_strategy_without_a_fixed_seed_fails_determinism(tmp_path, register):
    with pytest.raises(AssertionError, match="two serial runs with seed 3: the candidate lists differ"):
        check_serial_determinism(register("unseeded", Unseeded), tmp_path, SMALL)


@pytest.mark.parametrize(("cls", "message"), [(OffByOneTimeStep, "is not in the space"),
                                              (GenomeOutOfBounds, "genes outside the bounds")])
def test_a_strategy_leaving_the_space_fails(tmp_path, register, cls, message):
    with pytest.raises(AssertionError, match=message):
        check_proposals_in_space(register("outside", cls), tmp_path, SMALL)


def test_a_strategy_short_of_its_budget_fails(tmp_path, register):
    with pytest.raises(AssertionError, match=r"expected candidates 0\.\.3 recorded once each"):
        check_budget(register("short", OneShort), tmp_path, SMALL)


def test_a_strategy_declares_its_setup_on_its_class(register):
    setup = conformance_setup(register("declares", Declares))
    assert (setup.budget, setup.kill_after, dict(setup.strategy_options)) == (4, 2, {"x": 1})
    assert setup.evaluate is ConformanceSetup().evaluate
    assert setup.eval_config == {"raise_at": [1], "fail_at": [2]} and sorted(setup.failures) == [1, 2]
    assert conformance_setup("random") == ConformanceSetup()

    class Typo(RandomSearch):
        conformance = {"budgte": 4}

    with pytest.raises(TypeError, match="unknown conformance field.*budgte"):
        conformance_setup(register("typo", Typo))
    with pytest.raises(ValueError, match="kill_after"):
        ConformanceSetup(budget=4, kill_after=4)
    with pytest.raises(ValueError, match="give eval_config and failures together"):
        ConformanceSetup(eval_config={"raise_at": [1]})
