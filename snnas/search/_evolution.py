"""Evolutionary multi-objective search (``--strategy evolution``): pymoo's NSGA-II over the space's
integer genome, driven through ask/tell so that every candidate goes through the shared evaluate
function, backend and store like any other strategy's.

One generation is one batch (``batch_size`` = population). Generation g is proposed only after every
candidate of generations < g is recorded, and it is computed by *replaying* the run: a fresh NSGA-II
seeded from the run seed asks generation 0, is told the recorded metrics, asks generation 1, ... up to
g. pymoo draws all its randomness from ``algorithm.random_state`` (a ``numpy.random.Generator`` seeded
here, never numpy's global state), so the replay is exact: a run resumed mid-generation, on any number
of workers, proposes what an uninterrupted run proposes.

ESNN (Auto-Spikformer's evolutionary SNN neurons): the neuron genes (time steps, and every
``neuron.*`` field: tau, threshold, kind, reset, surrogate, width) mutate with their own rate, the
architecture genes with theirs. Objectives come from the space (default: max accuracy, min energy);
its constraints (energy, params, ...) are pymoo inequality constraints, and a failed candidate is
infeasible (it never breeds ahead of a working one). Duplicates are eliminated against everything
already evaluated, not only within a generation, by canonical genome (one architecture, one genome).

Surrogate pre-screening (``prescreen: k``, surrogate-assisted NSGA-II as in NSGANet and MSuNAS): from
generation 1 on, the mating breeds ``k x population`` unseen children, a ridge regression on the one-hot
genome fitted to every candidate recorded so far predicts each child's objectives and constraint
violations (the logarithm of a one-signed one), and pymoo's rank-and-crowding survival on the
predictions (predicted infeasible behind feasible) picks the ``population`` that are trained. The
others are never scored nor recorded; the fit is deterministic, so the replay stays exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from snnas.errors import RunError
from snnas.runs import CandidateRecord
from snnas.search._evaluation import EvalJob
from snnas.search._strategy import STRATEGIES, Proposal, Strategy

FAILED_F = 1e12
"""Objective value given to a failed candidate (minimisation form): dominated by any real one."""

SCORINGS = ("auto", "oneshot", "proxy")
"""How candidates are scored: inherited weights of a supernet trained once (``oneshot``: the
weight-entangled supernet of a transformer space, the single-path supernet of a cell space), a short
training from scratch (``proxy``), or ``auto``: oneshot for transformer spaces, proxy for cells (on
digits, single-path one-shot ranks cells at Kendall tau 0.46 against the 2-epoch proxy, which costs
only ~2 s a candidate there: results/oneshot_cells.md)."""


def is_neuron_gene(name: str) -> bool:
    """True for the genes ESNN mutates at its own rate: T and the per-layer/block neuron fields."""
    return name == "time_steps" or "neuron." in name


def _pymoo_parts(space: Any, seen: set[tuple[int, ...]], arch_rate: float, neuron_rate: float):
    """The pymoo operators over ``space``'s genome: canonicalising repair, unique sampling, uniform
    crossover, ESNN mutation and duplicate elimination against ``seen`` (mutated by the caller as
    candidates are evaluated)."""
    from pymoo.core.duplicate import DuplicateElimination
    from pymoo.core.mutation import Mutation
    from pymoo.core.repair import Repair
    from pymoo.core.sampling import Sampling

    sizes = np.array([len(d.choices) for d in space.decisions], dtype=np.int64)
    rates = np.array([neuron_rate if is_neuron_gene(d.name) else arch_rate for d in space.decisions])

    class Canonical(Repair):
        """Genes to integers within bounds, then the canonical genome of the architecture they decode
        to (genes a decision ignores are zeroed), so one architecture has one genome."""

        def _do(self, problem, X, **kwargs):
            X = np.clip(np.rint(np.asarray(X, dtype=float)), 0, sizes - 1).astype(np.int64)
            return np.array([space.canonical(x.tolist()) for x in X], dtype=np.int64).reshape(X.shape)

    class UniqueSampling(Sampling):
        """Uniform genomes, canonical and unseen (up to 100 draws per member: a tiny space may end)."""

        def _do(self, problem, n_samples, random_state=None, **kwargs):
            out: list[list[int]] = []
            keys = set(seen)
            for _ in range(100 * n_samples):
                if len(out) == n_samples:
                    break
                g = space.random_genome(random_state)
                if tuple(g) not in keys:
                    keys.add(tuple(g))
                    out.append(g)
            return np.array(out, dtype=np.int64).reshape(len(out), len(sizes))

    class ESNNMutation(Mutation):
        """Each gene is redrawn (to a different choice) with its own rate: ``neuron_rate`` for ESNN's
        neuron genes, ``arch_rate`` for the others; an individual picked for mutation changes at
        least one gene."""

        def _do(self, problem, X, random_state=None, **kwargs):
            X = np.asarray(X, dtype=np.int64).copy()
            movable = sizes > 1
            for row in X:
                hit = (random_state.random(len(sizes)) < rates) & movable
                if not hit.any() and movable.any():
                    hit[random_state.choice(np.flatnonzero(movable))] = True
                for i in np.flatnonzero(hit):
                    row[i] = (row[i] + random_state.integers(1, sizes[i])) % sizes[i]
            return X

    class ArchiveDuplicates(DuplicateElimination):
        """Duplicates within the offspring, against the population, and against every genome
        evaluated so far in the run (``seen``)."""

        def _do(self, pop, other, is_duplicate):
            X = [tuple(int(v) for v in x) for x in pop.get("X")]
            if other is None:
                first: set[tuple[int, ...]] = set()
                for i, x in enumerate(X):
                    is_duplicate[i] = x in first or x in seen
                    first.add(x)
            else:
                others = {tuple(int(v) for v in x) for x in other.get("X")}
                is_duplicate |= np.array([x in others for x in X], dtype=bool)
            return is_duplicate

    return Canonical(), UniqueSampling(), ESNNMutation(), ArchiveDuplicates()


def _one_hot(space: Any, X: np.ndarray) -> np.ndarray:
    sizes = [len(d.choices) for d in space.decisions]
    X = np.asarray(X, dtype=np.int64).reshape(-1, len(sizes))
    return np.concatenate([np.eye(n)[X[:, i]] for i, n in enumerate(sizes)], axis=1)


def predict_objectives(space: Any, X: np.ndarray, F: np.ndarray, X_new: np.ndarray) -> np.ndarray:
    """The surrogate of pre-screening: per column of ``F`` (objectives in minimisation form, then
    constraint violations), a ridge regression (scikit-learn, alpha 1) on the one-hot genome, fitted to
    ``log |F|`` when the column has one sign (energies, accuracies: their effects multiply) and to ``F``
    otherwise; returns the predictions for ``X_new`` in ``F``'s form and sign."""
    from sklearn.linear_model import Ridge

    A, B = _one_hot(space, X), _one_hot(space, X_new)
    out = np.empty((len(B), F.shape[1]))
    for j, y in enumerate(F.T):
        sign = 1.0 if (y > 0).all() else -1.0 if (y < 0).all() else 0.0
        target = np.log(np.abs(y)) if sign else y
        pred = Ridge(alpha=1.0).fit(A, target).predict(B)
        out[:, j] = sign * np.exp(pred) if sign else pred
    return out


