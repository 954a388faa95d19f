import json
import math

import optuna
import pytest
import torch

from snnas.errors import RunError
from snnas.runs import COMPLETE, FAILED, Objective, RunStore, objectives_of
from snnas.space._architecture import Architecture, NeuronSpec


def arch(ch: int = 8, t: int = 4) -> Architecture:
    n = NeuronSpec(kind="lif", tau=2.0)
    return Architecture(family="cell", time_steps=t, neurons=(n, n),
                        cell=(((0, "conv_3x3"),), ((1, "skip"),)), trellis=(0, 1), stem_channels=ch)


def metrics(acc: float, e: float, **kw) -> dict:
    d = {"accuracy": acc, "energy_mj": e, "macs": 10.0, "acs": 20.0, "firing_rates": {"l0": 0.25},
         "mean_firing_rate": 0.25, "params": 123, "time_steps": 4, "wall_time_s": 1.5, "failed": None}
    d.update(kw)
    return d


@pytest.fixture
def space_file(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text("name: toy\n")
    return p


@pytest.fixture
def store(tmp_path, space_file):
    s = RunStore.create(tmp_path / "run", space_file, {"seed": 7, "strategy": "random", "argv": ["x"]})
    yield s
    s.close()


def test_create_lays_out_the_run_directory(store, space_file):
    d = store.path
    assert (d / "space.yaml").read_text() == space_file.read_text()
    assert (d / "candidates.db").is_file() and (d / "checkpoints").is_dir() and (d / ".lock").is_file()
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["seed"] == 7 and cfg["argv"] == ["x"]
    assert cfg["objectives"] == [{"metric": "accuracy", "direction": "maximize"},
                                 {"metric": "energy_mj", "direction": "minimize"}]
    assert {"snnas", "torch", "optuna", "ray", "pymoo"} <= set(cfg["versions"])
    d = optuna.study.StudyDirection
    assert store.study.directions == [d.MAXIMIZE, d.MINIMIZE]


def test_record_and_read_back_round_trip(store):
    a0, a1, a2 = arch(8), arch(16), arch(32)
    genes = [(f"g{i:03d}", range(0, 4)) for i in range(3)]
    store.record(2, a2, [0, 1, 2], metrics(0.9, 3.0), seed=11, genes=genes)
    store.record(0, a0, [1, 1, 1], metrics(0.5, 1.0), seed=12, genes=genes)
    store.record(1, a1, [2, 2, 2], None, failed="RuntimeError: out of memory", seed=13)
    recs = store.records()
    assert [r.index for r in recs] == [0, 1, 2]
    assert [r.arch for r in recs] == [a0, a1, a2]
    assert [r.genome for r in recs] == [(1, 1, 1), (2, 2, 2), (0, 1, 2)]
    assert [r.state for r in recs] == [COMPLETE, FAILED, COMPLETE]
    assert recs[1].reason == "RuntimeError: out of memory" and recs[1].metrics == {}
    assert recs[0].metrics == {k: v for k, v in metrics(0.5, 1.0).items() if k != "failed"}
    assert [r.seed for r in recs] == [12, 13, 11]
    assert store.done_indices() == {0, 1, 2}
    # what optuna-dashboard sees: an independent load of the SQLite study
    study = optuna.load_study(study_name="snnas", storage=store.storage_url)
    by_index = {t.user_attrs["index"]: t for t in study.trials}
    assert by_index[0].values == [0.5, 1.0] and by_index[0].state == optuna.trial.TrialState.COMPLETE
    assert by_index[0].params == {"g000": 1, "g001": 1, "g002": 1}
    assert isinstance(by_index[0].distributions["g000"], optuna.distributions.IntDistribution)
    assert by_index[1].state == optuna.trial.TrialState.FAIL
    assert by_index[1].user_attrs["reason"] == "RuntimeError: out of memory"
    assert by_index[2].user_attrs["energy_mj"] == 3.0
    assert Architecture.from_json(by_index[2].user_attrs["architecture"]) == a2


def test_failed_metrics_and_non_finite_objectives_become_failed_trials(store):
    r = store.record(0, arch(), None, metrics(0.0, 0.0, failed="non-finite loss at epoch 1 batch 2"))
    assert r.failed and r.reason == "non-finite loss at epoch 1 batch 2"
    r = store.record(1, arch(), None, metrics(math.nan, 1.0))
    assert r.failed and "accuracy" in r.reason
    r = store.record(2, arch(), None, {"accuracy": 0.5})
    assert r.failed and "energy_mj" in r.reason and "missing" in r.reason
    assert [x.state for x in store.records()] == [FAILED] * 3


def test_an_index_is_recorded_once(store):
    store.record(0, arch(), None, metrics(0.5, 1.0))
    with pytest.raises(RunError, match="already recorded"):
        store.record(0, arch(), None, metrics(0.5, 1.0))


def test_reopen_reads_everything_back(tmp_path, store):
    store.record(0, arch(), [1], metrics(0.5, 1.0))
    store.close()
    with RunStore.open(store.path) as again:
        assert [r.key() for r in again.records()] == [r.key() for r in store.records()]
        again.record(1, arch(16), [2], metrics(0.6, 2.0))
        assert again.done_indices() == {0, 1}


def test_create_refuses_existing_runs_and_non_empty_dirs(tmp_path, store, space_file):
    with pytest.raises(RunError, match="--resume"):
        RunStore.create(store.path, space_file, {})
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not empty"):
        RunStore.create(other, space_file, {})
    with pytest.raises(RunError, match="not found"):
        RunStore.create(tmp_path / "new", tmp_path / "missing.yaml", {})
    with pytest.raises(RunError, match="not a snnas run"):
        RunStore.open(other)


def test_read_only_open_sees_a_live_writer(store):
    reader = RunStore.open(store.path, readonly=True)
    assert reader.records() == []
    store.record(0, arch(), None, metrics(0.5, 1.0))
    assert [r.index for r in reader.records()] == [0] and reader.done_indices() == {0}
    with pytest.raises(RunError, match="read-only"):
        reader.record(1, arch(), None, metrics(0.5, 1.0))


def test_update_config_is_persisted(store):
    store.update_config(budget=40, resumes=[{"argv": ["y"]}])
    assert json.loads((store.path / "config.json").read_text())["budget"] == 40


def test_checkpoints_json_and_tensors(store):
    state = {"rng": [1, 2, 3], "generation": 4}
    assert store.save_checkpoint("strategy", state).suffix == ".json"
    assert store.load_checkpoint("strategy") == state
    weights = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}
    assert store.save_checkpoint("supernet", weights).suffix == ".pt"
    back = store.load_checkpoint("supernet")
    assert torch.equal(back["w"], weights["w"]) and torch.equal(back["b"], weights["b"])
    store.save_checkpoint("supernet", {"epoch": 3})  # replacing by JSON drops the stale .pt
    assert store.load_checkpoint("supernet") == {"epoch": 3}
    assert not (store.checkpoint_dir / "supernet.pt").exists()
    assert store.load_checkpoint("absent", default="none") == "none"
    with pytest.raises(RunError, match="checkpoint name"):
        store.save_checkpoint("../escape", state)


