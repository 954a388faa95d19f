"""Every registered op, parametrised from the registry: a new op is tested the moment it exists.

Each op kind has one constructor signature, so one factory per kind builds any op of that kind.
"""

from __future__ import annotations

import pytest
import torch

from snnas.evaluate import count_energy
from snnas.nn import OPS, SpikeMask, ops_of_kind, upsample2x
from snnas.spiking import BaseNeuron, NonSpiking

T, B, C, HW, D, N = 2, 2, 4, 8, 16, 5


def _cell(name, neuron, stride=2, c_out=6):
    out = (T, B, c_out, HW // stride, HW // stride)
    return OPS.get(name)(C, c_out, stride, neuron), (T, B, C, HW, HW), out


FACTORIES = {
    "cell": _cell,
    "attention": lambda name, neuron: (OPS.get(name)(D, 2, neuron), (T, B, N, D), (T, B, N, D)),
    "mlp": lambda name, neuron: (OPS.get(name)(D, 2.0, neuron), (T, B, N, D), (T, B, N, D)),
    "stem": lambda name, neuron: (OPS.get(name)(3, D, neuron, patch_size=2, stages=2),
                                  (T, B, 3, HW, HW), (T, B, (HW // 2) ** 2, D)),
    "block": lambda name, neuron: (OPS.get(name)(D, 2, 2.0, neuron), (T, B, N, D), (T, B, N, D)),
}
ALL_OPS = OPS.names()


def make(name, neuron=None):
    kind = OPS.meta(name)["kind"]
    assert kind in FACTORIES, f"op '{name}' has kind '{kind}' with no test factory: add one"
    return FACTORIES[kind](name, neuron)


@pytest.mark.parametrize("name", ALL_OPS)
def test_meta_documents_kind_and_energy(name):
    meta = OPS.meta(name)
    assert meta["kind"] in FACTORIES
    assert isinstance(meta["energy"], str) and meta["energy"]


@pytest.mark.parametrize("name", ALL_OPS)
def test_shape_and_finite_grads(name):
    torch.manual_seed(0)
    op, in_shape, out_shape = make(name)
    x = torch.rand(in_shape, requires_grad=True)
    y = op(x)
    assert tuple(y.shape) == out_shape
    assert torch.isfinite(y).all()
    params = list(op.parameters())
    if not y.requires_grad:  # zero: independent of its input, nothing to learn
        assert not params
        return
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all()
    if params:
        assert any(p.grad.abs().sum() > 0 for p in params)


@pytest.mark.parametrize("name", ops_of_kind("cell"))
@pytest.mark.parametrize("stride,c_out", [(1, C), (1, 6), (2, C)])
def test_cell_op_geometry(name, stride, c_out):
    op, in_shape, out_shape = _cell(name, None, stride, c_out)
    assert tuple(op(torch.rand(in_shape)).shape) == out_shape


@pytest.mark.parametrize("name", ops_of_kind("cell"))
def test_cell_op_odd_size_stride2(name):
    op = OPS.get(name)(C, 6, 2, None)
    assert tuple(op(torch.rand(T, B, C, 7, 5)).shape) == (T, B, 6, 4, 3)


@pytest.mark.parametrize("name", ALL_OPS)
def test_energy_counted_and_spike_input_is_ac(name):
    torch.manual_seed(0)
    op, in_shape, _ = make(name)
    computes = any(True for _ in op.parameters())
    real = count_energy(op, torch.rand(in_shape))
    spikes = count_energy(op, (torch.rand(in_shape) > 0.6).float(), input_is_spike=True)
    if not computes:
        assert real.macs == real.acs == spikes.macs == spikes.acs == 0
        return
    if OPS.meta(name).get("neuron_first"):  # its own neuron turns any input into spikes: never a MAC
        strong = count_energy(op, 4 * torch.rand(in_shape))  # fires within T = 2
        assert real.macs == spikes.macs == strong.macs == 0 and strong.acs > 0
        return
    assert real.macs > 0                   # the first layer multiplies real values
    assert spikes.acs > 0
    # blocks add spikes (SEW residual): the MLP sees spike counts, which are events too
    assert spikes.macs == 0, f"{name}: some layer is not fed by spikes: {spikes.rows}"


@pytest.mark.parametrize("kind", ["if", "lif", "plif", "psn", "ann"])
@pytest.mark.parametrize("name", ["conv_3x3", "ssa", "sdsa", "qk_token", "qk_channel", "mlp"])
def test_every_neuron_kind_is_used(kind, name):
    cfg = {"kind": kind, "T": T} if kind == "psn" else {"kind": kind}
    op, in_shape, out_shape = make(name, cfg)
    neurons = [m for m in op.modules() if isinstance(m, BaseNeuron)]
    assert neurons and all(type(m) is type(neurons[0]) for m in neurons)
    assert (kind == "ann") == isinstance(neurons[0], NonSpiking)
    assert tuple(op(torch.rand(in_shape)).shape) == out_shape


def test_ann_layer_consumers_count_macs():
    conv1, conv2 = OPS.get("conv_3x3")(C, C, 1, {"kind": "ann"}), OPS.get("conv_3x3")(C, C, 1, None)
    net = torch.nn.Sequential(conv1, conv2)
    rep = count_energy(net, (torch.rand(T, B, C, HW, HW) > 0.5).float(), input_is_spike=True)
    kinds = {row.module: row.kind for row in rep.rows}
    assert kinds["0.conv"] == "AC" and kinds["1.conv"] == "MAC"


def test_attention_threshold_is_halved():
    op = OPS.get("ssa")(D, 2, {"kind": "lif", "v_threshold": 0.8})
    assert op.attn_neuron.v_threshold == pytest.approx(0.4)
    assert op.proj.neuron.v_threshold == pytest.approx(0.8)


def test_neuron_config_not_mutated():
    cfg = {"kind": "lif", "v_threshold": 1.0}
    OPS.get("sdsa")(D, 2, cfg)
    assert cfg == {"kind": "lif", "v_threshold": 1.0}


class _UpThenConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.mask = torch.nn.Conv2d(C, C, 1), SpikeMask()

    def forward(self, x):
        up = upsample2x(x)
        return self.conv(self.mask(up, up).flatten(0, 1)), self.conv(up.flatten(0, 1))


def test_upsample_and_mask_keep_spikes_marked():
    x = (torch.rand(T, B, C, 3, 3) > 0.5).float()
    up = upsample2x(x)
    assert torch.equal(up, torch.nn.functional.interpolate(x.flatten(0, 1), scale_factor=2).view_as(up))
    rep = count_energy(_UpThenConv(), x, input_is_spike=True)
    assert rep.macs == 0 and rep.acs > 0


class _LeafNeurons(torch.fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, BaseNeuron) or super().is_leaf_module(m, qualname)


@pytest.mark.parametrize("name", ALL_OPS)
def test_fx_traceable_for_export(name):
    """The exporter traces networks with torch.fx (neurons as leaves): no shape-dependent Python."""
    torch.manual_seed(0)
    op, in_shape, _ = make(name)
    op.eval()
    traced = torch.fx.GraphModule(op, _LeafNeurons().trace(op))
    x = 4 * torch.rand(in_shape)
    assert torch.equal(traced(x), op(x))
