import numpy as np
import pytest
import toy_space

from snnas.errors import RunError, UnknownNameError
from snnas.runs import RunStore
from snnas.search import (
    STRATEGIES,
    CandidateTask,
    EvalJob,
    RandomSearch,
    SerialBackend,
    TaskFailure,
    candidate_seed,
    evaluate_candidate,
    gene_bounds,
    list_strategies,
    make_backend,
    make_strategy,
    search,
)


def run_search(tmp_path, toy_file, name="run", **kw):
    kw.setdefault("budget", 12)
    kw.setdefault("seed", 5)
    return search(toy_file, tmp_path / name, evaluate=toy_space.evaluate, load_space=toy_space.load,
                  quiet=True, argv=["test"], **kw)


def test_registry_lists_random_and_rejects_unknown_names():
    assert "random" in STRATEGIES and STRATEGIES.get("random") is RandomSearch
    assert dict(list_strategies())["random"]
    with pytest.raises(UnknownNameError, match="did you mean 'random'"):
        make_strategy("randm")


def test_candidate_i_is_a_pure_function_of_seed_and_index(tmp_path, toy_file):
    res = run_search(tmp_path, toy_file, budget=8, reports=False)
    space = toy_space.load(toy_file)
    expected = [space.sample(np.random.default_rng([5, i])) for i in range(8)]
    assert [r.arch for r in res.records] == expected  # no duplicates in 8 draws of 1728
    assert [r.genome for r in res.records] == [tuple(space.encode(a)) for a in expected]
    assert [r.seed for r in res.records] == [candidate_seed(5, i) for i in range(8)]
    assert len({candidate_seed(5, i) for i in range(100)}) == 100


def test_duplicates_are_redrawn_until_the_space_is_exhausted(tmp_path):
    f = toy_space.write(tmp_path / "tiny.json", sizes=[3, 1, 1, 1, 1, 1])
    res = search(f, tmp_path / "run", budget=5, seed=1, evaluate=toy_space.evaluate,
                 load_space=toy_space.load, quiet=True, reports=False)
    ids = [r.id for r in res.records]
    assert len(set(ids[:3])) == 3 and len(set(ids)) == 3 and len(ids) == 5


def test_resume_detects_a_changed_seed(tmp_path, toy_file):
    res = run_search(tmp_path, toy_file, budget=4, reports=False)
    space = toy_space.load(toy_file)
    with RunStore.open(res.run_dir) as store, pytest.raises(RunError, match="seed, space file"):
        RandomSearch().run(space, store, evaluate=toy_space.evaluate, budget=6, seed=99, quiet=True)


def test_backends_turn_crashes_into_failures():
    def boom(task):
        raise MemoryError("no room")

    assert list(SerialBackend().map(boom, [1])) == [(1, TaskFailure("MemoryError: no room"))]
    job = EvalJob(toy_space.evaluate, None, {})
    out = job(CandidateTask(0, "{not json", 3))
    assert out["failed"].startswith("SpaceError: architecture is not valid JSON")
    assert make_backend(1).__class__.__name__ == "SerialBackend"
    assert make_backend(3).__class__.__name__ == "RayBackend"
    assert make_backend(1, address="ray://nowhere:1").workers == 1  # nothing started until map


def test_evaluate_candidate_never_raises():
    out = evaluate_candidate("/nonexistent/space.yaml", "{}", {"seed": 1})
    assert isinstance(out["failed"], str) and out["failed"]


def test_gene_bounds_reads_pymoo_and_pair_layouts():
    assert gene_bounds(toy_space.ToySpace((2, 3, 4))) == [(0, 1), (0, 2), (0, 3)]

    class Pairs:
        bounds = [(0, 4), (1, 2), (0, 9)]

    assert gene_bounds(Pairs()) == [(0, 4), (1, 2), (0, 9)]
    assert gene_bounds(object()) is None