@pytest.mark.parametrize("given, expected", [
    (None, [("accuracy", "maximize"), ("energy_mj", "minimize")]),
    (["max accuracy", "min energy_mj"], [("accuracy", "maximize"), ("energy_mj", "minimize")]),
    (["accuracy", "params"], [("accuracy", "maximize"), ("params", "minimize")]),
    ({"accuracy": "max", "macs": "min"}, [("accuracy", "maximize"), ("macs", "minimize")]),
    ([{"metric": "acs", "direction": "minimize"}], [("acs", "minimize")]),
    ([Objective("accuracy", "maximize")], [("accuracy", "maximize")]),
])
def test_objectives_of_reads_the_usual_spellings(given, expected):
    assert [(o.metric, o.direction) for o in objectives_of(given)] == expected


def test_objectives_of_rejects_bad_input():
    with pytest.raises(RunError, match="direction"):
        objectives_of([{"metric": "accuracy", "direction": "up"}])
    with pytest.raises(RunError, match="twice"):
        objectives_of(["accuracy", "max accuracy"])


def test_constraints_mark_candidates_infeasible_and_reach_optuna(tmp_path, space_file):
    class Space:  # what snnas.space.SearchSpace exposes
        objectives = [("accuracy", "max"), ("energy_mj", "min")]
        constraints = [("energy_mj", "<=", 2.0), ("accuracy", ">=", 0.5)]

    with RunStore.create(tmp_path / "c", space_file, {}, objectives=Space()) as store:
        assert [str(c) for c in store.constraints] == ["energy_mj <= 2", "accuracy >= 0.5"]
        ok = store.record(0, arch(), None, metrics(0.9, 1.5))
        hot = store.record(1, arch(16), None, metrics(0.9, 3.0))
        poor = store.record(2, arch(32), None, metrics(0.4, 1.0))
        assert ok.feasible and not hot.feasible and not poor.feasible
        assert hot.violations == (1.0, -0.4) and poor.violations[1] == pytest.approx(0.1)
        back = store.records()
        assert [r.feasible for r in back] == [True, False, False] and back[1].violations == (1.0, -0.4)
        trials = {t.user_attrs["index"]: t for t in store.study.trials}
        if hasattr(trials[1], "constraints"):  # optuna's own feasibility view (<= 0 feasible)
            assert trials[1].constraints == {"energy_mj <= 2": 1.0, "accuracy >= 0.5": -0.4}
        assert trials[1].user_attrs["feasible"] is False
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert cfg["constraints"][0] == {"metric": "energy_mj", "op": "<=", "bound": 2.0}


@pytest.mark.filterwarnings("ignore:PedAnovaImportanceEvaluator")
def test_params_are_named_by_decision_so_dashboards_and_importance_work(tmp_path):
    import numpy as np

    from snnas.search import gene_specs, genome_of
    from snnas.space import load_space

    space = load_space("digits")
    genes = gene_specs(space)
    assert [n for n, _ in genes][:3] == ["time_steps", "node0.op0", "node0.op1"]
    rng = np.random.default_rng(0)
    with RunStore.create(tmp_path / "run", space.path, {"seed": 0}) as st:
        for i in range(12):
            a = space.sample(rng)
            st.record(i, a, genome_of(space, a), metrics(0.5 + 0.01 * a.time_steps + 0.001 * i, 1.0 + i),
                      genes=genes)
        study = optuna.load_study(study_name="snnas", storage=st.storage_url)
    t = study.trials[0]
    a = Architecture.from_json(t.user_attrs["architecture"])
    assert t.params["time_steps"] == a.time_steps
    assert t.params["node0.op0"] == a.cell[0][0][1]  # the op name itself, not a gene index
    dist = t.distributions["node0.op0"]
    assert isinstance(dist, optuna.distributions.CategoricalDistribution)
    assert set(dist.choices) == {"skip", "conv_3x3", "max_pool_3x3", "zero"}
    imp = optuna.importance.get_param_importances(study, target=lambda tr: -tr.values[0])
    assert "time_steps" in imp and set(imp) <= {n for n, _ in genes}
