"""The energy rule on networks whose counts can be worked out by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnas.evaluate import (
    HARDWARE,
    EnergyRow,
    count_energy,
    einsum_macs,
    encode,
)
from snnas.spiking import IFNode, make_neuron


class TwoLayer(nn.Module):
    """Linear(4->3) -> IF -> Linear(3->2) with weights that make the spikes known in advance."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3, bias=False)
        self.sn = IFNode(v_threshold=1.0, v_reset=0.0)
        self.fc2 = nn.Linear(3, 2, bias=False)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.eye(3, 4))  # neuron i sees input i
            self.fc2.weight.fill_(0.5)

    def forward(self, x):
        return self.fc2(self.sn(self.fc1(x))).mean(0)


def two_layer_input() -> torch.Tensor:
    # [T=2, B=2, 4]. Sample 0: neuron 0 gets 1.5, 1.5 -> spikes at t0, t1; neuron 1 gets 0.2, 0.9 ->
    # v = 1.1 at t1 -> one spike; neuron 2 gets 0. Sample 1 is all zeros. 3 spikes of 12 outputs.
    x = torch.zeros(2, 2, 4)
    x[0, 0, :2] = torch.tensor([1.5, 0.2])
    x[1, 0, :2] = torch.tensor([1.5, 0.9])
    return x


def test_two_layer_network_exact_counts():
    rep = count_energy(TwoLayer(), two_layer_input())
    # fc1 on real input: T(2) x out(3) x in(4) = 24 MACs per sample.
    # fc2 on spikes: 3 spikes in the batch x fan-out 2 = 6 ACs, / B(2) = 3 ACs per sample.
    assert rep.macs == 24.0
    assert rep.acs == 3.0
    assert rep.energy_mj == pytest.approx((24 * 4.6 + 3 * 0.9) * 1e-9, rel=1e-12)
    assert rep.energy_mj == pytest.approx(1.131e-7, rel=1e-12)
    assert rep.rows == [EnergyRow("fc1", "MAC", 24.0), EnergyRow("fc2", "AC", 12.0, 3.0, 3.0, "sn", 0.25)]
    assert rep.firing_rates == {"sn": 0.25}
    assert rep.mean_firing_rate == 0.25
    assert rep.hardware == "45nm-fp32"


@pytest.mark.parametrize("name", HARDWARE.names())
def test_energy_uses_the_named_profile(name):
    prof = HARDWARE.get(name)
    rep = count_energy(TwoLayer(), two_layer_input(), hardware=name)
    assert rep.energy_mj == pytest.approx((24 * prof.e_mac_pj + 3 * prof.e_ac_pj) * 1e-9, rel=1e-12)


def test_chunking_does_not_change_per_sample_numbers():
    x = two_layer_input().repeat(1, 3, 1)
    whole, parts = count_energy(TwoLayer(), x), count_energy(TwoLayer(), x, chunk_size=2)
    assert (whole.macs, whole.acs, whole.firing_rates) == (parts.macs, parts.acs, parts.firing_rates)
    assert whole.macs == 24.0 and whole.acs == 3.0


class ConvNet(nn.Module):
    def __init__(self, neuron: str = "if"):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.sn1 = make_neuron(neuron, v_threshold=0.2) if neuron != "ann" else make_neuron("ann")
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.sn2 = make_neuron("if", v_threshold=0.2)
        self.fc = nn.Linear(6 * 2 * 2, 3)

    def forward(self, x):  # [T, B, 2, 4, 4]
        T, B = x.shape[:2]
        h = self.sn1(self.conv1(x.flatten(0, 1)).unflatten(0, (T, B)))
        h = self.conv2(h.flatten(0, 1))
        h = nn.functional.max_pool2d(h, 2).view(T, B, 6, 2, 2)
        s = self.sn2(h)
        return self.fc(s.permute(0, 1, 3, 4, 2).transpose(3, 4).reshape(T, B, -1)).mean(0)


