"""Exact event counts worked out by hand: padding, stride, dilation, factorized reduce, mixed
concatenations, spike-spike products, neuron internals, and re-pricing the rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnas.evaluate import EnergyRow, count_energy, price_rows
from snnas.nn import OPS
from snnas.nn._layers import FactorizedReduce, SpikeMask
from snnas.spiking import IFNode, make_neuron


class _Conv(nn.Module):
    """A conv on ``[T, B, C, H, W]`` spikes (T and B merged, as every snnas layer does)."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return self.conv(x.flatten(0, 1))


def _ones(c: int = 1, hw: int = 4) -> torch.Tensor:
    return torch.ones(1, 1, c, hw, hw)  # T = 1, B = 1: every position holds one event


@pytest.mark.parametrize(("conv", "reach_1d"), [
    # 3x3 pad 1 on 4x4: rows 0 and 3 feed 2 output rows (their third tap lands on padding), 1 and 2 feed 3
    (nn.Conv2d(1, 2, 3, padding=1, bias=False), [2, 3, 3, 2]),
    # stride 2: output row o reads rows 2o-1, 2o, 2o+1, so row 1 is read twice and the others once
    (nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False), [1, 2, 1, 1]),
    # dilation 2, pad 2: output row o reads rows o-2, o, o+2; every row is read by two outputs
    (nn.Conv2d(1, 2, 3, padding=2, dilation=2, bias=False), [2, 2, 2, 2]),
])
def test_conv_events_count_only_the_outputs_they_reach(conv, reach_1d):
    rep = count_energy(_Conv(conv), _ones(), input_is_spike=True)
    expected = 2 * sum(reach_1d) ** 2  # x C_out = 2
    (row,) = rep.rows
    assert (row.kind, row.events, rep.acs, rep.macs) == ("AC", expected, expected, 0.0)
    assert row.dense == conv(torch.ones(1, 1, 4, 4)).numel() * 9


def test_single_events_at_corner_and_centre():
    conv = _Conv(nn.Conv2d(1, 3, 3, padding=1, bias=False))
    corner, centre = torch.zeros(1, 1, 1, 4, 4), torch.zeros(1, 1, 1, 4, 4)
    corner[..., 0, 0] = 1
    centre[..., 1, 1] = 1
    assert count_energy(conv, corner, input_is_spike=True).acs == 3 * 4
    assert count_energy(conv, centre, input_is_spike=True).acs == 3 * 9


def test_grouped_conv_sends_each_event_to_its_groups_outputs():
    conv = _Conv(nn.Conv2d(4, 6, 1, groups=2, bias=False))
    assert count_energy(conv, _ones(c=4), input_is_spike=True).acs == 16 * 4 * (6 // 2)


def test_factorized_reduce_counts_the_phases_it_reads():
    torch.manual_seed(0)
    x = (torch.rand(2, 3, 4, 5, 5) > 0.5).float()  # odd size: the odd phase is zero-padded
    net = nn.Sequential(IFNode(v_threshold=0.5), FactorizedReduce(4, 6))
    rep = count_energy(net, x)
    rows = {r.module: r for r in rep.rows}
    # conv_a reads the even pixels, conv_b the odd ones; each event reaches 3 output channels
    assert rows["1.conv_a"].events == pytest.approx(3 * float(x[..., ::2, ::2].sum()) / 3)
    assert rows["1.conv_b"].events == pytest.approx(3 * float(x[..., 1::2, 1::2].sum()) / 3)
    assert rep.macs == 0.0


def test_cat_of_spikes_and_real_values_is_priced_per_part():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.sn = IFNode(v_threshold=0.5)
            self.conv = nn.Conv2d(4, 3, 1, bias=False)

        def forward(self, x):  # x: [T, B, 2, H, W]
            s = self.sn(x)
            return self.conv(torch.cat((s, x * 0.5), dim=2).flatten(0, 1))

    torch.manual_seed(0)
    x = torch.rand(2, 2, 2, 3, 3)
    net = Mixed()
    rep = count_energy(net, x)
    rows = {r.kind: r for r in rep.rows}
    dense = 2 * 3 * 9 * 4  # T x C_out x HW x C_in per sample
    assert rows["MAC"].dense == pytest.approx(dense / 2)
    assert rows["AC"].dense == pytest.approx(dense / 2)
    with torch.no_grad():
        spikes = net.sn(x)
    assert rows["AC"].events == pytest.approx(3 * float(spikes.sum()) / 2)


def test_spike_spike_product_gives_both_rules():
    class QK(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k = IFNode(v_threshold=0.5), IFNode(v_threshold=0.5)

        def forward(self, x):  # [T, B, 2, 3]: row 0 drives Q, row 1 drives K
            return self.q(x[:, :, :1]) @ self.k(x[:, :, 1:]).transpose(-2, -1)

    x = torch.tensor([[[[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]]])  # Q spikes 1 1 0, K spikes 1 1 1
    (row,) = count_energy(QK(), x).rows
    assert row.events == 2        # the sparser operand (Q: 2 events) x fan-out 1
    assert row.coincidences == 2  # nonzero products q_k * k_k: k = 0, 1
    assert (row.sources, row.rate) == ("k+q", pytest.approx(5 / 6))


def test_a_neurons_own_state_update_is_free():
    net = nn.Sequential(nn.Linear(4, 4, bias=False), make_neuron("psn", T=3), nn.Linear(4, 2, bias=False))
    rep = count_energy(net, torch.rand(3, 2, 4))
    assert rep.macs == 3 * 4 * 4  # only the first linear; PSN's T x T mixing is not synaptic
    assert {r.module for r in rep.rows} == {"0", "2"}


def test_spike_mask_is_not_a_neuron():
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.mask = IFNode(v_threshold=0.5), IFNode(v_threshold=0.5), SpikeMask()
            self.fc = nn.Linear(4, 2, bias=False)

        def forward(self, x):
            return self.fc(self.mask(self.a(x), self.b(x * 2)))

    torch.manual_seed(0)
    x = torch.rand(2, 3, 4)
    net = Masked()
    rep = count_energy(net, x)
    assert set(rep.firing_rates) == {"a", "b"}
    with torch.no_grad():
        both = net.a(x) * net.b(x * 2)
    assert rep.macs == 0
    assert rep.rows[0].events == pytest.approx(2 * float(both.sum()) / 3)


def test_rows_can_be_priced_again():
    torch.manual_seed(0)
    net = nn.Sequential(OPS.get("conv_3x3")(2, 4, 1, None), OPS.get("conv_3x3")(4, 4, 1, None))
    rep = count_energy(net, torch.rand(2, 3, 2, 6, 6))
    assert price_rows(rep.rows) == pytest.approx((rep.macs, rep.acs, rep.energy_mj))
    # a gate that made layer 0 non-spiking turns its consumer into a MAC layer with the dense count
    macs, acs, _ = price_rows(rep.rows, spiking=lambda r: 0.0)
    assert macs == pytest.approx(sum(r.dense for r in rep.rows)) and acs == 0
    # architecture weights scale rows (differentiably)
    w = torch.tensor(0.25, requires_grad=True)
    _, _, e = price_rows(rep.rows, weight=lambda r: w)
    e.backward()
    assert w.grad == pytest.approx(rep.energy_mj)


def test_row_fields():
    row = EnergyRow("fc", "AC", 10.0, 3.0)
    assert row.count == 3.0 and EnergyRow("fc", "MAC", 10.0).count == 10.0
