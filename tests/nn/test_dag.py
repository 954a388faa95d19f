"""Dag cell networks (SpikeNAS-Bench's layout): build, run, train, count energy and export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_dag import TINY_DAG as TINY

from snnas.errors import SpaceError
from snnas.evaluate import count_energy
from snnas.nn import DagCell, DagNetwork, NeuronConv, build_from_architecture, build_network
from snnas.space import Architecture, load_space, load_space_text


@pytest.fixture(scope="module")
def tiny():
    return load_space_text(TINY, file="tiny.yaml")


def test_the_benchmark_network_has_the_benchmarks_parameter_count():
    """SpikeNAS-Bench's entry 10000 (skip on (1,3), threshold-1 conv on (2,3)) records 17,917,668."""
    space = load_space("spikenas_bench_cifar10")
    model = build_network(space, space.decode([0, 0, 0, 0, 1, 3]))
    assert isinstance(model, DagNetwork)
    assert sum(p.numel() for p in model.parameters()) == 17_917_668
    assert model.fc1.in_features == 16384 and model.fc1.out_features == 1024 and model.fc2.out_features == 100


def test_forward_backward_and_structure(tiny):
    torch.manual_seed(0)
    arch = tiny.decode([0, 1, 2, 3, 4, 0])  # (0,1) zero, (0,2) skip, (0,3) t0.5, (1,2) t1, (1,3) t1.5, (2,3) zero
    model = build_network(tiny, arch)
    cell = model.cells[0]
    assert isinstance(cell, DagCell) and cell.sources == ((), (0, 1), (0, 1))  # zero edges are not built
    assert [type(m).__name__ for m in cell.edges[1]] == ["Identity", "NeuronConv"]
    thresholds = [m.neuron.v_threshold for node in cell.edges for m in node if isinstance(m, NeuronConv)]
    assert thresholds == pytest.approx([1.0, 0.5, 1.5])
    assert model.cells[1].channels == 16 and model.downs[1].conv.out_channels == 16
    x = torch.rand(5, 3, 1, 8, 8)
    y = model(x)
    assert y.shape == (3, 10) and torch.isfinite(y).all()
    y.sum().backward()
    assert model.fc2.weight.grad is not None and model.stem[0].weight.grad is not None
    assert model.build_args["nodes"] == 4
    again = build_from_architecture(model.architecture, **model.build_args)
    assert type(again) is DagNetwork


def test_every_shipped_op_on_every_edge_builds_and_runs(tiny):
    torch.manual_seed(1)
    for g in range(5):
        model = build_network(tiny, tiny.decode([g] * 6))
        assert model(torch.rand(5, 2, 1, 8, 8)).shape == (2, 10)


def test_zero_edges_cost_nothing_and_only_the_stem_multiplies(tiny):
    torch.manual_seed(0)
    x = 3 * torch.rand(5, 2, 1, 8, 8)
    all_zero = count_energy(build_network(tiny, tiny.decode([0] * 6)), x)
    assert not any("cells" in r.module for r in all_zero.rows)  # nothing built in the cells
    convs = count_energy(build_network(tiny, tiny.decode([3] * 6)), x)
    cell_rows = [r for r in convs.rows if r.module.startswith("cells.")]
    assert len(cell_rows) == 12 and all(r.kind == "AC" for r in cell_rows)  # fed by the op's own neuron
    assert [r.module for r in convs.rows if r.kind == "MAC"] == ["stem.0", "fc1"]  # fc1 reads pooled spikes


def test_one_epoch_on_digits_learns(tiny):
    from snnas.evaluate import Evaluator, TrainConfig, load_dataset

    torch.manual_seed(0)
    model = build_network(tiny, tiny.decode([2, 1, 3, 2, 1, 3]))
    ev = Evaluator(load_dataset("digits", seed=0), TrainConfig(epochs=1, time_steps=5, batch_size=32, lr=0.02,
                                                               seed=0, quiet=True))
    metrics = ev.train_and_evaluate(model)
    assert metrics.failed is None and metrics.accuracy > 0.3 and metrics.energy_mj > 0


def test_bad_dag_architectures_raise_user_errors(tiny):
    arch = tiny.decode([1] * 6)
    d = arch.to_dict()
    with pytest.raises(SpaceError, match="trellis must be"):
        build_network(tiny, Architecture.from_dict({**d, "trellis": [0, 0]}))
    with pytest.raises(SpaceError, match="expected one edge from each of nodes"):
        build_network(tiny, Architecture.from_dict({**d, "cell": [[[0, "skip"]], [[1, "skip"]], d["cell"][2]]}))
    with pytest.raises(SpaceError, match="do not apply"):
        build_from_architecture(arch, (1, 8, 8), 10, head="flatten")
    with pytest.raises(SpaceError, match="nodes=3"):
        build_from_architecture(arch, (1, 8, 8), 10, nodes=3)


def test_export_is_bit_identical(tiny, tmp_path):
    from snnas.export._export import export_module

    torch.manual_seed(0)
    model = build_network(tiny, tiny.sample(np.random.default_rng(3)))
    paths = export_module(model, tmp_path, example_input=torch.rand(5, 2, 1, 8, 8))
    assert paths["model"].read_text().count("class Network") == 1