def _spikes_of(model: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    seen = []
    h = module.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        model.eval()(x)
    h.remove()
    return seen[0]


def _density(t: torch.Tensor) -> float:
    return float(torch.count_nonzero(t)) / t.numel()


def test_conv_on_real_input_is_mac_and_conv_on_spikes_is_ac():
    torch.manual_seed(0)
    net, x = ConvNet(), torch.rand(3, 2, 2, 4, 4)
    rep = count_energy(net, x)
    rows = {(r.module, r.kind): r.count for r in rep.rows}
    T = 3
    assert rows[("conv1", "MAC")] == T * (4 * 4 * 4) * 2 * 9  # out elements x C_in x kh x kw
    s1, s2 = _spikes_of(net, net.sn1, x), _spikes_of(net, net.sn2, x)
    assert 0 < s1.mean() < 1 and 0 < s2.mean() < 1
    # 3x3 pad 1 on 4x4: position h feeds 2, 3, 3, 2 output rows (edges lose the taps on padding);
    # each event reaches C_out / groups = 3 output channels. Per sample: / B.
    reach = torch.tensor([2.0, 3, 3, 2])
    reach = reach[:, None] * reach[None, :]
    assert rows[("conv2", "AC")] == pytest.approx(3 * float((s1 * reach).sum()) / 2, rel=1e-9)
    # spikes reach fc through permute/transpose/reshape: nnz x fan-out
    assert rows[("fc", "AC")] == pytest.approx(float(s2.sum()) * 3 / 2, rel=1e-9)
    assert set(rows) == {("conv1", "MAC"), ("conv2", "AC"), ("fc", "AC")}
    assert rep.firing_rates == pytest.approx({"sn1": _density(s1), "sn2": _density(s2)})


def test_non_spiking_stand_in_makes_the_next_conv_mac():
    torch.manual_seed(0)
    rep = count_energy(ConvNet(neuron="ann"), torch.rand(3, 2, 2, 4, 4))
    kinds = {r.module: r.kind for r in rep.rows}
    assert kinds == {"conv1": "MAC", "conv2": "MAC", "fc": "AC"}
    assert "sn1" not in rep.firing_rates


def test_poisson_input_makes_the_first_layer_ac():
    torch.manual_seed(0)
    net = ConvNet()
    x_seq = encode(torch.rand(2, 2, 4, 4), 3, "poisson", torch.Generator().manual_seed(0))
    rep = count_energy(net, x_seq, input_is_spike=True)
    rows = {(r.module, r.kind): r.count for r in rep.rows}
    reach = torch.tensor([2.0, 3, 3, 2])
    reach = reach[:, None] * reach[None, :]
    assert rows[("conv1", "AC")] == pytest.approx(4 * float((x_seq * reach).sum()) / 2, rel=1e-9)
    assert rep.macs == 0.0


class Attention(nn.Module):
    """Q/K/V spikes; spike x spike products and a float x spike product."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = (IFNode(v_threshold=0.5) for _ in range(3))

    def forward(self, x):  # [T, B, N, D]
        q, k, v = self.q(x), self.k(x * 0.8), self.v(x * 1.5)
        attn = q @ k.transpose(-2, -1)  # AC, spike x spike
        kv = torch.einsum("tbnd,tbne->tbde", k, v)  # AC via einsum
        out = torch.matmul(attn * 0.125, v)  # float x spike: AC with v's density
        return (out.sum((2, 3)) + kv.sum((2, 3))).mean(0, keepdim=True).T


def test_spike_matmuls_and_einsum_are_ac():
    torch.manual_seed(1)
    x = torch.rand(2, 3, 5, 4)
    net = Attention()
    rep = count_energy(net, x)
    T, B, N, D = x.shape
    dq, dk, dv = (_density(_spikes_of(net, m, x)) for m in (net.q, net.k, net.v))
    assert all(0 < d < 1 for d in (dq, dk, dv)) and dq != dk
    expected = (T * N * N * D * min(dq, dk)  # sparser operand drives the accumulates
                + T * D * D * N * min(dk, dv)
                + T * N * D * N * dv)
    assert rep.macs == 0.0
    assert rep.acs == pytest.approx(expected, rel=1e-9)


def test_float_matmul_is_mac_with_batch_dims():
    class M(nn.Module):
        def forward(self, x):
            return torch.bmm(x, x.transpose(1, 2)).sum() + (x @ x[0].T).sum() + torch.mm(x[0], x[0].T).sum()

    rep = count_energy(M(), torch.rand(3, 2, 5))  # B = 2 (dim 1)
    # bmm: 3 x (2x5)@(5x2) = 3*2*2*5; @ broadcast: 3 x (2x5)@(5x2) again; mm: (2x5)@(5x2)
    assert rep.macs == pytest.approx((60 + 60 + 20) / 2)
    assert rep.acs == 0.0


def test_einsum_macs_formula():
    a, b = torch.rand(2, 3, 4), torch.rand(2, 4, 5)
    assert einsum_macs("bij,bjk->bik", [a, b]) == 2 * 3 * 4 * 5
    assert einsum_macs("...ij,...jk", [a, b]) == 2 * 3 * 4 * 5
    assert einsum_macs("ii->i", [torch.rand(3, 3)]) == 3


def test_counting_leaves_the_model_as_it_was():
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    net.train()
    before = net[1].running_mean.clone()
    count_energy(nn.Sequential(), torch.rand(1, 2, 4))
    count_energy(net[0], torch.rand(2, 3, 4))
    assert net.training and torch.equal(net[1].running_mean, before)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


def test_sums_of_spikes_are_counted_as_events():
    """A cell node (sum of two spike edges) or a residual feeds its consumer spike counts: each
    unit is one event, so the consumer is charged dense * mean(count) ACs and no MACs."""
    from snnas.evaluate import count_energy
    from snnas.spiking import IFNode

    class TwoPaths(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = IFNode(v_threshold=0.5), IFNode(v_threshold=1.5)
            self.fc = torch.nn.Linear(4, 3, bias=False)

        def forward(self, x):
            return self.fc(self.a(x) + self.b(x))

    x = torch.tensor([[[0.0, 1.0, 2.0, 0.7]]])  # T=1, B=1: a fires on [0,1,1,1], b on [0,0,1,0]
    rep = count_energy(TwoPaths(), x)
    assert rep.macs == 0
    assert rep.acs == 3 * (3 + 1)  # 4 events, each sent to 3 outputs


def test_a_zero_edge_keeps_a_cell_node_spiking():
    """A node summing a spiking conv and a `zero` edge still feeds spikes: its consumer counts ACs."""
    from snnas.evaluate import count_energy

    torch.manual_seed(0)
    for edges in ((((0, "conv_3x3"), (1, "zero")),), (((0, "conv_3x3"), (1, "skip")),)):
        rep = count_energy(_cell(edges), torch.rand(2, 2, 8, 6, 6) * 3, input_is_spike=True)
        assert rep.macs == 0, (edges, rep.rows)


def _cell(edges):
    from snnas.nn import OPS

    class Node(torch.nn.Module):
        """One node of a cell: the sum of its edges' ops, then a consumer conv of that sum."""

        def __init__(self):
            super().__init__()
            self.ops = torch.nn.ModuleList(OPS.get(op)(8, 8, 1, None) for _, op in edges[0])
            self.consumer = torch.nn.Conv2d(8, 4, 1)

        def forward(self, x):
            node = self.ops[0](x) + self.ops[1](x)
            return self.consumer(node.flatten(0, 1))

    return Node()