@STRATEGIES.register("evolution", description="NSGA-II (pymoo, ask/tell) over the genome with ESNN neuron "
                     "mutations, objectives and constraints from the space; budget = evaluations, one "
                     "generation of `population` per batch")
class EvolutionSearch(Strategy):
    """Options (each defaults to the space's ``search`` key): ``population`` (8), ``generations``
    (sets the budget to ``population x generations`` when no budget is given), ``crossover_prob``
    (0.9, uniform crossover), ``mutation_rate`` (per architecture gene, default 1 / their number),
    ``neuron_mutation_rate`` (per neuron gene: T, tau, threshold, ...; default 0.2), ``prescreen``
    (breed that many times the population from generation 1 on and train only the population the
    surrogate ranks best; default 1: off)."""

    name = "evolution"

    def _setup(self, space: Any, store: Any, seed: int) -> None:
        self.oneshot = None
        scoring = str(self._option("scoring", "auto"))
        if scoring not in SCORINGS:
            raise RunError(f"evolution: scoring must be one of {', '.join(SCORINGS)}, got '{scoring}'")
        if scoring == "auto":
            scoring = "oneshot" if space.family == "transformer" else "proxy"
        self.scoring = scoring
        if scoring != "oneshot":
            return
        from snnas.search._oneshot import OneShotSupernet

        self.oneshot = OneShotSupernet(space, store, self.eval_config, epochs=int(self._option("supernet_epochs", 10)),
                                       lr=float(self._option("lr", 0.005)),
                                       batch_size=int(self._option("batch_size", 64)), seed=seed,
                                       threads=self.options.get("threads"), max_batches=self.options.get("max_batches"),
                                       split=self._option("supernet_split"),
                                       ensemble=int(self._option("supernet_ensemble", 1)))

    def _job(self, job: EvalJob) -> EvalJob:
        """One-shot scoring replaces the default from-scratch proxy (a user's own evaluate function,
        e.g. a benchmark table, is kept): the supernet is trained (or resumed) here and its weights
        shared with the workers once."""
        from snnas.search._candidate import evaluate_candidate
        from snnas.search._oneshot import RECALIBRATE_BATCHES, evaluate_oneshot

        if self.oneshot is None or job.evaluate is not evaluate_candidate:
            return job
        weights = self.backend.share(self.oneshot.train(quiet=self.quiet))
        return EvalJob(evaluate_oneshot, job.space_ref, {**job.config, "supernet": weights,
                                                          "recalibrate": RECALIBRATE_BATCHES})

    def _option(self, key: str, default: Any = None) -> Any:
        if self.options.get(key) is not None:
            return self.options[key]
        space = getattr(self, "space", None)
        value = (getattr(space, "defaults", None) or {}).get(key)
        return default if value is None else value

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        pop = int(self._option("population", 8))
        if pop < 2:
            raise RunError(f"evolution: population must be >= 2, got {pop}")
        return pop

    def default_budget(self, space: Any) -> int | None:
        gens = self.options.get("generations") or (getattr(space, "defaults", None) or {}).get("generations")
        if not gens:
            return None
        self.space = space
        return int(gens) * self.batch_size

    def _rates(self, space: Any) -> tuple[float, float]:
        n_arch = sum(not is_neuron_gene(d.name) for d in space.decisions)
        arch = float(self._option("mutation_rate", 1.0 / max(n_arch, 1)))
        neuron = float(self._option("neuron_mutation_rate", 0.2))
        for name, v in (("mutation_rate", arch), ("neuron_mutation_rate", neuron)):
            if not 0.0 <= v <= 1.0:
                raise RunError(f"evolution: {name} must be in [0, 1], got {v:g}")
        return arch, neuron

    @property
    def prescreen(self) -> int:
        k = self._option("prescreen", 1)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
            raise RunError(f"evolution: prescreen must be an integer in [1, 100], got {k!r}")
        return k

    def _algorithm(self, space: Any, seed: int, seen: set[tuple[int, ...]]):
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.problem import Problem
        from pymoo.operators.crossover.ux import UniformCrossover

        if space.n_genes == 0:
            raise RunError("evolution: the space has no searchable decision")
        repair, sampling, mutation, dupes = _pymoo_parts(space, seen, *self._rates(space))
        xl, xu = space.bounds()
        n_constr = 1 + len(self.store.constraints)  # "failed" + the space's constraints
        problem = Problem(n_var=space.n_genes, n_obj=len(self.store.objectives), n_ieq_constr=n_constr,
                          xl=xl, xu=xu, vtype=int)
        algo = NSGA2(pop_size=self.batch_size, sampling=sampling, repair=repair, mutation=mutation,
                     crossover=UniformCrossover(prob=float(self._option("crossover_prob", 0.9))),
                     eliminate_duplicates=dupes, seed=int(np.random.SeedSequence([seed, 0xE70]).generate_state(1)[0]))
        algo.setup(problem, termination=("n_gen", 1 << 30))
        return algo

    def _fitness(self, records: list[CandidateRecord]) -> tuple[np.ndarray, np.ndarray]:
        """(F, G) in pymoo's minimisation form: objectives negated where maximised; G = [failed,
        constraint violations...]; failed candidates get :data:`FAILED_F` and violation 1."""
        objs, n_c = self.store.objectives, len(self.store.constraints)
        F = np.full((len(records), len(objs)), FAILED_F)
        G = np.ones((len(records), 1 + n_c))
        for k, r in enumerate(records):
            vals = [r.value(o.metric) for o in objs]
            if r.failed or any(v is None for v in vals):
                continue
            F[k] = [-v if o.maximize else v for v, o in zip(vals, objs, strict=True)]
            G[k, 0] = -1.0
            G[k, 1:] = list(r.violations)[:n_c] + [0.0] * (n_c - len(r.violations))
        return F, G

    def _screen(self, space: Any, pop, records: list[CandidateRecord]):
        """The ``batch_size`` children of ``pop`` that the surrogate, fitted to ``records``, ranks best
        (rank and crowding on the predicted objectives); all of ``pop`` when it is no larger or fewer
        than two candidates have worked."""
        from pymoo.core.problem import Problem
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

        F, G = self._fitness(records)
        ok = G[:, 0] < 0
        if pop is None or len(pop) <= self.batch_size or ok.sum() < 2:
            return pop
        X = np.array([r.genome for r, good in zip(records, ok, strict=True) if good], dtype=np.int64)
        n_obj, n_c = F.shape[1], G.shape[1] - 1  # the space's constraints are predicted too
        pred = predict_objectives(space, X, np.hstack([F[ok], G[ok, 1:]]), pop.get("X"))
        pop.set("F", pred[:, :n_obj])
        if n_c:
            pop.set("G", pred[:, n_obj:])  # predicted infeasible children rank behind feasible ones
        problem = Problem(n_var=space.n_genes, n_obj=n_obj, n_ieq_constr=n_c)
        chosen = RankAndCrowding().do(problem, pop, n_survive=self.batch_size,
                                      random_state=np.random.default_rng(len(records)))
        keep = {tuple(int(v) for v in x) for x in chosen.get("X")}
        return pop[[tuple(int(v) for v in x) in keep for x in pop.get("X")]]  # in the mating's order

    def _generation(self, algo, space: Any, seed: int, gen: int, seen: set[tuple[int, ...]],
                    records: list[CandidateRecord]):
        """Ask generation ``gen`` (pre-screened by the surrogate fitted to ``records`` when
        ``prescreen`` > 1); a short ask (the mating ran out of unseen children) is topped up with
        unseen uniform samples from a generator seeded by (seed, gen)."""
        k = self.prescreen if gen else 1
        algo.n_offsprings = k * self.batch_size
        pop = algo.ask()  # None when the mating found no unseen child at all
        if k > 1:
            pop = self._screen(space, pop, records)
        X = [] if pop is None else [tuple(int(v) for v in x) for x in pop.get("X")]
        if len(X) < self.batch_size:
            from pymoo.core.population import Population

            rng = np.random.default_rng([seed, gen, 0x70F])
            keys = set(seen) | set(X)
            for _ in range(100 * self.batch_size):
                if len(X) >= self.batch_size:
                    break
                g = tuple(space.random_genome(rng))
                if g not in keys:
                    keys.add(g)
                    X.append(g)
            pop = Population.new(X=np.array(X, dtype=np.int64).reshape(len(X), space.n_genes))
        return pop, X

    def _propose(self, space: Any, start: int, count: int, seed: int,
                 history: list[CandidateRecord]) -> Iterator[Proposal]:
        n = self.batch_size
        target = start // n
        seen: set[tuple[int, ...]] = set()
        algo = self._algorithm(space, seed, seen)
        for gen in range(target + 1):
            pop, X = self._generation(algo, space, seed, gen, seen, history[:gen * n])
            if gen == target:
                for x in X[:count]:
                    yield Proposal(space.decode(list(x)), x)
                return
            records = history[gen * n:(gen + 1) * n]
            if [tuple(r.genome or ()) for r in records] != X[:len(records)]:
                raise RunError(f"run {self.store.path}: generation {gen} replays differently from what the "
                               "store recorded; the run's seed, space file or strategy options changed")
            if len(records) < len(X):  # the budget ended inside this generation: nothing to breed from
                return
            seen.update(X)
            F, G = self._fitness(records)
            pop.set("F", F, "G", G)
            algo.tell(infills=pop)

    def _finish(self, records: list[CandidateRecord]) -> None:
        """``RUN/generations.png``: the front after each generation (a plot never costs a run)."""
        from snnas.report import plot_generations

        try:
            plot_generations(records, self.store.objectives, self.batch_size, self.store.path / "generations.png",
                             self.store.constraints)
        except Exception as e:
            (self.store.path / "generations.err").write_text(str(e))
