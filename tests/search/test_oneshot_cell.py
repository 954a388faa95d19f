"""Evolution with one-shot scoring on a cell space: the single-path cell supernet trained on digits
(a few batches), candidates scored with inherited weights, resumed like an uninterrupted run."""

import pytest
import torch

from snnas.errors import SpaceError
from snnas.export import export_candidate
from snnas.search import resume, search
from snnas.search._candidate import CANDIDATE_WEIGHTS, candidate_weights_name
from snnas.search._oneshot import ONESHOT_DIR, OneShotSupernet
from snnas.space import load_space
from snnas.supernet import extract_cell_subnet
from snnas.testing import write_space

TINY = """\
description: tiny cell space for one-shot tests
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10, time_steps: [1, 2], encoding: direct}
family: cell
cell: {nodes: 2, edges_per_node: 2, ops: [skip, conv_3x3, max_pool_3x3, zero], layers: 2,
       levels: [1, 1/2], transitions: [-1, 0, 1], stem_channels: 8, stem_stride: 1, head: flatten}
neuron: {kind: [lif, plif], tau: [1.5, 2.0, 4.0], threshold: 1.0, reset: hard, shared: true}
surrogate: {family: sigmoid, width: 4.0}
objectives: {accuracy: max, energy_mj: min}
search: {strategy: evolution, population: 4, supernet_epochs: 2, batch_size: 32, lr: 0.01, final_top_k: 0}
"""
OPTS = {"scoring": "oneshot", "max_batches": 3, "threads": 1}


def _run(tmp_path, name, budget):
    f = write_space(tmp_path / f"{name}.yaml", TINY)
    return search(f, tmp_path / name, strategy="evolution", budget=budget, seed=4, quiet=True, argv=["t"],
                  reports=False, strategy_options=OPTS)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("oneshot_cell"), "serial", 6)


def test_cell_candidates_are_scored_with_their_paths_weights(serial):
    run = serial.run_dir
    assert [r.index for r in serial.records] == list(range(6)) and not any(r.failed for r in serial.records)
    state = torch.load(run / ONESHOT_DIR / "single_path.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert (run / ONESHOT_DIR / "single_path-history.json").exists()
    accs = {r.metrics["accuracy"] for r in serial.records}
    assert len(accs) > 1 and all(0.0 <= a <= 1.0 for a in accs)
    space = load_space(run / "space.yaml")
    r = serial.records[0]
    scored = torch.load(run / CANDIDATE_WEIGHTS / candidate_weights_name(r.index, r.id), weights_only=True)
    inherited = extract_cell_subnet(space, r.arch, state["model"]).state_dict()
    weights = [k for k in scored if "running" not in k and "num_batches" not in k]
    assert weights and all(torch.equal(scored[k], inherited[k]) for k in weights), "the path's weights"
    assert any(not torch.equal(scored[k], inherited[k]) for k in scored if "running_mean" in k), "BN recalibrated"
    paths = export_candidate(run, r.id)
    assert "checkpoints" in str(paths["source"])


def test_a_resumed_cell_run_keeps_its_supernet_and_equals_an_uninterrupted_one(serial, tmp_path):
    part = _run(tmp_path, "part", 3)
    path = part.run_dir / ONESHOT_DIR / "single_path.pt"
    stamp = path.stat().st_mtime_ns
    again = resume(part.run_dir, budget=6, quiet=True, argv=["t"], reports=False)
    assert path.stat().st_mtime_ns == stamp, "the trained supernet is loaded, not trained again"
    assert [x.key() for x in again.records] == [x.key() for x in serial.records]


def test_oneshot_needs_one_stem_width(tmp_path):
    f = write_space(tmp_path / "wide.yaml", TINY.replace("stem_channels: 8", "stem_channels: [8, 16]"))
    space = load_space(f)
    with pytest.raises(SpaceError, match=r"wide\.yaml cell\.stem_channels: .*one stem width.*scoring: proxy") as e:
        OneShotSupernet(space, None, {}, epochs=1, lr=0.01, batch_size=32, seed=0)
    assert "\n" not in str(e.value)
