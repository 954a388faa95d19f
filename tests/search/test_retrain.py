"""Retraining a run's candidate: seeds go through the search's backend (one Ray lifecycle), results and
weights land in RUN/retrain/<id>/, and export then prefers the best retrained seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snnas.errors import RunError
from snnas.export import export_candidate, weights_source
from snnas.runs import RunStore
from snnas.search import RETRAIN_DIR, SerialBackend, TaskFailure, eval_config_for, final_config, retrain, search
from snnas.search import _retrain as retrain_mod
from snnas.space import load_space, load_space_text

DIGITS = Path(__file__).resolve().parents[2] / "search_spaces" / "digits.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A one-candidate run, trained on two batches (the recipe retraining reuses)."""
    out = tmp_path_factory.mktemp("retrain") / "run"
    cfg = eval_config_for(load_space(DIGITS), epochs=1, batch_size=32, max_batches=2)
    search(DIGITS, out, budget=1, seed=4, eval_config=cfg, quiet=True, reports=False, final={"top_k": 0})
    return out


class _Recording(SerialBackend):
    """Serial, but fails one seed as a dead Ray worker would, and remembers how it was made."""

    made: list = []

    def map(self, fn, tasks):
        for task, result in super().map(fn, tasks):
            yield task, TaskFailure("WorkerCrashedError: killed") if task.seed == 1 else result


def test_retrain_runs_seeds_on_the_search_backend(run, monkeypatch):
    def make_backend(workers, address, start_hint, gpus=0.0):
        _Recording.made.append((workers, address, start_hint, gpus))
        return _Recording()

    monkeypatch.setattr(retrain_mod, "make_backend", make_backend)
    with RunStore.open(run, readonly=True) as store:
        rec = store.records()[0]
    res = retrain(run, rec.id[:6], epochs=1, seeds=3, workers=2, quiet=True)
    assert _Recording.made == [(2, None, retrain_mod._HINT, 0.0)]
    assert [s["seed"] for s in res["seeds"]] == [0, 1, 2]
    assert res["failed"] == ["WorkerCrashedError: killed"]
    assert res["seeds"][1] == {"seed": 1, "failed": "WorkerCrashedError: killed", "epochs": 1}
    ok = [s for s in res["seeds"] if not s.get("failed")]
    assert res["best_weights"] == max(ok, key=lambda s: s["accuracy"])["weights"]
    folder = run / RETRAIN_DIR / rec.id
    assert json.loads((folder / "results.json").read_text()) == json.loads(json.dumps(res))
    assert weights_source(run, rec)[0] == folder / res["best_weights"]  # export prefers the retrained seed
    paths = export_candidate(run, rec.id, run / "exported")
    assert paths["model"].is_file()


def test_retrain_rejects_bad_counts_and_unknown_ids(run):
    with pytest.raises(Exception, match="must be >= 1"):
        retrain(run, "x", seeds=0)
    with pytest.raises(RunError, match="no candidate with id 'zzzz'"):
        retrain(run, "zzzz", quiet=True)


def test_final_stage_retrains_an_architecture_recorded_twice_once(run, tmp_path):
    """A dhs supernet may derive the same network in several rounds: both records sit on the front
    (equal objectives), but the final stage's top-k counts distinct architectures."""
    import shutil

    from snnas.search import top_of_front

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    with RunStore.open(copy) as store:
        rec = store.records()[0]
        store.record(1, rec.arch, rec.genome, dict(rec.metrics))
        other = load_space(DIGITS).sample(11)
        store.record(2, other, None, {**rec.metrics, "accuracy": rec.metrics["accuracy"] / 2,
                                      "energy_mj": rec.metrics["energy_mj"] / 2})
        assert len(store.records()) == 3
        assert [r.index for r in top_of_front(store, 3)] == [0, 2]
        assert [r.index for r in top_of_front(store, 1)] == [0]


def test_spread_pick_covers_the_front_from_most_accurate_to_least_energy(run, tmp_path):
    """``pick="spread"``: the most accurate, then evenly spaced positions of the front down to its
    cheapest end; ``first`` keeps the k most accurate; a bad pick is one clear error."""
    import shutil

    from snnas.search import top_of_front

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    space = load_space(DIGITS)
    with RunStore.open(copy) as store:
        rec = store.records()[0]
        acc, energy = rec.metrics["accuracy"], rec.metrics["energy_mj"]
        for i in range(1, 7):  # a front of 7: each less accurate and cheaper than the one before
            store.record(i, space.sample(100 + i), None, {**rec.metrics, "accuracy": acc * (1 - 0.05 * i),
                                                          "energy_mj": energy * (1 - 0.1 * i)})
        store.record(7, space.sample(200), None, {**rec.metrics, "accuracy": acc / 2, "energy_mj": energy * 2})
        assert [r.index for r in top_of_front(store, 3)] == [0, 1, 2]
        assert [r.index for r in top_of_front(store, 3, "spread")] == [0, 3, 6]
        assert [r.index for r in top_of_front(store, 4, "spread")] == [0, 2, 4, 6]
        assert [r.index for r in top_of_front(store, 1, "spread")] == [0]
        assert [r.index for r in top_of_front(store, 9, "spread")] == list(range(7))  # dominated 7 never
        with pytest.raises(RunError, match="pick must be one of first, spread, got 'best'"):
            top_of_front(store, 3, "best")
    assert final_config(space, pick="spread")["pick"] == "spread"
    assert final_config(space)["pick"] == "first"
    assert final_config(load_space_text(open(DIGITS).read() + "  final_pick: spread\n", name="x"))["pick"] == "spread"


def test_final_lr_sets_the_retraining_learning_rate_only(tmp_path):
    from snnas.search._final import retrain_recipe

    space = load_space(DIGITS)
    cfg = eval_config_for(space, epochs=1, batch_size=32, max_batches=1)
    out = tmp_path / "run"
    search(DIGITS, out, budget=1, seed=4, eval_config=cfg, quiet=True, reports=False,
           final={"top_k": 0, "lr": 0.02})
    with RunStore.open(out, readonly=True) as store:
        assert store.config["final"]["lr"] == 0.02
        recipe = retrain_recipe(store, space, 7)
        assert recipe["train"]["lr"] == 0.02 and recipe["train"]["epochs"] == 7 and recipe["split"] == "test"
        assert store.config["eval_config"]["train"]["lr"] == space.defaults["lr"]  # the proxy keeps its own
        # the proxy's constant LR stays with the proxy; the full recipe anneals (TrainConfig's cosine)
        assert store.config["eval_config"]["train"]["schedule"] == "none" and "schedule" not in recipe["train"]
        assert recipe["train"]["bn_recalibrate"] == store.config["eval_config"]["train"]["bn_recalibrate"]
    # without one, the space's final_lr (digits: 0.01), else the search's lr
    assert final_config(space)["lr"] == space.defaults["final_lr"]
    assert final_config(load_space_text(open(DIGITS).read().replace("  final_lr: 0.01", ""), name="x"))["lr"] is None
