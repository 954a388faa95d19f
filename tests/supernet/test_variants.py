"""The SpikeDHS supernet over op variants (skip, snn_b3 = ``conv_3x3{width:3}``, snn_b5 =
``conv_3x3{width:5}``): with one-hot weights it computes build_network's outputs, energy and
gradients, and a derived network inherits its variants' own widths.

Variants of different widths on one edge cannot share one neuron: `MixedEdge` keeps one neuron per
distinct neuron config of its candidates (``cell_op_neuron``). Forward outputs do not depend on the
width, so the gradient and width tests are the ones that check it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from snnas.evaluate import count_energy
from snnas.nn import build_network, cell_op, cell_op_neuron
from snnas.nn._layers import split_neuron
from snnas.space import load_space_text
from snnas.supernet import CellSupernet, SupernetEnergy, supernet_spec

SPACE = """\
task: {dataset: digits, input_shape: [1, 8, 8], num_classes: 10, time_steps: 2}
family: cell
cell:
  nodes: 2
  ops:
    - skip
    - conv_3x3: {width: 3}   # snn_b3
    - conv_3x3: {width: 5}   # snn_b5
    - zero
  layers: 3
  levels: [1, 1/2]
  stem_channels: 4
neuron: {kind: lif, tau: 2.0}
surrogate: {family: FAMILY, width: 3}
"""
B3, B5 = "conv_3x3{width:3}", "conv_3x3{width:5}"
ONLY_B3 = (((0, B3), (1, "skip")), ((1, B3), (2, B3)))
WITH_B5 = (((0, B5), (1, "skip")), ((1, B5), (2, B3)))


def _setup(family: str):
    space = load_space_text(SPACE.replace("FAMILY", family), file="variants.yaml")
    spec = supernet_spec(space, time_steps=2)
    assert spec.tau_bounds is None and spec.ops == ("skip", B3, B5, "zero")
    torch.manual_seed(0)
    net = CellSupernet(spec)
    opt = torch.optim.Adam(net.weight_parameters(), lr=0.01)
    x = torch.rand(2, 16, 1, 8, 8) * 2
    for _ in range(2):  # BN statistics and weights away from their initial values
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    return space, spec, net.eval(), x


@pytest.fixture(scope="module")
def dspike():
    return _setup("dspike")


@pytest.fixture(scope="module")
def atan():
    return _setup("atan")


def _derived(space, spec, net, arch):
    arch = replace(arch, time_steps=2, neurons=spec.neurons)
    net.override = net.one_hot(arch)
    model = build_network(space, arch).eval()
    model.load_state_dict(net.subnet_state(arch, model))
    return arch, model


def test_a_variant_ends_in_its_own_neuron_with_its_own_config():
    """What the supernet gets from the registry: ``split_neuron`` of a variant is the variant's own
    neuron (width 5), and its neuron config differs from the layer's and from snn_b3's."""
    layer = {"kind": "lif", "tau": 2.0, "v_threshold": 1.0, "v_reset": 0.0, "surrogate": "dspike", "alpha": 3.0}
    b3, b5 = cell_op(B3)(4, 4, 1, layer), cell_op(B5)(4, 4, 1, layer)
    assert split_neuron(b3).surrogate.alpha == 3.0 and split_neuron(b5).surrogate.alpha == 5.0
    assert cell_op_neuron(B5, layer) == {**layer, "alpha": 5.0} != cell_op_neuron(B3, layer) == layer


def test_one_hot_supernet_computes_build_network_outputs_and_energy(dspike):
    space, spec, net, x = dspike
    energy = SupernetEnergy(net)
    seen = set()
    for seed in range(6):
        arch, model = _derived(space, spec, net, space.sample(np.random.default_rng(seed)))
        seen.update(op for node in arch.cell for _, op in node)
        with torch.no_grad():
            assert torch.equal(net(x), model(x)), arch.summary()
        energy.measure(x)
        want = count_energy(model, x).energy_mj
        assert float(energy.expected()) == pytest.approx(want, rel=1e-5), arch.summary()
    assert {B3, B5} <= seen
    net.override = None


def _stem_grads(space, spec, net, x, cell):
    arch, model = _derived(space, spec, net, replace(space.sample(np.random.default_rng(0)), cell=cell))
    grads = []
    for m in (net, model):
        m.zero_grad()
        m(x).sum().backward()
        grads.append(m.stem.conv.weight.grad.clone())
    net.override = None
    return grads


def test_one_hot_gradients_equal_build_network_without_width_5(atan):
    ours, theirs = _stem_grads(*atan, ONLY_B3)
    assert theirs.abs().sum() > 0
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(theirs.abs().max()))


def test_one_hot_gradients_equal_build_network_with_width_5(atan):
    ours, theirs = _stem_grads(*atan, WITH_B5)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(theirs.abs().max()))


def test_subnet_state_keeps_a_variant_width(dspike):
    """dspike's width is a buffer (b) in the state dict: the derived width-5 op must get width 5."""
    space, spec, net, _ = dspike
    _, model = _derived(space, spec, net, replace(space.sample(np.random.default_rng(0)), cell=WITH_B5))
    net.override = None
    widths = {float(split_neuron(cell.ops[0][0]).surrogate.alpha) for cell in model.cells
              if isinstance(cell.ops, torch.nn.ModuleList) and len(cell.ops[0])}
    assert widths == {5.0}
