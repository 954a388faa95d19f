"""Random search and evaluate_candidate on a shipped space (snnas.space, snnas.nn, snnas.evaluate)."""

from pathlib import Path

import numpy as np
import optuna
import pytest
import toy_space

from snnas.runs import RunStore
from snnas.search import eval_config_for, evaluate_candidate, search

space_mod = pytest.importorskip("snnas.space")
DIGITS = Path(__file__).resolve().parents[2] / "search_spaces" / "digits.yaml"


def test_random_search_on_the_digits_space_records_genomes_and_objectives(tmp_path):
    space = space_mod.load_space(DIGITS)
    res = search(DIGITS, tmp_path / "run", budget=6, seed=2, evaluate=toy_space.evaluate_any, quiet=True)
    assert [r.arch for r in res.records] == [space.sample(np.random.default_rng([2, i])) for i in range(6)]
    for r in res.records:
        assert space.decode(list(r.genome)) == r.arch
    with RunStore.open(res.run_dir, readonly=True) as store:
        assert [(o.metric, o.direction) for o in store.objectives] == [("accuracy", "maximize"),
                                                                       ("energy_mj", "minimize")]
        assert store.config["eval_config"] == eval_config_for(space)
        assert (store.path / "space.yaml").read_text() == DIGITS.read_text()
        trial = store.study.trials[0]
        lo, hi = space.bounds()
        assert len(trial.params) == space.n_genes
        # named by decision, categorical over the real choices (optuna-dashboard reads them as such)
        assert list(trial.distributions) == [d.name for d in space.decisions]
        assert all(isinstance(d, optuna.distributions.CategoricalDistribution) for d in trial.distributions.values())
        assert [len(d.choices) - 1 for d in trial.distributions.values()] == [int(h) for h in hi]
    assert res.reports["pareto_csv"].is_file()


def test_eval_config_for_reads_the_space_and_overrides():
    space = space_mod.load_space(DIGITS)
    cfg = eval_config_for(space, epochs=1, max_batches=2)
    assert cfg["dataset"] == "digits" and cfg["hardware"] == "45nm-fp32" and not cfg["data_per_time_steps"]
    assert cfg["train"] == {"epochs": 1, "batch_size": 64, "lr": 0.005, "encoding": "direct",
                            "max_batches": 2, "bn_recalibrate": 4, "schedule": "none"}
    assert cfg["device"] == "auto" and eval_config_for(space, device="cpu")["device"] == "cpu"


@pytest.mark.slow  # trains a network (seconds on an idle machine, much longer on a busy one)
def test_evaluate_candidate_trains_and_measures_a_real_network():
    space = space_mod.load_space(DIGITS)
    arch = space.sample(np.random.default_rng([0, 3]))
    cfg = dict(eval_config_for(space, epochs=1, batch_size=32, max_batches=2), seed=5)
    out = evaluate_candidate(str(DIGITS), arch.to_json(), cfg)
    assert out["failed"] is None, out["failed"]
    assert 0.0 <= out["accuracy"] <= 1.0 and out["energy_mj"] > 0 and out["time_steps"] == arch.time_steps
    bad = evaluate_candidate(str(DIGITS), arch.to_json(), dict(cfg, train={"epochs": 1, "nope": 3}))
    assert bad["failed"] == "ValueError: unknown training option(s): nope"
