"""The evolution strategy: real pymoo NSGA-II through ask/tell, recorded in a real SQLite store,
scored by the conformance suite's toy evaluate function (no training: these test the search)."""

import numpy as np
import pytest

from snnas.errors import RunError
from snnas.report import hypervolume, reference_box
from snnas.runs import RunStore, objectives_of
from snnas.search import EvolutionSearch, resume, search
from snnas.search._evolution import _pymoo_parts, is_neuron_gene, predict_objectives
from snnas.space import load_space
from snnas.testing import CONFORMANCE_SPACE, toy_evaluate, write_space


@pytest.fixture
def space_file(tmp_path):
    return write_space(tmp_path / "space.yaml", CONFORMANCE_SPACE)


def _search(space_file, out, strategy="evolution", **kw):
    kw.setdefault("budget", 16)
    kw.setdefault("seed", 1)
    return search(space_file, out, strategy=strategy, evaluate=toy_evaluate, eval_config={}, quiet=True,
                  argv=["test"], reports=False, **kw)


def test_generations_are_batches_of_the_population_and_every_genome_is_new(space_file, tmp_path):
    res = _search(space_file, tmp_path / "run", budget=16, strategy_options={"population": 4})
    space = load_space(space_file)
    genomes = [tuple(r.genome) for r in res.records]
    assert [r.index for r in res.records] == list(range(16))
    assert len(set(genomes)) == 16, "duplicates are eliminated against every evaluated genome"
    for r in res.records:  # canonical genomes of architectures inside the space
        assert list(r.genome) == space.encode(r.arch) and space.satisfies_static(r.arch)
    assert (tmp_path / "run" / "generations.png").stat().st_size > 0
    with RunStore.open(tmp_path / "run", readonly=True) as store:  # what the SQLite study holds
        assert len(store.records()) == 16 and all(not r.failed for r in store.records())


@pytest.mark.parametrize("prescreen", [1, 3])
def test_a_run_stopped_inside_a_generation_resumes_to_the_uninterrupted_run(space_file, tmp_path, prescreen):
    opts = {"population": 4, "prescreen": prescreen}
    whole = _search(space_file, tmp_path / "whole", budget=14, strategy_options=opts)
    part = _search(space_file, tmp_path / "part", budget=6, strategy_options=opts)  # gen 1 half done
    assert [r.key() for r in part.records] == [r.key() for r in whole.records[:6]]
    again = resume(tmp_path / "part", budget=14, evaluate=toy_evaluate, quiet=True, argv=["test"], reports=False)
    assert [r.key() for r in again.records] == [r.key() for r in whole.records]


def test_evolution_beats_random_at_the_same_number_of_evaluations(space_file, tmp_path):
    """On the toy scores (accuracy grows with convs and T, energy with width and convs) NSGA-II's
    front dominates more than uniform sampling's after 5 generations, seed for seed on average."""
    space = load_space(space_file)
    ratios = []
    for seed in range(3):
        runs = {s: _search(space_file, tmp_path / f"{s}{seed}", strategy=s, budget=40, seed=seed,
                           strategy_options={"population": 8} if s == "evolution" else {})
                for s in ("evolution", "random")}
        both = [r for res in runs.values() for r in res.records]
        objs = objectives_of(space)
        _, ref = reference_box(both, objs)  # one box for both runs
        hv = {s: hypervolume(res.records, objs, reference=ref).value for s, res in runs.items()}
        ratios.append(hv["evolution"] / hv["random"])
    assert np.mean(ratios) > 1.03, ratios


def test_prescreening_by_the_surrogate_beats_plain_nsga2(space_file, tmp_path):
    """Breeding 4x the population and training the quarter the surrogate ranks best finds a better
    front than plain NSGA-II at the same 40 evaluations (toy scores: accuracy and energy are sums of
    gene effects, which the ridge model learns), seed for seed on average; the candidates differ
    from generation 1 on, and generation 0 is the same uniform sample."""
    space = load_space(space_file)
    objs = objectives_of(space)
    gains = []
    for seed in range(3):
        runs = {k: _search(space_file, tmp_path / f"k{k}s{seed}", budget=40, seed=seed,
                           strategy_options={"population": 8, "prescreen": k}) for k in (1, 4)}
        plain, screened = runs[1].records, runs[4].records
        assert [r.genome for r in plain[:8]] == [r.genome for r in screened[:8]]
        assert [r.genome for r in plain[8:]] != [r.genome for r in screened[8:]]
        _, ref = reference_box(plain + screened, objs)
        gains.append(hypervolume(screened, objs, reference=ref).value / hypervolume(plain, objs, reference=ref).value)
    assert np.mean(gains) > 1.02, gains


