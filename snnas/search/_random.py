"""Random search: the baseline every other strategy is compared against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from snnas.runs import CandidateRecord
from snnas.search._strategy import STRATEGIES, Proposal, Strategy, genome_of

#: Draws per candidate before a repeated architecture is accepted (the space is nearly exhausted).
MAX_RESAMPLE = 64


@STRATEGIES.register("random", description="uniform samples from the space, each trained briefly from "
                     "scratch (proxy epochs) and scored; the baseline for every other strategy")
class RandomSearch(Strategy):
    """Candidate ``i`` is ``space.sample(numpy.random.default_rng([seed, i]))``.

    Duplicates: an architecture already proposed at a lower index is re-drawn from the same
    per-index generator, up to :data:`MAX_RESAMPLE` times; after that the repeat is kept (only a
    space smaller than the budget gets there). The set of earlier architectures is itself a pure
    function of the seed, so the rule is deterministic and a resumed run proposes the same list.
    """

    name = "random"
    batch_size = None

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        seen: set[str] = set()
        for i in range(start + count):
            rng = np.random.default_rng([seed, i])
            arch = space.sample(rng)
            for _ in range(MAX_RESAMPLE - 1):
                if arch.id not in seen:
                    break
                arch = space.sample(rng)
            seen.add(arch.id)
            if i >= start:
                yield Proposal(arch, genome_of(space, arch))
