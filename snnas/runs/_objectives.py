"""Search objectives and constraints: which metrics a run optimises, in which direction, and which
limits make a candidate infeasible.

The run store needs the directions to create its Optuna study, and the report writer needs them for
non-dominated sorting and the hypervolume. Both read them through :func:`objectives_of`, which accepts
whatever the search space declares (objects, dicts or strings), so the two stay consistent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from snnas.errors import RunError

_DIRECTIONS = {"max": "maximize", "maximize": "maximize", "maximise": "maximize",
               "min": "minimize", "minimize": "minimize", "minimise": "minimize"}

#: Metrics that are better when larger; every other metric is minimised unless a direction is given.
MAXIMIZED_BY_DEFAULT = frozenset({"accuracy"})

#: What a run optimises when the space declares nothing: accuracy up, energy per sample down.
DEFAULT_OBJECTIVES: tuple[tuple[str, str], ...] = (("accuracy", "maximize"), ("energy_mj", "minimize"))


@dataclass(frozen=True)
class Objective:
    """One optimised metric (a key of ``Metrics.to_dict()``) and its direction."""

    metric: str
    direction: str = "minimize"

    def __post_init__(self) -> None:
        if self.direction not in ("maximize", "minimize"):
            raise RunError(f"objective '{self.metric}': direction must be maximize or minimize, "
                           f"got '{self.direction}'")

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def to_dict(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": self.direction}


def _one(item: Any) -> Objective:
    if isinstance(item, Objective):
        return item
    if isinstance(item, str):
        words = item.replace(":", " ").split()
        if len(words) == 2 and words[0].lower() in _DIRECTIONS:
            return Objective(words[1], _DIRECTIONS[words[0].lower()])
        if len(words) == 2 and words[1].lower() in _DIRECTIONS:
            return Objective(words[0], _DIRECTIONS[words[1].lower()])
        return Objective(item, "maximize" if item in MAXIMIZED_BY_DEFAULT else "minimize")
    if isinstance(item, Mapping):
        metric = item.get("metric", item.get("name"))
        direction = item.get("direction", item.get("goal"))
    elif isinstance(item, tuple) and len(item) == 2:
        metric, direction = item
    else:
        metric = getattr(item, "metric", getattr(item, "name", None))
        direction = getattr(item, "direction", getattr(item, "goal", None))
    if not isinstance(metric, str):
        raise RunError(f"cannot read an objective from {item!r}: it names no metric")
    if direction is None:
        direction = "maximize" if metric in MAXIMIZED_BY_DEFAULT else "minimize"
    try:
        return Objective(metric, _DIRECTIONS[str(direction).lower()])
    except KeyError:
        raise RunError(f"objective '{metric}': direction must be maximize or minimize, "
                       f"got '{direction}'") from None


def objectives_of(source: Any = None) -> tuple[Objective, ...]:
    """The objectives declared by ``source``: a search space (its ``objectives`` attribute), a list
    of objectives/dicts/strings such as ``"max accuracy"``, a ``{metric: direction}`` mapping, or
    None for :data:`DEFAULT_OBJECTIVES`."""
    items = getattr(source, "objectives", source)
    if callable(items):
        items = items()
    if items is None:
        items = DEFAULT_OBJECTIVES
    if isinstance(items, Mapping) and not ({"metric", "name"} & set(items)):
        items = list(items.items())  # {"accuracy": "max", "energy_mj": "min"}
    if isinstance(items, (str, Mapping)) or not isinstance(items, Iterable):
        items = [items]
    objs = tuple(_one(i) for i in items)
    if not objs:
        raise RunError("a search needs at least one objective")
    names = [o.metric for o in objs]
    if len(set(names)) != len(names):
        raise RunError(f"objectives name a metric twice: {', '.join(names)}")
    return objs


@dataclass(frozen=True)
class Constraint:
    """A limit on a metric, ``metric <= bound`` or ``metric >= bound``; a candidate that breaks one
    is infeasible (kept in the store and candidates.csv, left out of the Pareto front)."""

    metric: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">="):
            raise RunError(f"constraint on '{self.metric}': operator must be <= or >=, got '{self.op}'")

    def violation(self, metrics: Mapping[str, Any]) -> float:
        """How far ``metrics`` break the limit (<= 0: satisfied; inf: metric missing/non-finite)."""
        v = metrics.get(self.metric)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return math.inf
        return float(v) - self.bound if self.op == "<=" else self.bound - float(v)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "bound": self.bound}

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


def _constraint(item: Any) -> Constraint:
    if isinstance(item, Constraint):
        return item
    if isinstance(item, str):
        parts = item.split()
        if len(parts) != 3:
            raise RunError(f"constraint '{item}': expected '<metric> <= <number>' or '>='")
        item = parts
    if isinstance(item, Mapping):
        item = (item.get("metric"), item.get("op"), item.get("bound"))
    try:
        metric, op, bound = item
        return Constraint(str(metric), str(op), float(bound))
    except (TypeError, ValueError):
        raise RunError(f"cannot read a constraint from {item!r}") from None


def constraints_of(source: Any = None) -> tuple[Constraint, ...]:
    """The constraints of ``source``: a search space (its ``constraints``), a list of constraints,
    ``(metric, op, bound)`` tuples, dicts or strings such as ``"energy_mj <= 0.05"``, or None."""
    items = getattr(source, "constraints", source)
    if isinstance(items, (str, Mapping)):
        items = [items]
    if items is None or not isinstance(items, Iterable):  # e.g. a space that declares none
        return ()
    return tuple(_constraint(i) for i in items)
