"""Evolution with one-shot scoring: a real weight-entangled supernet trained on digits (a few
batches), candidates scored with inherited weights in this process and on a real local Ray."""

import pickle
from pathlib import Path

import pytest
import torch

from snnas.export import export_candidate
from snnas.runs import RunStore
from snnas.search import RayBackend, SerialBackend, resume, search
from snnas.search._backend import Shared
from snnas.search._candidate import CANDIDATE_WEIGHTS, candidate_weights_name
from snnas.search._oneshot import ONESHOT_DIR
from snnas.space import load_space
from snnas.testing import write_space

TINY = """\
description: tiny transformer space for one-shot tests
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10, time_steps: [1, 2], encoding: direct}
family: transformer
transformer: {embed_dim: [8, 16], depth: [1, 2], heads: [1, 2], mlp_ratio: [1, 2], attention: ssa,
              patch_size: 4, stem_stages: 2}
neuron: {kind: lif, tau: [2.0, 4.0], threshold: [0.5, 1.0], reset: hard, detach_reset: true, shared: true}
surrogate: {family: sigmoid, width: 4.0}
objectives: {accuracy: max, energy_mj: min}
search: {strategy: evolution, population: 4, supernet_epochs: 2, batch_size: 32, lr: 0.01, final_top_k: 0}
"""
OPTS = {"max_batches": 3, "threads": 1}
THRESHOLD = 4
"""TINY's gene index of neuron.threshold."""


def _run(tmp_path, name, budget, workers=1):
    f = write_space(tmp_path / f"{name}.yaml", TINY)
    return search(f, tmp_path / name, strategy="evolution", budget=budget, seed=4, workers=workers, quiet=True,
                  argv=["t"], reports=False, strategy_options=OPTS)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("oneshot"), "serial", 6)


