"""build_network / build_from_architecture for both families, from hand-made Architectures."""

from __future__ import annotations

import random
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from snnas.errors import SpaceError, UnknownNameError
from snnas.evaluate import count_energy
from snnas.nn import (
    ATTENTION_ALIASES,
    Cell,
    baseline_cnn,
    build_from_architecture,
    build_network,
    ops_of_kind,
)
from snnas.space._architecture import Architecture, NeuronSpec
from snnas.spiking import LIFNode, NonSpiking, PLIFNode

T, B = 2, 2
SHAPE = (1, 8, 8)


def random_cell(rng: random.Random, nodes: int = 3) -> tuple:
    ops = ops_of_kind("cell")
    return tuple(tuple((rng.randrange(2 + j), rng.choice(ops)) for _ in range(2)) for j in range(nodes))


def cell_arch(trellis, cell=None, neurons=None, seed=0, stem_channels=4):
    cell = cell or random_cell(random.Random(seed))
    neurons = neurons or tuple(NeuronSpec() for _ in trellis)
    return Architecture(family="cell", time_steps=T, neurons=tuple(neurons), cell=cell,
                        trellis=tuple(trellis), stem_channels=stem_channels)


def tf_arch(attention="ssa", depth=2, heads=(1, 2), ratios=(1.0, 2.0), neurons=None, embed_dim=8):
    neurons = neurons or tuple(NeuronSpec() for _ in range(depth))
    return Architecture(family="transformer", time_steps=T, neurons=tuple(neurons), embed_dim=embed_dim,
                        depth=depth, heads=tuple(heads), mlp_ratio=tuple(ratios), attention=attention)


def run(model, shape=SHAPE, classes=10):
    x = torch.rand(T, B, *shape)
    y = model(x)
    assert tuple(y.shape) == (B, classes)
    y.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    return y


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("trellis", [(0, 0), (0, 1, 2, 1, 0), (0, 2, 0), (1, 1, 3), (0, 1, 2, 3, 2)])
def test_cell_networks_build_and_train(seed, trellis):
    torch.manual_seed(seed)
    model = build_from_architecture(cell_arch(trellis, seed=seed), SHAPE, 10)
    run(model)


def test_cell_layers_follow_trellis_and_widths():
    model = build_from_architecture(cell_arch((0, 1, 2, 1)), (3, 8, 8), 5, multiplier=2)
    cells = [m for m in model.modules() if isinstance(m, Cell)]
    assert [c.level for c in cells] == [0, 1, 2, 1]
    assert [c.channels for c in cells] == [4, 8, 16, 8]
    assert model.head.in_features == 2 * 8
    run(model, (3, 8, 8), 5)


def test_dead_nodes_inputs_and_layers_are_not_built():
    # node 0 feeds nothing that reaches the output (multiplier 1), so input 0 is unused too
    cell = (((0, "conv_3x3"),), ((1, "conv_3x3"), (1, "zero")))
    model = build_from_architecture(cell_arch((0, 1, 1), cell=cell), SHAPE, 10, multiplier=1)
    c = model.cells[0]
    assert c.reads == (False, True) and c.pre0 is None and len(c.ops[0]) == 0
    run(model)
    # a cell that reads only its older input leaves every other layer unread
    model = build_from_architecture(cell_arch((0, 0, 1, 1), cell=(((0, "conv_3x3"),),)), SHAPE, 10)
    assert model.live == (False, True, False, True)
    assert [isinstance(c, Cell) for c in model.cells] == [False, True, False, True]
    run(model)


def test_all_zero_cell_still_runs():
    cell = (((0, "zero"), (1, "zero")),)
    model = build_from_architecture(cell_arch((0, 1), cell=cell), SHAPE, 10)
    assert torch.equal(model(torch.rand(T, B, *SHAPE)), model.head.bias.expand(B, 10))


def test_odd_input_size_up_and_down():
    torch.manual_seed(0)
    run(build_from_architecture(cell_arch((0, 2, 1, 0)), (2, 7, 7), 3), (2, 7, 7), 3)


def test_hybrid_ann_layer():
    neurons = (NeuronSpec(), NeuronSpec(kind="ann"), NeuronSpec(kind="lif", learn_tau=True, tau=3.0))
    model = build_from_architecture(cell_arch((0, 1, 1), neurons=neurons), SHAPE, 10)
    kinds = [{type(m) for m in c.modules() if isinstance(m, (LIFNode, PLIFNode, NonSpiking))}
             for c in model.cells]
    assert kinds[0] <= {LIFNode} and kinds[1] == {NonSpiking} and kinds[2] <= {PLIFNode}
    run(model)
    rep = count_energy(model, 8 * torch.rand(T, B, *SHAPE))
    kinds = {row.module: row.kind for row in rep.rows}
    assert kinds["stem.conv"] == "MAC"                      # real-valued input frames
    assert kinds["cells.0.pre1.layers.0.conv"] == "AC"      # fed by the spiking stem
    assert kinds["cells.2.pre1.layers.0.conv"] == "MAC"     # fed by the ANN layer 1
    assert rep.macs > 0 and rep.acs > 0


def test_psn_neurons_use_architecture_time_steps():
    neurons = (NeuronSpec(kind="psn", tau=None, surrogate="atan"),) * 2
    run(build_from_architecture(cell_arch((0, 1), neurons=neurons), SHAPE, 10))