def test_prescreening_prefers_children_the_surrogate_predicts_feasible(space_file, tmp_path):
    """With an energy limit half the space breaks, the children pre-screening picks out of 32 (its
    surrogate fitted to 24 recorded candidates) break it far less often than the 24 it leaves."""
    from pymoo.core.population import Population

    f = write_space(tmp_path / "c.yaml", CONFORMANCE_SPACE.replace(
        "hardware: 45nm-fp32", "hardware: 45nm-fp32\nconstraints: ['energy_mj <= 8.2e-5']"))
    space = load_space(f)
    _search(f, tmp_path / "c", strategy="random", budget=24, seed=0)
    strat = EvolutionSearch(population=8)
    rng = np.random.default_rng(3)
    picked, left = [], []
    with RunStore.open(tmp_path / "c", readonly=True) as store:
        strat.store, records = store, store.records()
        seen = {tuple(r.genome) for r in records}
        for _ in range(4):
            X = []
            while len(X) < 32:
                g = tuple(space.random_genome(rng))
                if g not in seen and g not in X:
                    X.append(g)
            chosen = strat._screen(space, Population.new(X=np.array(X)), records)
            keep = {tuple(int(v) for v in x) for x in chosen.get("X")}
            assert len(keep) == 8
            for g in X:
                arch = space.decode(list(g))
                metrics = toy_evaluate(str(f), arch.to_json(), {"seed": 0})
                (picked if g in keep else left).append(store.constraints[0].violation(metrics) > 0)
    assert np.mean(picked) < 0.5 * np.mean(left), (np.mean(picked), np.mean(left))


def test_the_surrogate_ranks_unseen_genomes_of_an_additive_model(space_file):
    """The pre-screening surrogate: fitted to 40 genomes whose objectives are a sum of gene effects
    (accuracy, maximised: negative in minimisation form) and a product of them (energy), it orders
    100 unseen genomes nearly as the model does, in the objectives' own form and sign."""
    from scipy.stats import kendalltau

    space = load_space(space_file)
    rng = np.random.default_rng(0)
    effects = [rng.normal(0.0, 0.1, len(d.choices)) for d in space.decisions]

    def model(X):
        s = np.array([sum(e[g] for e, g in zip(effects, x, strict=True)) for x in X])
        return np.column_stack([-(0.5 + 0.2 * s), 1e-3 * np.exp(s)])

    X = np.array([space.random_genome(rng) for _ in range(140)])
    F = model(X)
    P = predict_objectives(space, X[:40], F[:40], X[40:])
    assert (P[:, 0] < 0).all() and (P[:, 1] > 0).all()
    for j in range(2):
        assert kendalltau(P[:, j], F[40:, j])[0] > 0.8


def test_generations_set_the_budget(space_file, tmp_path):
    res = _search(space_file, tmp_path / "g", budget=None, strategy_options={"population": 4, "generations": 3})
    assert len(res.records) == 12
    with RunStore.open(tmp_path / "g", readonly=True) as store:
        assert store.config["budget"] == 12


def test_esnn_mutation_moves_neuron_genes_at_their_own_rate(space_file):
    space = load_space(space_file)
    neuron = np.array([is_neuron_gene(d.name) for d in space.decisions])
    assert neuron.any() and (~neuron).any()
    assert {d.name for d, n in zip(space.decisions, neuron, strict=True) if n} >= {"time_steps", "neuron.tau"}
    rng = np.random.default_rng(0)
    X = np.array([space.random_genome(rng) for _ in range(50)])
    _, _, only_neurons, _ = _pymoo_parts(space, set(), arch_rate=0.0, neuron_rate=1.0)
    Y = only_neurons._do(None, X, random_state=np.random.default_rng(1))
    assert (Y[:, ~neuron] == X[:, ~neuron]).all() and (Y[:, neuron] != X[:, neuron]).all()
    _, _, only_arch, _ = _pymoo_parts(space, set(), arch_rate=1.0, neuron_rate=0.0)
    Z = only_arch._do(None, X, random_state=np.random.default_rng(1))
    assert (Z[:, neuron] == X[:, neuron]).all() and (Z[:, ~neuron] != X[:, ~neuron]).all()


def test_failed_and_infeasible_candidates_rank_behind_working_ones(space_file, tmp_path):
    text = CONFORMANCE_SPACE.replace("hardware: 45nm-fp32", "hardware: 45nm-fp32\nconstraints: ['params <= 200000']")
    f = write_space(tmp_path / "c.yaml", text)
    res = search(f, tmp_path / "c", strategy="evolution", budget=8, seed=0, evaluate=toy_evaluate,
                 eval_config={"fail_at": [1]}, quiet=True, argv=["t"], reports=False,
                 strategy_options={"population": 4})
    strat = EvolutionSearch(population=4)
    with RunStore.open(tmp_path / "c", readonly=True) as store:
        strat.store = store
        F, G = strat._fitness(store.records())
    assert G.shape == (8, 2) and G[1, 0] > 0 and (F[1] >= 1e12).all()  # the failed one
    for k, r in enumerate(res.records):
        if not r.failed:
            assert G[k, 0] < 0 and np.isclose(G[k, 1], r.metrics["params"] - 200000)
            assert np.isclose(F[k, 0], -r.metrics["accuracy"]) and np.isclose(F[k, 1], r.metrics["energy_mj"])


def test_bad_options_are_one_line_errors(space_file, tmp_path):
    with pytest.raises(RunError, match="population must be >= 2"):
        _search(space_file, tmp_path / "p", strategy_options={"population": 1})
    with pytest.raises(RunError, match="prescreen must be an integer in"):
        _search(space_file, tmp_path / "k", strategy_options={"prescreen": 0})
    with pytest.raises(RunError, match="neuron_mutation_rate must be in"):
        _search(space_file, tmp_path / "m", strategy_options={"neuron_mutation_rate": 2.0})
