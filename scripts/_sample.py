"""Distinct random architectures for the benchmark scripts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def distinct_archs(space: Any, n: int, rng_for: Callable[[int], np.random.Generator] | None = None,
                   tries: int = 1000) -> list:
    """The first ``n`` distinct architectures drawn with ``rng_for(i)`` for draw ``i`` (default: a
    generator seeded by ``[7, i]``, so every script ranks the same subnets); fewer if ``tries``
    draws do not find ``n``."""
    rng_for = rng_for or (lambda i: np.random.default_rng([7, i]))
    archs, seen = [], set()
    for i in range(tries):
        a = space.sample(rng_for(i))
        if a.id not in seen:
            seen.add(a.id)
            archs.append(a)
        if len(archs) == n:
            break
    return archs