@pytest.mark.parametrize("attention", ops_of_kind("attention") + list(ATTENTION_ALIASES))
def test_transformer_networks(attention):
    torch.manual_seed(0)
    model = build_from_architecture(tf_arch(attention), SHAPE, 10, patch_size=2, stem_stages=2)
    assert len(model.blocks) == 2
    run(model)


def test_transformer_cml_stem_and_per_block_neurons():
    neurons = (NeuronSpec(kind="if", tau=None), NeuronSpec(kind="ann"))
    model = build_from_architecture(tf_arch("sdsa", neurons=neurons), SHAPE, 4, patch_size=4,
                                    stem_stages=3, stem="cml")
    assert not any(isinstance(m, NonSpiking) for m in model.blocks[0].modules())
    assert any(isinstance(m, NonSpiking) for m in model.blocks[1].modules())
    run(model, classes=4)


def test_build_network_reads_space_and_records_build_args():
    space = SimpleNamespace(input_shape=(1, 8, 8), num_classes=10, fixed={"nodes": 3, "multiplier": 2})
    arch = cell_arch((0, 1))
    torch.manual_seed(0)
    model = build_network(space, arch)
    assert model.architecture is arch
    assert model.build_args["multiplier"] == 2 and model.build_args["input_shape"] == [1, 8, 8]
    torch.manual_seed(0)
    again = build_from_architecture(model.architecture, **model.build_args)
    x = torch.rand(T, B, *SHAPE)
    model.eval(), again.eval()
    assert torch.equal(model(x), again(x))
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("trellis, area", [((0, 1), 16), ((0, 0), 64), ((1, 2), 4)])
def test_flatten_head_reads_every_position_of_the_last_level(trellis, area):
    arch = cell_arch(trellis, cell=(((0, "conv_3x3"), (1, "skip")), ((2, "conv_3x3"), (0, "skip"))))
    gap = build_from_architecture(arch, SHAPE, 10)
    flat = build_from_architecture(arch, SHAPE, 10, head="flatten")
    assert flat.head.in_features == gap.head.in_features * area
    run(flat)
    # odd sizes and a strided stem: ceil halvings, as the ops give
    small = replace(arch, trellis=(0, 1))
    odd = build_from_architecture(small, (1, 9, 7), 10, head="flatten", stem_stride=2)
    assert odd.head.in_features == build_from_architecture(small, SHAPE, 10).head.in_features * 3 * 2  # 5x4 -> 3x2
    run(odd, shape=(1, 9, 7))
    with pytest.raises(SpaceError, match="head"):
        build_from_architecture(arch, SHAPE, 10, head="max")


def test_build_network_without_fixed():
    space = SimpleNamespace(input_shape=(1, 8, 8), num_classes=10)
    assert build_network(space, tf_arch()).build_args["patch_size"] == 4


@pytest.mark.parametrize("arch,fixed,error", [
    (cell_arch((0, 1), cell=(((0, "conv_9x9"), (1, "skip")),)), {}, UnknownNameError),
    (cell_arch((0, 1), cell=(((0, "ssa"),),)), {}, UnknownNameError),
    (cell_arch((0, 1), cell=(((2, "skip"),),)), {}, SpaceError),
    (cell_arch((0, 4)), {}, SpaceError),
    (cell_arch((0, 1)), {"nodes": 5}, SpaceError),
    (cell_arch((0, 1)), {"node": 3}, SpaceError),
    (cell_arch((0, 1), neurons=(NeuronSpec(),)), {}, SpaceError),
    (tf_arch(heads=(3, 2)), {}, SpaceError),
    (tf_arch(attention="softmax"), {}, UnknownNameError),
    (tf_arch(depth=3), {}, SpaceError),
])
def test_bad_architectures_raise_user_errors(arch, fixed, error):
    with pytest.raises(error):
        build_from_architecture(arch, SHAPE, 10, **fixed)


def test_baseline_cnn_shape_and_args():
    model = baseline_cnn()
    assert tuple(model(torch.rand(T, B, *SHAPE)).shape) == (B, 10)
    assert model.build_args["channels"] == [32, 64] and model.architecture is None


@pytest.mark.slow
def test_baseline_cnn_reaches_98_percent_on_digits():
    from snnas.evaluate import Evaluator, TrainConfig, load_dataset

    torch.manual_seed(0)
    ev = Evaluator(load_dataset("digits", seed=0), TrainConfig(epochs=20, time_steps=4, seed=0, quiet=True))
    assert ev.train_and_evaluate(baseline_cnn(), split="test").accuracy >= 0.98


@pytest.mark.parametrize("arch", [cell_arch((0, 2, 1, 0), seed=5), tf_arch("qk_token")])
def test_networks_fx_traceable(arch):
    from snnas.spiking import BaseNeuron

    class Leaf(torch.fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return isinstance(m, BaseNeuron) or super().is_leaf_module(m, qualname)

    model = build_from_architecture(arch, (1, 7, 7), 10, patch_size=2, stem_stages=2) \
        if arch.family == "transformer" else build_from_architecture(arch, (1, 7, 7), 10)
    model.eval()
    traced = torch.fx.GraphModule(model, Leaf().trace(model))
    x = 4 * torch.rand(T, B, 1, 7, 7)
    assert torch.equal(traced(x), model(x))