def test_candidates_are_scored_with_inherited_weights_and_export_what_was_scored(serial):
    run = serial.run_dir
    assert [r.index for r in serial.records] == list(range(6)) and not any(r.failed for r in serial.records)
    state = torch.load(run / ONESHOT_DIR / "entangled.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    accs = {r.metrics["accuracy"] for r in serial.records}
    assert len(accs) > 1 and all(0.0 <= a <= 1.0 for a in accs)
    r = serial.records[0]
    scored = torch.load(run / CANDIDATE_WEIGHTS / candidate_weights_name(r.index, r.id), weights_only=True)
    from snnas.supernet import subnet_state_dict

    space = load_space(run / "space.yaml")
    inherited = subnet_state_dict(space, r.arch, {**state["model"], **state["ema"]})  # the averaged weights
    weights = [k for k in scored if "running" not in k and "num_batches" not in k]
    assert weights and all(torch.equal(scored[k], inherited[k]) for k in weights), "weights are the slices"
    assert any(not torch.equal(scored[k], inherited[k]) for k in scored if "running_mean" in k), "BN recalibrated"
    paths = export_candidate(run, r.id)
    assert "checkpoints" in str(paths["source"])


def test_ray_scores_what_serial_scores_and_ships_the_weights_once(serial, tmp_path, ray_local):
    par = _run(tmp_path, "ray", 6, workers=2)
    assert [x.key() for x in par.records] == [x.key() for x in serial.records]
    weights = {f"w{i}": torch.zeros(256, 256) for i in range(4)}  # 1 MiB
    backend = RayBackend(workers=2)
    shared = backend.share(weights)
    assert len(pickle.dumps(shared)) < 2000 < len(pickle.dumps(SerialBackend().share(weights)))
    assert torch.equal(ray_local.get(ray_local.remote(lambda s: s.get()["w0"]).remote(shared)), weights["w0"])
    assert isinstance(SerialBackend().share(weights), Shared) and SerialBackend().share(weights).get() is weights


def test_a_resumed_run_keeps_its_supernet_and_extends_like_an_uninterrupted_one(serial, tmp_path):
    part = _run(tmp_path, "part", 3)
    path = part.run_dir / ONESHOT_DIR / "entangled.pt"
    stamp = path.stat().st_mtime_ns
    again = resume(part.run_dir, budget=6, quiet=True, argv=["t"], reports=False)
    assert path.stat().st_mtime_ns == stamp, "the trained supernet is loaded, not trained again"
    assert [x.key() for x in again.records] == [x.key() for x in serial.records]
    with RunStore.open(part.run_dir, readonly=True) as store:
        assert store.config["budget"] == 6


@pytest.mark.parametrize(("split", "ensemble"), [(None, 1), (["neuron.threshold"], 1), (None, 2)])
def test_supernet_training_killed_between_epochs_resumes_to_the_same_weights(tmp_path, split, ensemble):
    """What a SIGKILL during supernet training leaves: the checkpoint of the last finished epoch (of
    each partition of a few-shot split, each member of an ensemble); a new run object trains on
    from it and ends with the weights of an uninterrupted training."""
    from snnas.search._oneshot import OneShotSupernet

    space = load_space(write_space(tmp_path / "s.yaml", TINY))
    stores = {}
    for name in ("whole", "killed"):
        f = write_space(tmp_path / f"{name}.yaml", TINY)
        stores[name] = RunStore.create(tmp_path / name, f, {"seed": 0}, objectives=space)
    cfg = {"dataset": "digits", "device": "cpu"}
    kw = {"lr": 0.01, "batch_size": 32, "seed": 0, "threads": 1, "max_batches": 2, "split": split,
          "ensemble": ensemble}
    whole = OneShotSupernet(space, stores["whole"], cfg, epochs=2, **kw).train(quiet=True)
    OneShotSupernet(space, stores["killed"], cfg, epochs=1, **kw).train(quiet=True)  # "killed" after epoch 1
    again = OneShotSupernet(space, stores["killed"], cfg, epochs=2, **kw)
    assert [t.epoch for t in again.trainers.values()] == [1] * (1 if split is None else 2) * ensemble
    resumed = again.train(quiet=True)
    if ensemble > 1:
        assert len(resumed["members"]) == len(whole["members"]) == ensemble
        resumed, whole = resumed["members"][1], whole["members"][1]
    if split:
        assert resumed["split_genes"] == whole["split_genes"] == [THRESHOLD]
        assert sorted(resumed["parts"]) == ["0", "1"]
        resumed, whole = resumed["parts"]["1"], whole["parts"]["1"]
    assert resumed.keys() == whole.keys() and all(torch.equal(resumed[k], whole[k]) for k in whole)
    for s in stores.values():
        s.close()


def test_few_shot_split_scores_each_candidate_with_its_partitions_supernet(tmp_path):
    """``search.supernet_split``: one supernet per choice of the split genes, each trained only on
    subnets with those genes pinned; a candidate's scored weights are slices of its own partition's
    supernet, not of the other's; the one-supernet files are not written."""
    from snnas.evaluate import load_dataset
    from snnas.supernet import SandwichConfig, SandwichTrainer, subnet_state_dict

    text = TINY.replace("final_top_k: 0}", "final_top_k: 0, supernet_split: [neuron.threshold]}")
    f = write_space(tmp_path / "split.yaml", text)
    res = search(f, tmp_path / "split", strategy="evolution", budget=4, seed=4, quiet=True, argv=["t"],
                 reports=False, strategy_options=OPTS)
    run = res.run_dir
    assert not (run / ONESHOT_DIR / "entangled.pt").exists()
    states = {k: torch.load(run / ONESHOT_DIR / f"entangled@{k}.pt", weights_only=True) for k in "01"}
    assert all((run / ONESHOT_DIR / f"entangled@{k}-history.json").exists() for k in "01")
    space = load_space(run / "space.yaml")
    assert space.decisions[THRESHOLD].name == "neuron.threshold"
    assert not any(r.failed for r in res.records)
    for r in res.records:
        part = str(space.encode(r.arch)[THRESHOLD])
        scored = torch.load(run / CANDIDATE_WEIGHTS / candidate_weights_name(r.index, r.id), weights_only=True)
        own, other = (subnet_state_dict(space, r.arch, {**states[k]["model"], **states[k]["switch"],
                                                        **states[k]["ema"]}) for k in (part, "10"[int(part)]))
        weights = [k for k in scored if "running" not in k and "num_batches" not in k]
        assert all(torch.equal(scored[k], own[k]) for k in weights), r.arch.summary()
        assert not all(torch.equal(scored[k], other[k]) for k in weights)
    trainer = SandwichTrainer(space, load_dataset("digits"), SandwichConfig(fixed=((THRESHOLD, 1),)))
    drawn = [space.encode(a) for step in range(5) for a in trainer.sandwich(0, step)]
    assert {g[THRESHOLD] for g in drawn} == {1} and len({g[1] for g in drawn}) == 2  # the rest still varies


def test_an_ensemble_scores_each_candidate_with_the_mean_of_its_members(tmp_path, serial):
    """``search.supernet_ensemble: 2``: a second supernet at seed + 1 beside the first (which is the
    one-supernet run's, bit for bit); each candidate's accuracy, energy and firing rates are the
    means of its scores with either member alone; the weights kept are the first member's."""
    from snnas.search._evaluation import candidate_seed
    from snnas.search._oneshot import RECALIBRATE_BATCHES, OneShotSupernet, evaluate_oneshot

    text = TINY.replace("final_top_k: 0}", "final_top_k: 0, supernet_ensemble: 2}")
    res = search(write_space(tmp_path / "ens.yaml", text), tmp_path / "ens", strategy="evolution", budget=6,
                 seed=4, quiet=True, argv=["t"], reports=False, strategy_options=OPTS)
    run = res.run_dir
    one, first, second = (torch.load(d / ONESHOT_DIR / n, weights_only=True) for d, n in (
        (serial.run_dir, "entangled.pt"), (run, "entangled.pt"), (run, "entangled-s1.pt")))
    assert (run / ONESHOT_DIR / "entangled-s1-history.json").exists() and second["epoch"] == 2
    assert all(torch.equal(first["model"][k], one["model"][k]) for k in one["model"])
    assert not all(torch.equal(first["model"][k], second["model"][k]) for k in one["model"])
    assert [r.key() for r in res.records][:4] != [r.key() for r in serial.records][:4]  # other scores
    space = load_space(run / "space.yaml")
    with RunStore.open(run, readonly=True) as store:
        members = OneShotSupernet(space, store, {"dataset": "digits"}, epochs=2, lr=0.01, batch_size=32, seed=4,
                                  threads=1, ensemble=2).train(quiet=True)["members"]
        base = dict(store.config["eval_config"], threads=1, recalibrate=RECALIBRATE_BATCHES, weights_dir=None)
    for r in res.records[:2]:
        cfg = dict(base, seed=candidate_seed(4, r.index), index=r.index)
        alone = [evaluate_oneshot(space, r.arch.to_json(), dict(cfg, supernet=Shared(w))) for w in members]
        assert alone[0]["accuracy"] != alone[1]["accuracy"] or alone[0]["energy_mj"] != alone[1]["energy_mj"]
        for key in ("accuracy", "energy_mj", "acs", "mean_firing_rate"):
            assert r.metrics[key] == pytest.approx((alone[0][key] + alone[1][key]) / 2, rel=1e-9), key
        layer = next(iter(alone[0]["firing_rates"]))
        assert r.metrics["firing_rates"][layer] == pytest.approx(
            (alone[0]["firing_rates"][layer] + alone[1]["firing_rates"][layer]) / 2, rel=1e-9)
        kept = torch.load(run / CANDIDATE_WEIGHTS / candidate_weights_name(r.index, r.id), weights_only=True)
        again = evaluate_oneshot(space, r.arch.to_json(), dict(cfg, supernet=Shared(members[0]),
                                                               weights_path=str(tmp_path / "w.pt")))
        assert again["accuracy"] == alone[0]["accuracy"]
        ref = torch.load(tmp_path / "w.pt", weights_only=True)
        assert all(torch.equal(kept[k], ref[k]) for k in ref)


def test_a_few_shot_split_names_genes_of_a_transformer_space(tmp_path):
    from snnas.errors import SpaceError
    from snnas.search._oneshot import OneShotSupernet

    text = TINY.replace("final_top_k: 0}", "final_top_k: 0, supernet_split: [neuron.thresh]}")
    space = load_space(write_space(tmp_path / "bad.yaml", text))
    kw = {"epochs": 1, "lr": 0.01, "batch_size": 32, "seed": 0}
    with pytest.raises(SpaceError, match="'neuron.thresh' is not a gene of this space; genes: time_steps") as e:
        OneShotSupernet(space, None, {"dataset": "digits"}, split=space.defaults["supernet_split"], **kw)
    assert "bad.yaml" in str(e.value) and "search.supernet_split" in str(e.value)
    text = TINY.replace("final_top_k: 0}", "final_top_k: 0, supernet_ensemble: 16, "
                        "supernet_split: [neuron.threshold, neuron.tau, time_steps]}")
    space = load_space(write_space(tmp_path / "many.yaml", text))
    with pytest.raises(SpaceError, match="8 partitions x 16 members is more than 64 supernets") as e:
        OneShotSupernet(space, None, {"dataset": "digits"}, split=space.defaults["supernet_split"],
                        ensemble=space.defaults["supernet_ensemble"], **kw)
    assert "many.yaml" in str(e.value) and "search.supernet_ensemble" in str(e.value)
    cells = load_space(Path(__file__).resolve().parents[2] / "search_spaces" / "digits.yaml")
    with pytest.raises(SpaceError, match="few-shot split needs a transformer space"):
        OneShotSupernet(cells, None, {"dataset": "digits"}, split=["time_steps"], **kw)
