"""The `Strategy` interface and the strategy registry.

pymoo style: the public :meth:`Strategy.run` does all bookkeeping (skipping candidates already in
the store, checking that a resumed run proposes what it proposed before, dispatching to the backend,
recording each result as it arrives, progress) and subclasses only implement :meth:`_propose`.

Determinism is what makes resume and parallelism exact: candidate ``i`` must be a pure function of
the run seed, ``i`` and, for adaptive strategies, the results of earlier *batches* only. A strategy
declares its ``batch_size`` (None: proposals never depend on results); batch ``b`` is proposed only
after every candidate of earlier batches is recorded, so completion order, the number of workers
and where a run was killed cannot change what is proposed. Each candidate's training seed is
:func:`candidate_seed` ``(seed, i)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from snnas.errors import RunError
from snnas.registry import Registry
from snnas.runs import CandidateRecord, RunStore
from snnas.search._backend import Backend, SerialBackend, TaskFailure
from snnas.search._evaluation import CandidateTask, EvalJob, EvaluateFn, candidate_seed
from snnas.space._architecture import Architecture

STRATEGIES: Registry[type[Strategy]] = Registry("search strategy")


@dataclass(frozen=True)
class Proposal:
    """A candidate a strategy wants evaluated: the architecture and its genome (None if the space
    has no encoding)."""

    arch: Architecture
    genome: tuple[Any, ...] | None = None


def genome_of(space: Any, arch: Architecture) -> tuple[Any, ...] | None:
    """``space.encode(arch)`` as a tuple of Python scalars, or None when the space cannot encode."""
    encode = getattr(space, "encode", None)
    if encode is None:
        return None
    genome = encode(arch)
    return tuple(g.item() if hasattr(g, "item") else g for g in genome)


def gene_specs(space: Any) -> list[tuple[str, Any]] | None:
    """(name, choices) per gene: the space's named decisions, else ``g000, g001, ...`` over the
    integer range of ``space.bounds`` (spaces that only expose bounds)."""
    decisions = getattr(space, "decisions", None)
    bounds = gene_bounds(space)
    if decisions is not None and (bounds is None or len(decisions) == len(bounds)):
        try:
            return [(str(d.name), tuple(d.choices)) for d in decisions]
        except (AttributeError, TypeError):
            pass
    if bounds is None:
        return None
    return [(f"g{i:03d}", range(lo, hi + 1)) for i, (lo, hi) in enumerate(bounds)]


def gene_bounds(space: Any) -> list[tuple[int, int]] | None:
    """(low, high) per gene from ``space.bounds``: pymoo-style ``(xl, xu)`` or a list of pairs."""
    b = getattr(space, "bounds", None)
    if callable(b):
        b = b()
    if b is None:
        return None
    try:
        arr = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2:
        return None
    pairs = arr.T if arr.shape[0] == 2 else arr if arr.shape[1] == 2 else None
    if pairs is None or not np.all(np.isfinite(pairs)):
        return None
    return [(int(lo), int(hi)) for lo, hi in pairs]


class Strategy(ABC):
    """A search method. Subclasses set ``name``/``batch_size`` and implement :meth:`_propose`."""

    name: ClassVar[str] = ""
    batch_size: int | None = None

    def __init__(self, **options: Any):
        self.options = options

    def run(self, space: Any, store: RunStore, *, evaluate: EvaluateFn, budget: int, seed: int,
            backend: Backend | None = None, eval_config: dict | None = None, space_ref: Any = None,
            quiet: bool = False) -> list[CandidateRecord]:
        """Evaluate candidates ``0 .. budget-1`` (those not yet in ``store``) and record each.

        ``evaluate(space_ref, arch_json, eval_config)`` runs on ``backend`` (serial by default);
        ``space_ref`` defaults to the run's copy of the space file. Returns all records by index.
        """
        if budget < 0:
            raise RunError(f"budget must be >= 0, got {budget}")
        backend = backend or SerialBackend()
        job = EvalJob(evaluate, str(store.space_path.resolve()) if space_ref is None else space_ref,
                      dict(eval_config or {}))
        genes = gene_specs(space)
        self.space, self.store, self.seed = space, store, seed
        self.eval_config, self.backend, self.quiet = dict(eval_config or {}), backend, quiet
        self._setup(space, store, seed)
        job = self._job(job)
        recorded = {r.index: r for r in store.records()}
        bar = tqdm(total=budget, initial=sum(1 for i in recorded if i < budget), disable=quiet,
                   desc=f"{self.name or type(self).__name__} search", unit="cand", dynamic_ncols=True)
        try:
            start = 0
            while start < budget:
                count = budget - start if self.batch_size is None else min(self.batch_size, budget - start)
                history = [recorded[i] for i in sorted(recorded) if i < start]
                proposals: dict[int, Proposal] = {}
                short: list[bool] = []
                tasks = self._tasks(space, store, start, count, seed, history, recorded, proposals, short)
                results = backend.map(job, tasks)
                try:
                    for task, result in results:
                        prop = proposals.pop(task.index)
                        failed = result.reason if isinstance(result, TaskFailure) else None
                        metrics = None if failed else result
                        rec = store.record(task.index, prop.arch, prop.genome, metrics, failed,
                                           seed=task.seed, genes=genes)
                        recorded[rec.index] = rec
                        bar.update(1)
                        bar.set_postfix_str(_postfix(store, recorded.values()), refresh=False)
                finally:  # on Ctrl-C or an error, closing the generator cancels work in flight
                    getattr(results, "close", lambda: None)()
                if short:  # the strategy ran out of candidates (e.g. a tiny space)
                    break
                start += count
        finally:
            bar.close()
        records = store.records()
        self._finish(records)
        return records

    def _tasks(self, space: Any, store: RunStore, start: int, count: int, seed: int,
               history: list[CandidateRecord], recorded: dict[int, CandidateRecord],
               proposals: dict[int, Proposal], short: list[bool]) -> Iterator[CandidateTask]:
        """Tasks for the proposals of one batch, skipping (after checking) those already recorded;
        appends to ``short`` when the strategy proposed fewer than ``count``."""
        n = 0
        for n, prop in enumerate(self._propose(space, start, count, seed, history), 1):
            index = start + n - 1
            if n > count:
                raise RunError(f"strategy '{self.name}' proposed more than {count} candidates")
            done = recorded.get(index)
            if done is not None:
                if done.id != prop.arch.id:
                    raise RunError(
                        f"run {store.path}: candidate {index} is {done.id} in the store but strategy "
                        f"'{self.name}' now proposes {prop.arch.id}; the run's seed, space file or "
                        "strategy options changed since it started")
                continue
            proposals[index] = prop
            yield CandidateTask(index, prop.arch.to_json(), candidate_seed(seed, index))
        if n < count:
            short.append(True)

    def default_budget(self, space: Any) -> int | None:
        """The budget when neither the caller nor the space's ``search.budget`` gives one (None: no
        opinion); e.g. evolution's ``population x generations``."""
        return None

    def _setup(self, space: Any, store: RunStore, seed: int) -> None:  # noqa: B027 - optional hook
        """Called once per :meth:`run` before proposing: restore state from ``store``'s checkpoints
        (e.g. a supernet) here. ``self.space``/``self.store``/``self.seed``, the run's
        ``self.eval_config`` (data set, device, hardware, ...) and ``self.backend`` are already set."""

    def _job(self, job: EvalJob) -> EvalJob:
        """The evaluation candidates go through, after :meth:`_setup`: by default the run's evaluate
        function; a strategy may score its own way (e.g. inherited supernet weights)."""
        return job

    def _finish(self, records: list[CandidateRecord]) -> None:  # noqa: B027 - optional hook
        """Called once the budget is recorded (not when interrupted): e.g. write a strategy's own plot."""

    @abstractmethod
    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterable[Proposal]:
        """Candidates ``start .. start+count-1`` (lazily is fine; fewer ends the search).

        Must be a pure function of the arguments: ``history`` holds the records of every candidate
        with index < ``start``, ordered by index."""


def _postfix(store: RunStore, records: Iterable[CandidateRecord]) -> str:
    records = list(records)
    failed = sum(r.failed for r in records)
    first = store.objectives[0]
    vals = [v for r in records if not r.failed and (v := r.value(first.metric)) is not None]
    best = (max if first.maximize else min)(vals) if vals else None
    from snnas.report import format_metric  # accuracy in %, energy in nJ/uJ/mJ, as everywhere

    return f"best {first.metric}={format_metric(first.metric, best)} failed={failed}"


def make_strategy(name: str, **options: Any) -> Strategy:
    """The strategy registered as ``name`` (unknown names list the valid ones)."""
    return STRATEGIES.get(name)(**options)


def list_strategies() -> list[tuple[str, str]]:
    """(name, one-line description) of every registered strategy, for ``--list-strategies``."""
    return [(n, STRATEGIES.meta(n).get("description", "")) for n in STRATEGIES.names()]
